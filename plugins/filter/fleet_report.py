# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that turn tunnel_info results of a fleet into the health report."""

from __future__ import annotations

import datetime
import json
import os

import yaml

from ansible_collections.ovpnfleet.dco.plugins.plugin_utils import _fleet_report

# plugins/filter/fleet_report.py -> the collection's top directory.
COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def collection_version(root=COLLECTION_ROOT):
    """The version of the collection these filters belong to, or None.

    An installed collection (ansible-galaxy) has MANIFEST.json and usually no galaxy.yml; a
    checkout (a collections path pointing at the source, as in development and CI) has
    galaxy.yml only. Either is read from beside this file, so the answer is the collection
    that runs, not another copy on the collections path.
    """
    try:
        with open(os.path.join(root, "MANIFEST.json"), encoding="utf-8") as handle:
            version = json.load(handle)["collection_info"]["version"]
        if isinstance(version, str) and version:
            return version
    except (OSError, ValueError, KeyError, TypeError):
        pass
    try:
        with open(os.path.join(root, "galaxy.yml"), encoding="utf-8") as handle:
            version = yaml.safe_load(handle)["version"]
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        return None
    return str(version) if version else None


def report_meta():
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    return {"generated": now.isoformat().replace("+00:00", "Z"), "collection_version": collection_version()}


def fleet_report_files(table):
    """Every report file by name, stamped with one time and the collection's version."""
    return _fleet_report.files(table, report_meta())


def _stamped(function):
    def render(table, meta=None):
        return function(table, meta or report_meta())
    render.__doc__ = function.__doc__
    return render


class FilterModule:
    def filters(self):
        return {
            "fleet_rows": _fleet_report.rows,
            "fleet_summary": _fleet_report.summary,
            "fleet_threshold_failures": _fleet_report.threshold_failures,
            "fleet_host_threshold_failures": _fleet_report.host_threshold_failures,
            "fleet_report_files": fleet_report_files,
            "fleet_markdown": _stamped(_fleet_report.markdown),
            "fleet_junit": _stamped(_fleet_report.junit),
            "fleet_html": _stamped(_fleet_report.html_page),
            "fleet_json": _stamped(_fleet_report.json_document),
        }
