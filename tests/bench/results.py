# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""bench/results.json: building it from raw samples and checking its shape (pure).

    {"schema": 1, "generated": ISO, "commit": SHA, "note": ..., "parts": {PART: {
        "started": ISO, "finished": ISO, "setups": {SETUP: description},
        "figures": [{"id", "setup", "metric", "variant", "unit", "better", "values", "median", "min", "max", "n"}],
        "ratios": [{"id", "setup", "metric", "numerator", "baseline", "ratio", "min", "max", "pairs", "goal"?}],
        ...part-specific keys (scale, profile, outage)}},
     "not_measured": [{"part", "reason"}]}

A ratio names two figures of the SAME part and the SAME setup: the validator refuses anything
else, so no ratio can pair numbers from two bench runs or two setups.
"""

from __future__ import annotations

from tests.bench import stats

SCHEMA = 1
NOTE = ("The lab's VMs run under qemu TCG (software CPU emulation) on a 2-core machine: absolute "
        "numbers mean little; the ratios, each taken within one run and one setup, are the result.")
UNITS = {"mbit_s": "Mbit/s", "guest_cpu_s_per_gb": "guest CPU s/GB", "qemu_cpu_s_per_gb": "qemu CPU s/GB",
         "rtt_ms": "ms", "lost_percent": "%", "seconds": "s", "compiles": "hosts"}
HIGHER_IS_BETTER = {"mbit_s"}
# Shown as figures, never as a ratio: a loss share is 0 in most runs, and 0.1 % against 0.2 % is
# no "2x" anyone should quote.
NO_RATIO = {"lost_percent"}


def figure(setup, metric, variant, values, unit=None):
    entry = {"id": "%s|%s|%s" % (setup, metric, variant), "setup": setup, "metric": metric, "variant": variant,
             "unit": unit or UNITS.get(metric.split(":")[0], ""),
             "better": "higher" if metric.split(":")[0] in HIGHER_IS_BETTER else "lower",
             "values": [round(float(v), 4) for v in values]}
    entry.update({k: round(v, 4) for k, v in stats.summarize(values).items() if k != "n"})
    entry["n"] = len(values)
    return entry


def ratio_entry(numerator, baseline, goal=None):
    if numerator["setup"] != baseline["setup"] or numerator["metric"] != baseline["metric"]:
        raise ValueError("ratio %s / %s: different setup or metric" % (numerator["id"], baseline["id"]))
    found = stats.ratio(numerator, baseline)
    entry = {"id": "%s|%s|%s/%s" % (numerator["setup"], numerator["metric"], numerator["variant"], baseline["variant"]),
             "setup": numerator["setup"], "metric": numerator["metric"], "numerator": numerator["id"],
             "baseline": baseline["id"], "ratio": round(found["ratio"], 4),
             "min": None if found["min"] is None else round(found["min"], 4),
             "max": None if found["max"] is None else round(found["max"], 4), "pairs": found["pairs"]}
    if goal is not None:
        entry["goal"] = goal
        entry["goal_met"] = found["ratio"] <= goal
    return entry


def variant_figures(setup, samples):
    """Figures from {(variant, proto, direction): {metric: [values]}} samples (throughput parts)."""
    figures = []
    for (variant, proto, direction), metrics in sorted(samples.items()):
        for metric, values in sorted(metrics.items()):
            if values:
                name = metric if proto == "ping" else "%s:%s-%s" % (metric, proto, direction)
                figures.append(figure(setup, name, variant, values))
    return figures


def pair_ratios(figures, numerator_variant, baseline_variant):
    """Each metric's numerator/baseline ratio where both variants have the figure."""
    by_key = {(f["setup"], f["metric"], f["variant"]): f for f in figures}
    ratios = []
    for (setup, metric, variant), entry in sorted(by_key.items()):
        if metric.split(":")[0] in NO_RATIO:
            continue
        if variant == numerator_variant and (setup, metric, baseline_variant) in by_key:
            ratios.append(ratio_entry(entry, by_key[(setup, metric, baseline_variant)]))
    return ratios


def validate(results):
    """Problems with a results document, as a list of strings (empty: valid)."""
    problems = []
    if results.get("schema") != SCHEMA:
        problems.append("schema: expected %d, found %r" % (SCHEMA, results.get("schema")))
    for key in ("generated", "commit", "note"):
        if not isinstance(results.get(key), str) or not results.get(key):
            problems.append("%s: missing or not a string" % key)
    parts = results.get("parts")
    if not isinstance(parts, dict):
        return problems + ["parts: missing or not an object"]
    for name, part in parts.items():
        setups = part.get("setups") or {}
        figures = {}
        for entry in part.get("figures", []):
            where = "parts.%s figure %s" % (name, entry.get("id"))
            for key in ("id", "setup", "metric", "variant", "unit", "values", "median", "min", "max", "n"):
                if key not in entry:
                    problems.append("%s: no %s" % (where, key))
            values = entry.get("values") or []
            if not values or entry.get("n") != len(values):
                problems.append("%s: n does not match its values" % where)
            elif not min(values) <= entry.get("median", float("nan")) <= max(values):
                problems.append("%s: median outside min..max" % where)
            if entry.get("setup") not in setups:
                problems.append("%s: setup %r not described in the part's setups" % (where, entry.get("setup")))
            figures[entry.get("id")] = entry
        for entry in part.get("ratios", []):
            where = "parts.%s ratio %s" % (name, entry.get("id"))
            top, bottom = figures.get(entry.get("numerator")), figures.get(entry.get("baseline"))
            if top is None or bottom is None:
                problems.append("%s: numerator and baseline must be figures of the same part (the same run)" % where)
            elif top["setup"] != bottom["setup"] or top["setup"] != entry.get("setup"):
                problems.append("%s: numerator and baseline must share one setup" % where)
    for entry in results.get("not_measured", []):
        if not entry.get("part") or not entry.get("reason"):
            problems.append("not_measured: each entry needs part and reason")
    return problems
