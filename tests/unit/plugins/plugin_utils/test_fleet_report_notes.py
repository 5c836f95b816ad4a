# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rollout's notes in the fleet report: a failed or held-back host is never reported as a
plain userspace tunnel."""

from __future__ import annotations

from ansible_collections.ovpnfleet.dco.plugins.plugin_utils import _fleet_report


def instance(name, unit):
    return {"name": name, "unit": unit, "mode": "server", "interface": "tun0", "dco_active": False,
            "dco_off_reason": "Note: --fragment disables data channel offload.", "peers": None,
            "management": None, "certificates": {}, "healthy": True, "problems": []}


RESULTS = {"vpn1": {"readiness": {"status": "actionable"},
                    "instances": [instance("a", "openvpn-server@a.service"), instance("b", "openvpn-client@b.service")]},
           "vpn2": {"readiness": {"status": "actionable"}, "instances": [instance("c", "openvpn-server@c.service")]}}


def test_without_notes_rows_are_the_tunnels_as_read():
    table = _fleet_report.rows(RESULTS)
    assert all(row["healthy"] for row in table)
    assert {row["why"] for row in table} == {"Note: --fragment disables data channel offload."}


def test_a_problem_note_on_a_unit_makes_that_row_unhealthy_and_says_why():
    notes = {"vpn1": [{"unit": "openvpn-server@a.service", "why": "rolled back to userspace by enable_dco: gate", "problem": True},
                      {"unit": "openvpn-client@b.service", "why": "held back: its server did not switch", "problem": False}]}
    table = {(row["host"], row["instance"]): row for row in _fleet_report.rows(RESULTS, notes)}
    assert table[("vpn1", "a")]["healthy"] is False
    assert table[("vpn1", "a")]["problems"] == ["rolled back to userspace by enable_dco: gate"]
    assert table[("vpn1", "a")]["why"].startswith("rolled back to userspace by enable_dco: gate; Note: --fragment")
    assert table[("vpn1", "b")]["healthy"] is True
    assert table[("vpn1", "b")]["why"].startswith("held back: its server did not switch")
    assert table[("vpn2", "c")]["why"] == "Note: --fragment disables data channel offload."


def test_a_note_without_unit_applies_to_every_instance_of_the_host():
    notes = {"vpn2": [{"unit": None, "why": "not switched by enable_dco, the module build failed: x", "problem": True}]}
    table = [row for row in _fleet_report.rows(RESULTS, notes) if row["host"] == "vpn2"]
    assert [row["healthy"] for row in table] == [False]
    assert "vpn2" in _fleet_report.summary(_fleet_report.rows(RESULTS, notes))["unhealthy_hosts"]


def test_a_unit_note_wins_over_the_host_wide_one():
    notes = {"vpn1": [{"unit": "openvpn-server@a.service", "why": "rolled back", "problem": True},
                      {"unit": None, "why": "not switched", "problem": True}]}
    table = {row["instance"]: row for row in _fleet_report.rows(RESULTS, notes) if row["host"] == "vpn1"}
    assert table["a"]["problems"] == ["rolled back"]
    assert table["b"]["problems"] == ["not switched"]
