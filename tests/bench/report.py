# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""bench/report.md from results.json (pure: a dict in, Markdown out)."""

from __future__ import annotations

TITLES = {"throughput": "DCO against userspace: throughput, CPU per GB, latency",
          "ring": "DCO against userspace through the lab ring (VM to VM)",
          "scale": "Sweeps against `ansible -m ping`, by fleet size",
          "outage": "Outage per tunnel during the switch",
          "reconnect": "A client's outage while its server restarts: untold, told through management, signalled",
          "build": "Build once per kernel group against a compile on every host"}


def _num(value, digits=2):
    if value is None:
        return "-"
    return ("%%.%df" % digits) % value


def _figure_table(figures):
    lines = ["| setup | metric | variant | median | min | max | runs | unit |", "|---|---|---|---:|---:|---:|---:|---|"]
    for entry in figures:
        lines.append("| %s | %s | %s | %s | %s | %s | %d | %s |" % (
            entry["setup"], entry["metric"], entry["variant"], _num(entry["median"]), _num(entry["min"]),
            _num(entry["max"]), entry["n"], entry["unit"]))
    return lines


def _ratio_table(ratios):
    lines = ["| setup | metric | ratio | median ratio | run-by-run min..max | goal |", "|---|---|---|---:|---|---|"]
    for entry in ratios:
        name = entry["id"].rsplit("|", 1)[1]
        goal = "-"
        if "goal" in entry:
            goal = "<= %s: %s" % (_num(entry["goal"], 1), "met" if entry["goal_met"] else "**missed**")
        lines.append("| %s | %s | %s | %s | %s..%s | %s |" % (
            entry["setup"], entry["metric"], name, _num(entry["ratio"]), _num(entry["min"]), _num(entry["max"]), goal))
    return lines


def _scale(scale):
    lines = ["", "Per-host slope (least squares over the fleet sizes; what each extra host adds):", "",
             "| command | sizes (hosts) | seconds per extra host | intercept s |", "|---|---|---:|---:|"]
    for entry in scale.get("slopes", []):
        lines.append("| %s | %s | %s | %s |" % (
            entry["command"], ", ".join(str(x) for x in entry["sizes"]), _num(entry["per_host"], 3), _num(entry["intercept"], 1)))
    return lines


def _profile(profile):
    title = "Per-task profile of the converged `enable_dco` re-run (%s hosts, commit `%s`, run total %s s, sum of the top %d %s s):" % (
        profile["hosts"], profile["commit"][:12], _num(profile["total_seconds"], 1),
        len(profile["top"]), _num(sum(t["seconds"] for t in profile["top"]), 1))
    lines = ["", title,
             "", "| # | seconds | play | task |", "|---:|---:|---|---|"]
    for index, task in enumerate(profile["top"], 1):
        lines.append("| %d | %s | %s | %s |" % (
            index, _num(task["seconds"], 1), task["play"].replace("|", "/"), task["task"].replace("|", "/")))
    return lines


def _outage(outage):
    lines = ["", "| run | host | tunnel | role | outage s | note |", "|---|---|---|---|---:|---|"]
    for entry in outage:
        lines.append("| %s | %s | %s | %s | %s | %s |" % (
            entry.get("run", ""), entry.get("host", ""), entry.get("tunnel", ""),
            entry.get("role", ""), _num(entry.get("seconds"), 1), entry.get("note", "")))
    return lines


def render(results, images=()):
    lines = ["# ovpnfleet.dco bench", "", "Commit `%s`, generated %s by `make bench`." % (results["commit"][:12], results["generated"]),
             "", "**%s**" % results["note"], "",
             "Every figure is the median of its runs with min and max; every ratio is taken between two "
             "figures of the same run and the same setup (runs alternate between the two variants).", ""]
    order = list(TITLES) + sorted(set(results["parts"]) - set(TITLES))
    for name in [n for n in order if n in results["parts"]]:
        part = results["parts"][name]
        lines += ["## " + TITLES.get(name, name), "", "Measured %s to %s." % (part.get("started", "?"), part.get("finished", "?")), ""]
        for setup, description in sorted((part.get("setups") or {}).items()):
            lines.append("- `%s`: %s" % (setup, description))
        if part.get("ratios"):
            lines += [""] + _ratio_table(part["ratios"])
        if part.get("figures"):
            lines += ["", "<details><summary>every figure</summary>", ""] + _figure_table(part["figures"]) + ["", "</details>"]
        if part.get("limits"):
            lines += ["", "Which limit each setup hits:", ""] + ["- `%s`: %s" % item for item in sorted(part["limits"].items())]
        if part.get("scale"):
            lines += _scale(part["scale"])
        if part.get("profile"):
            lines += _profile(part["profile"])
        if part.get("outage"):
            lines += _outage(part["outage"])
        for note in part.get("notes", []):
            lines += ["", note]
        lines.append("")
    if results.get("not_measured"):
        lines += ["## Not measured in this run", ""]
        lines += ["- %s: %s" % (entry["part"], entry["reason"]) for entry in results["not_measured"]]
        lines.append("")
    if images:
        lines += ["## Plots", ""] + ["![%s](%s)" % (image, image) for image in images] + [""]
    return "\n".join(lines)
