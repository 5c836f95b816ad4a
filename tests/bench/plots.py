# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""bench/*.png from results.json with matplotlib (Agg: no display). Bars are medians, whiskers
min and max of the runs; every plot's title or labels carry its setup."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)

COLOURS = {"dco": "#1b7837", "userspace": "#9e9e9e", "ping": "#9e9e9e", "tunnel_info": "#2166ac",
           "check_health": "#5aae61", "enable_dco_rerun": "#b2182b"}


def _bars(figures, metrics, title, ylabel, path):
    setups = sorted({f["setup"] for f in figures if f["metric"] in metrics})
    groups = [(setup, metric) for setup in setups for metric in metrics
              if any(f["setup"] == setup and f["metric"] == metric for f in figures)]
    if not groups:
        return None
    variants = sorted({f["variant"] for f in figures if f["metric"] in metrics})
    by_key = {(f["setup"], f["metric"], f["variant"]): f for f in figures}
    width = 0.8 / len(variants)
    fig, axis = plt.subplots(figsize=(max(6, 1.8 * len(groups)), 5))
    for index, variant in enumerate(variants):
        xs, medians, lower, upper = [], [], [], []
        for position, key in enumerate(groups):
            entry = by_key.get(key + (variant,))
            if entry:
                xs.append(position + (index - (len(variants) - 1) / 2) * width)
                medians.append(entry["median"])
                lower.append(entry["median"] - entry["min"])
                upper.append(entry["max"] - entry["median"])
        axis.bar(xs, medians, width, yerr=[lower, upper], capsize=3, label=variant, color=COLOURS.get(variant))
    axis.set_xticks(range(len(groups)))
    axis.set_xticklabels(["%s\n%s" % (setup.replace(":", ":\n").replace("<-", " <-\n"), metric.split(":")[-1])
                         for setup, metric in groups], fontsize=7)
    axis.set_ylabel(ylabel)
    axis.set_title(title + "\n(median of runs, whiskers min..max; qemu TCG: compare bars, not absolutes)", fontsize=9)
    axis.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return os.path.basename(path)


def _scale(part, path):
    series = part.get("scale", {}).get("series", {})
    if not series:
        return None
    fig, (cost, ratio) = plt.subplots(1, 2, figsize=(11, 4.5))
    for command, points in sorted(series.items()):
        xs = [p["hosts"] for p in points]
        medians = [p["median"] for p in points]
        cost.errorbar(xs, medians, yerr=[[p["median"] - p["min"] for p in points], [p["max"] - p["median"] for p in points]],
                      marker="o", capsize=3, label=command, color=COLOURS.get(command))
        if command != "ping":
            ratio.plot(xs, [p["ratio_to_ping"] for p in points], marker="o", label=command, color=COLOURS.get(command))
    for goal, label in ((1.5, "goal tunnel_info"), (3.0, "goal enable_dco re-run")):
        ratio.axhline(goal, linestyle="--", linewidth=0.8, color="#555555")
        ratio.annotate(label, (0.01, goal), xycoords=("axes fraction", "data"), fontsize=7, va="bottom")
    cost.set_xlabel("hosts (containers + 2 VMs)")
    cost.set_ylabel("wall seconds")
    cost.set_title("sweep cost vs fleet size (same forks, pipelining)", fontsize=9)
    ratio.set_xlabel("hosts")
    ratio.set_ylabel("x ansible -m ping, same run")
    ratio.set_title("ratio to the ping sweep of the same hosts", fontsize=9)
    cost.legend(fontsize=7)
    ratio.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return os.path.basename(path)


def _profile(profile, path):
    top = profile["top"][::-1]
    fig, axis = plt.subplots(figsize=(10, 0.35 * len(top) + 1.5))
    axis.barh(range(len(top)), [t["seconds"] for t in top], color="#2166ac")
    axis.set_yticks(range(len(top)))
    axis.set_yticklabels([t["task"][:70] for t in top], fontsize=7)
    axis.set_xlabel("wall seconds (fleet waits for the slowest host)")
    axis.set_title("converged enable_dco re-run, %s hosts, commit %s: top %d tasks" % (
        profile["hosts"], profile["commit"][:12], len(top)), fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return os.path.basename(path)


def draw(results, directory):
    """Write the PNGs the results allow; their file names, in order."""
    images = []
    figures = [f for name in ("throughput", "ring") for f in results["parts"].get(name, {}).get("figures", [])]
    specs = [
        ("throughput.png", lambda m: m.startswith("mbit_s:tcp"), "TCP throughput through the tunnel", "Mbit/s"),
        ("throughput_udp.png", lambda m: m.startswith("mbit_s:udp"), "UDP throughput (received), offered load unlimited", "Mbit/s"),
        ("cpu_per_gb.png", lambda m: m.startswith("qemu_cpu_s_per_gb:tcp"), "CPU per GB moved (qemu process, host side)", "CPU s/GB"),
        ("guest_cpu_per_gb.png", lambda m: m.startswith("guest_cpu_s_per_gb:tcp"), "CPU per GB moved (guest /proc/stat)", "CPU s/GB"),
        ("latency.png", lambda m: m == "rtt_ms", "ping through the tunnel (median rtt per run)", "ms"),
    ]
    for name, wanted, title, ylabel in specs:
        metrics = sorted({f["metric"] for f in figures if wanted(f["metric"])})
        if metrics:
            drawn = _bars(figures, metrics, title, ylabel, os.path.join(directory, name))
            if drawn:
                images.append(drawn)
    scale = results["parts"].get("scale")
    if scale:
        drawn = _scale(scale, os.path.join(directory, "scale.png"))
        if drawn:
            images.append(drawn)
        if scale.get("profile"):
            images.append(_profile(scale["profile"], os.path.join(directory, "profile.png")))
    return images
