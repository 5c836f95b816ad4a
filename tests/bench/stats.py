# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure numbers: a figure is the median of its runs with min and max; a ratio is taken between
two figures of the same run (same setup, same bench invocation), never across runs."""

from __future__ import annotations

import statistics


def summarize(values):
    """Median, min, max and count of a non-empty list of numbers."""
    values = [float(value) for value in values]
    if not values:
        raise ValueError("summarize: no values (a figure needs at least one run)")
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def ratio(numerator, baseline):
    """Ratio of two figures' medians, with the range of the run-by-run ratios.

    Runs alternate between the two variants, so run i of one pairs with run i of the other;
    the min/max of those pairs say how much the ratio moved within this run.
    """
    top, bottom = summarize(numerator["values"]), summarize(baseline["values"])
    if bottom["median"] == 0:
        raise ValueError("ratio: baseline %r has a zero median" % baseline.get("id"))
    pairs = [a / b for a, b in zip(numerator["values"], baseline["values"]) if b]
    return {"ratio": top["median"] / bottom["median"], "min": min(pairs) if pairs else None,
            "max": max(pairs) if pairs else None, "pairs": len(pairs)}


def slope(points):
    """Least-squares slope and intercept of (x, y) points: the cost per extra host."""
    points = [(float(x), float(y)) for x, y in points]
    if len({point[0] for point in points}) < 2:
        raise ValueError("slope: needs at least two different fleet sizes")
    mean_x = sum(point[0] for point in points) / len(points)
    mean_y = sum(point[1] for point in points) / len(points)
    sxx = sum((point[0] - mean_x) ** 2 for point in points)
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in points)
    per = sxy / sxx
    return {"per_host": per, "intercept": mean_y - per * mean_x}


def per_gigabyte(cpu_seconds, byte_count):
    """CPU seconds spent per 10**9 bytes moved."""
    if byte_count <= 0:
        raise ValueError("per_gigabyte: no bytes moved")
    return cpu_seconds / (byte_count / 1e9)
