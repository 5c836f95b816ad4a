# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that turn tunnel_info results of a fleet into the health report."""

from __future__ import annotations

from ansible_collections.ovpnfleet.dco.plugins.module_utils import _fleet_report


class FilterModule:
    def filters(self):
        return {
            "fleet_rows": _fleet_report.rows,
            "fleet_summary": _fleet_report.summary,
            "fleet_threshold_failures": _fleet_report.threshold_failures,
            "fleet_markdown": _fleet_report.markdown,
            "fleet_junit": _fleet_report.junit,
            "fleet_html": _fleet_report.html_page,
        }
