# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""upgrade_kmod on OpenVPN Access Server hosts, and the kmod role's module swap beside AS.

The tunnel_info results are CONSTRUCTED in the shape tunnel_info gives an AS host (see
test_rollout_plan_access_server.py, whose builders these reuse); no real Access Server runs here.
The services dicts have the shape ansible.builtin.service_facts gives.
"""

from __future__ import annotations

import pathlib

import pytest
import yaml

from ansible_collections.ovpnfleet.dco.plugins.plugin_utils import _fleet_report as report
from ansible_collections.ovpnfleet.dco.plugins.plugin_utils import _kmod_swap, _rollout
from ansible_collections.ovpnfleet.dco.plugins.plugin_utils import _rollout_plan as plan_of
from ansible_collections.ovpnfleet.dco.tests.unit.plugins.plugin_utils.test_rollout_plan_access_server import (
    AS_31,
    AS_211,
    AS_214,
    as_host,
    plain_server,
)

ROOT = pathlib.Path(__file__).resolve().parents[4]
AS_32 = "3.2.0-c0ffee00-Debian13"


def running(*names, state="running"):
    return {name: {"name": name, "state": state, "status": "enabled", "source": "systemd"} for name in names}


def as_32_on_ovpn_kernel(kinds=("ovpn-dco", "ovpn-dco"), **kwargs):
    """AS 3.2 on Linux 6.16+: its version needs the in-tree ovpn (tunnel_info's flavour says so)."""
    tunnels = as_host(AS_32, key="true", kinds=kinds, **kwargs)
    tunnels["access_server"]["flavour"] = "ovpn"
    tunnels["access_server"]["readiness"]["flavour"] = "ovpn"
    return tunnels


# --- the kmod role's swap ------------------------------------------------------------------------

def test_swap_never_stops_access_servers_unit():
    services = dict(running("openvpnas.service", "openvpn-server@office.service", "ssh.service"),
                    **running("openvpn@old.service", state="stopped"))
    assert _kmod_swap.module_swap(services, access_server=True) == {
        "units": ["openvpn-server@office.service"], "access_server": True}


@pytest.mark.parametrize("services, access_server, expected", [
    # a plain host: every running openvpn* unit, sorted; no sacli
    (running("openvpn-server@b.service", "openvpn-client@a.service", "openvpn.service"), False,
     {"units": ["openvpn-client@a.service", "openvpn-server@b.service", "openvpn.service"], "access_server": False}),
    # AS stopped by its admin: nothing of AS's to stop
    (running("openvpnas.service", state="stopped"), True, {"units": [], "access_server": False}),
    # sacli present but no unit of AS's known (not systemd): AS's daemons are assumed to run
    ({}, True, {"units": [], "access_server": True}),
    # other spellings of AS's unit are AS's too, never the generic swap's
    (running("openvpn-as.service", "openvpn_as.service"), True, {"units": [], "access_server": True}),
])
def test_swap_units(services, access_server, expected):
    assert _kmod_swap.module_swap(services, access_server) == expected


def test_install_stops_units_from_the_swap_decision_and_access_server_only_through_sacli():
    tasks = yaml.safe_load((ROOT / "roles/kmod/tasks/install.yml").read_text())
    block = next(task for task in tasks if "block" in task and "kmod_swap_plan" in (task.get("vars") or {}))
    stops = [task for task in block["block"] if (task.get("ansible.builtin.systemd_service") or {}).get("state") == "stopped"]
    assert [task["loop"] for task in stops] == ["{{ kmod_swap_plan.units }}"]
    sacli = [task["ansible.builtin.command"]["argv"] for task in block["block"] + block["always"]
             if "ansible.builtin.command" in task]
    assert sacli == [["/usr/local/openvpn_as/scripts/sacli", "stop"], ["/usr/local/openvpn_as/scripts/sacli", "start"]]
    assert "openvpnas" not in str([task for task in block["block"] + block["always"] if "ansible.builtin.systemd_service" in task])


# --- what upgrade_kmod does to Access Server ---------------------------------------------------------

@pytest.mark.parametrize("tunnels, restart, link_kind", [
    # AS 3.1 in DCO on ovpn-dco-v2: restarted onto the upgraded module, devices stay ovpn-dco
    (as_host(AS_31, key="true", kinds=("ovpn-dco", "ovpn-dco")), True, "ovpn-dco"),
    # AS 3.2 on a 6.16+ kernel: moves to the in-tree ovpn
    (as_32_on_ovpn_kernel(), True, "ovpn"),
    # AS 3.1 with the key unset (on by default) and a device in userspace: restarted, must end in DCO
    (as_host(AS_31, key=None, kinds=("ovpn-dco", "tun"), configured=True), True, "ovpn-dco"),
    # key off, every device in userspace: AS does not use the module, left running
    (as_host(AS_214), False, None),
    # AS 2.11 cannot do DCO: left alone
    (as_host(AS_211), False, None),
])
def test_access_server_upgrade(tunnels, restart, link_kind):
    part = plan_of.access_server_upgrade(tunnels)
    assert (part["present"], part["restart"], part["link_kind"]) == (True, restart, link_kind), part["line"]


def test_no_access_server_no_upgrade_part():
    assert plan_of.access_server_upgrade({"instances": [plain_server()]}) == {
        "present": False, "restart": False, "link_kind": None, "line": None}


def test_host_with_access_server_and_its_own_openvpn_gets_both_in_one_pass():
    own = dict(plain_server(), dco_active=True, link_kind="ovpn-dco")
    tunnels = as_host(AS_31, key="true", kinds=("ovpn-dco", "ovpn-dco"), own=[own])
    assert plan_of.access_server_upgrade(tunnels)["restart"] is True
    assert plan_of.host_plan(tunnels)["offloaded"] == ["openvpn-server@office.service"]
    services = running("openvpnas.service", "openvpn-server@office.service")
    assert _kmod_swap.module_swap(services, True) == {"units": ["openvpn-server@office.service"], "access_server": True}


# --- its gate ------------------------------------------------------------------------------------------

def test_upgrade_gate_wants_the_new_modules_link_kind():
    before = as_32_on_ovpn_kernel(clients=2)
    stayed = as_32_on_ovpn_kernel(peers=(1, 1))
    assert plan_of.access_server_upgrade_gate_failures(before, stayed, "ovpn") == [
        "as0t0: link kind ovpn-dco, not ovpn (the module this upgrade installed)",
        "as0u0: link kind ovpn-dco, not ovpn (the module this upgrade installed)"]
    moved = as_32_on_ovpn_kernel(kinds=("ovpn", "ovpn"), peers=(1, 1))
    assert plan_of.access_server_upgrade_gate_failures(before, moved, "ovpn") == []


@pytest.mark.parametrize("after, failure", [
    (as_host(AS_31, key="true", kinds=("ovpn-dco", "ovpn-dco"), peers=(1, 0)),
     "Access Server: 1 of 3 clients back (kernel peers on as0t0, as0u0)"),
    (as_host(AS_31, key="true", kinds=("ovpn-dco", "tun"), peers=(3, 0)),
     "as0u0: still in userspace (vpn.server.daemon.ovpndco is 'false')"),
    (as_host(AS_31, key="true", kinds=("ovpn-dco", "ovpn-dco"), ready=False, peers=(3, 0)),
     "Access Server: not every service is on: Access Server is not fully up (api on, openvpn_1 off): run sacli start"),
])
def test_upgrade_gate_fails_where_access_server_did_not_come_back(after, failure):
    before = as_host(AS_31, key="true", kinds=("ovpn-dco", "ovpn-dco"), clients=3, peers=(2, 1))
    assert failure in plan_of.access_server_upgrade_gate_failures(before, after, "ovpn-dco")


# --- the fleet report's AS row carries the rollout's notes -------------------------------------------------

def test_access_server_row_carries_a_rollback_note():
    outcome = {"phase": "servers", "result": "failed", "reason": "as0u0: still in userspace", "units": ["access-server"]}
    notes = _rollout.report_notes(outcome, [])
    table = report.rows({"as1": as_host(AS_214)}, {"as1": notes})
    row = next(row for row in table if row["instance"] == "access-server")
    assert row["why"].startswith("rolled back to userspace by enable_dco: as0u0: still in userspace; ")
    assert "rolled back to userspace by enable_dco: as0u0: still in userspace" in row["problems"]
    assert row["healthy"] is False


def test_access_server_row_carries_a_held_back_note_and_stays_healthy():
    outcome = {"phase": "servers", "result": "held_back", "reason": "2 of 2 hosts of an earlier batch failed"}
    tunnels = as_host(AS_31, key="true", kinds=("ovpn-dco", "ovpn-dco"))
    tunnels["instances"] = [dict(device, healthy=True) for device in tunnels["instances"]]
    table = report.rows({"as1": tunnels}, {"as1": _rollout.report_notes(outcome, [])})
    row = table[0]
    assert row["why"].startswith("held back by enable_dco in the servers phase: 2 of 2 hosts of an earlier batch failed; ")
    assert (row["healthy"], row["problems"]) == (True, [])


def test_access_server_row_that_cannot_do_dco_keeps_its_reason_first():
    notes = [{"unit": None, "why": "not switched: enable_dco stopped on this host", "problem": False}]
    table = report.rows({"as1": as_host(AS_211)}, {"as1": notes})
    assert table[0]["why"].startswith("DCO not possible here: ")
    assert "not switched: enable_dco stopped on this host" in table[0]["why"]
    assert report.threshold_failures(table, True, 0, -1) == []


# --- the playbook hands the role what it reads -----------------------------------------------------------------

def test_upgrade_kmod_registers_the_read_the_upgrade_gate_compares_with():
    plays = yaml.safe_load((ROOT / "playbooks/upgrade_kmod.yml").read_text())
    registered = {task.get("register") for task in plays[0]["tasks"]}
    upgrade = (ROOT / "roles/rollout/tasks/upgrade.yml").read_text()
    assert "rollout_before |" in upgrade
    assert "rollout_before" in registered, "upgrade.yml's gates read rollout_before; the playbook registers %s" % registered
