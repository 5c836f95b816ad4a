# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet report from tunnel_info results: rows, summary, thresholds, Markdown, JUnit, HTML."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from ansible_collections.ovpnfleet.dco.plugins.plugin_utils import _fleet_report as report


def instance(name, dco, healthy=True, problems=(), peers=None, days=800, why=None, mode="server"):
    return {"name": name, "mode": mode, "interface": "tun0", "dco_active": dco, "dco_off_reason": why,
            "peers": peers, "management": None, "certificates": {"cert": {"days_left": days}, "ca": {"days_left": 3000}},
            "healthy": healthy, "problems": list(problems)}


RESULTS = {
    "vm1": {"readiness": {"status": "ready", "reasons": []},
            "instances": [instance("office", True, peers=[{"vpn_rx_bytes": 100, "vpn_tx_bytes": 40},
                                                          {"vpn_rx_bytes": 5, "vpn_tx_bytes": 1}])]},
    "ct01": {"readiness": {"status": "unsupported", "reasons": ["the kernel cannot load modules"]},
             "instances": [instance("lab", False, why="Note: --fragment disables data channel offload.")]},
    "vm2": {"readiness": {"status": "ready", "reasons": []},
            "instances": [instance("cli", False, healthy=False, problems=["no answer from 10.8.0.1"], days=10,
                                   why="Note: '--allow-compression' is not set to 'no', disabling data channel offload.",
                                   mode="client")]},
    "lost": {"unreachable": True, "msg": "Failed to connect to the host via ssh"},
    "empty": {"readiness": {"status": "ready", "reasons": []}, "instances": []},
}


def test_rows_per_host_and_tunnel():
    table = report.rows(RESULTS)
    assert [(row["host"], row["instance"], row["dco"]) for row in table] == [
        ("ct01", "lab", "off"), ("empty", "-", None), ("lost", "-", None), ("vm1", "office", "on"), ("vm2", "cli", "off")]
    by_host = {row["host"]: row for row in table}
    assert (by_host["vm1"]["peers"], by_host["vm1"]["rx_bytes"], by_host["vm1"]["tx_bytes"]) == (2, 105, 41)
    assert by_host["ct01"]["why"] == "DCO not possible here: the kernel cannot load modules"
    assert by_host["vm2"]["why"].startswith("Note: '--allow-compression'")
    assert by_host["lost"]["healthy"] is False and "ssh" in by_host["lost"]["problems"][0]
    assert by_host["vm2"]["cert_days"] == 10


def test_summary_and_thresholds():
    table = report.rows(RESULTS)
    facts = report.summary(table)
    assert (facts["hosts"], facts["tunnels"], facts["dco_on"], facts["dco_off"]) == (5, 3, 1, 2)
    assert facts["unhealthy_hosts"] == ["lost", "vm2"]
    assert report.threshold_failures(table, False, 5, -1) == []
    failures = report.threshold_failures(table, True, 30, 1)
    assert failures == [
        "DCO is off on 1 tunnel(s) of hosts that can run it: vm2/cli",
        "certificates below 30 days: vm2/cli (10 days)",
        "2 unhealthy host(s), at most 1 allowed: lost, vm2",
    ]


def test_junit_has_one_case_per_host_and_tunnel_and_fails_the_unhealthy():
    root = ET.fromstring(report.junit(report.rows(RESULTS)))
    cases = root.findall(".//testcase")
    assert [case.get("name") for case in cases] == ["ct01/lab", "empty/-", "lost/-", "vm1/office", "vm2/cli"]
    failed = [case.get("name") for case in cases if case.find("failure") is not None]
    assert failed == ["lost/-", "vm2/cli"]
    assert root.get("failures") == "2"


def test_markdown_and_html_hold_every_row():
    table = report.rows(RESULTS)
    text = report.markdown(table)
    assert text.count("\n| ") == len(table) + 1   # header + rows
    assert "| vm2 | cli | client | tun0 | off |" in text
    page = report.html_page(table)
    assert page.count('<tr class="bad">') == 2 and page.count('<tr class="ok">') == 3
    assert "http" not in page.split("<body>")[0]   # no external assets
