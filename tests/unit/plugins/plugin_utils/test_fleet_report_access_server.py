# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Access Server in the fleet report: one row per AS host, from tunnel_info's own result on the
host that runs a plain server and a CONSTRUCTED Access Server (test_tunnels_access_server.py;
no real Access Server can run here)."""

from __future__ import annotations

import json

from ansible_collections.ovpnfleet.dco.plugins.plugin_utils import _fleet_report as report
from ansible_collections.ovpnfleet.dco.tests.unit.plugins.module_utils.tunnels.test_tunnels_access_server import (
    plain_and_access_server,
    run,
)


def test_one_row_per_access_server_host_beside_the_plain_instances(monkeypatch):
    result = run(monkeypatch, plain_and_access_server())
    table = report.rows({"as1": json.loads(json.dumps(result))})
    assert [(row["instance"], row["mode"], row["dco"]) for row in table] == [
        ("access-server", "server", "on"), ("lab", "client", "on"), ("lab", "server", "on")]
    row = table[0]
    assert row["interface"] == "as0t0, as0u0"
    assert row["why"] == ("Access Server 2.14.3-d2b0d4b4-Debian12; vpn.server.daemon.ovpndco true; "
                          "VPNSummary: DCO available (0.2.20231103); as0* in DCO: 2 of 2")
    assert (row["peers"], row["rx_bytes"], row["tx_bytes"], row["healthy"]) == (2, 4200, 8400, True)
    assert report.summary(table)["dco_on"] == 3


def test_access_server_in_userspace_is_off_with_why(monkeypatch):
    result = run(monkeypatch, plain_and_access_server(kind="tun", configquery="configquery-dco-false.json",
                                                      vpnsummary="vpnsummary-dco-not-loaded.json"),
                 dco_required=True)
    table = report.rows({"as1": result})
    row = next(row for row in table if row["instance"] == "access-server")
    assert row["dco"] == "off" and row["healthy"] is False
    assert row["why"] == ("vpn.server.daemon.ovpndco is 'false' in Access Server's configuration; Access Server "
                          "2.14.3-d2b0d4b4-Debian12; vpn.server.daemon.ovpndco false; VPNSummary: DCO unavailable "
                          "(Kernel module not loaded); as0* in DCO: 0 of 2")
    assert [problem.split(":")[0] for problem in row["problems"]] == ["as0t0", "as0u0"]
    assert report.threshold_failures(table, True, 0, -1) == [
        "DCO is off on 1 tunnel(s) of hosts that can run it: as1/access-server"]
    assert "| as1 | access-server | server | as0t0, as0u0 | off |" in report.markdown(table)


def test_access_server_that_cannot_do_dco_is_not_held_against_the_threshold(monkeypatch):
    result = run(monkeypatch, plain_and_access_server(kind="tun", configquery="configquery-no-dco-key.json",
                                                      vpnsummary="vpnsummary-2.11.json",
                                                      version="2.11.3-abcdef01-Debian12"))
    # AS 2.11 cannot do DCO; the host's own OpenVPN still can, and its instances are judged by it.
    assert (result["access_server"]["readiness"]["status"], result["readiness"]["status"]) == (
        "unsupported", "actionable")
    table = report.rows({"as1": result})
    row = next(row for row in table if row["instance"] == "access-server")
    assert row["why"].startswith("DCO not possible here: Access Server 2.11.3-abcdef01-Debian12 cannot do DCO")
    assert [row["instance"] for row in table if row["dco"] == "off"] == ["access-server"]
    assert report.threshold_failures(table, True, 0, -1) == []
