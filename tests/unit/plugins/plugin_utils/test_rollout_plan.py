# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""enable_dco's one plan per host, the fleet views, and what a converged host costs."""

from __future__ import annotations

import json
import os

import pytest
import yaml

from ansible_collections.ovpnfleet.dco.plugins.plugin_utils import _rollout_plan as plan_of

TOP = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..")
FIXTURES = os.path.join(TOP, "tests", "unit", "fixtures")


def recorded(name, status="ready"):
    """tunnel_info's instances recorded on the lab (tests/unit/fixtures/tunnels), as a result."""
    with open(os.path.join(FIXTURES, "tunnels", name + ".json"), encoding="utf-8") as handle:
        instances = json.load(handle)["result"]
    return {"readiness": {"status": status, "reasons": ["no module support"] if status == "unsupported" else []},
            "instances": instances}


def inst(name, mode, dco=False, unit=True, target="10.8.0.1", vpn_ipv4=None, problems=()):
    prefix = "openvpn-server@" if mode == "server" else "openvpn-client@"
    return {"name": name, "mode": mode, "unit": prefix + name + ".service" if unit else None,
            "config": "/etc/openvpn/%s.conf" % name, "state": "active", "dco_active": dco, "vpn_ipv4": vpn_ipv4,
            "peers": None, "management": None, "problems": list(problems),
            "ping": {"target": target, "ok": True} if mode == "client" else None}


def host(*instances, status="ready"):
    return {"readiness": {"status": status, "reasons": ["no module support"] if status == "unsupported" else []},
            "instances": list(instances)}


def checked(plan, **edits_by_name):
    """Looped config check results for the plan's to_check (DCO-ready, with the edits given)."""
    return [{"item": entry, "dco_compatible": True, "edits": edits_by_name.get(entry["name"], [])} for entry in plan["to_check"]]


NO_SKIP = {"skip": False, "why": "", "plan_line": "module: ready ovpn-dco-v2 via inkernel"}


@pytest.mark.parametrize("tunnels, group, lines", [
    # every instance already in DCO (recorded on the Debian 12 VM): nothing checked, nothing asked
    (recorded("debian12-dco"), "dco_converged",
     ["lab: already in DCO, left running", "lab: already in DCO, left running", "no restart"]),
    # a container on a kernel without module support: left alone with the reason
    (recorded("container-userspace", status="unsupported"), "dco_not_possible",
     ["DCO not possible here, left alone: no module support",
      "lab: left alone, not started by systemd: restart it yourself after the rollout", "no restart"]),
    # no OpenVPN at all
    (host(), "dco_converged", ["no restart"]),
])
def test_hosts_with_nothing_to_switch_are_converged_before_any_check(tunnels, group, lines):
    first = plan_of.host_plan(tunnels)
    assert first["to_check"] == []
    assert first["needs_checks"] is False
    final = plan_of.host_plan(tunnels, [], None)
    assert (final["group"], final["converged"], final["units"], final["lines"]) == (group, True, [], lines)


def test_mixed_host_restarts_servers_first_and_splits_the_phases():
    tunnels = host(inst("zclient", "client", target="10.9.0.1"), inst("office", "server", vpn_ipv4="10.8.0.1"),
                   inst("done", "server", dco=True, vpn_ipv4="10.7.0.1"), inst("manual", "client", unit=False))
    first = plan_of.host_plan(tunnels)
    assert [entry["name"] for entry in first["to_check"]] == ["office", "zclient"]
    assert first["needs_checks"] is True, "units may switch: their configs are checked first"
    assert first["units"] == [], "nothing switches before the configs are checked"
    plan = plan_of.host_plan(tunnels, checked(first, zclient=[{"after": "compress migrate", "impact": "compatible"}]), NO_SKIP)
    assert plan["group"] == "dco_switch" and not plan["converged"]
    assert plan["units"] == ["openvpn-server@office.service", "openvpn-client@zclient.service"]
    assert plan["phases"] == {"servers": ["openvpn-server@office.service"], "clients": ["openvpn-client@zclient.service"]}
    assert [entry["config"] for entry in plan["switch"]] == ["/etc/openvpn/office.conf", "/etc/openvpn/zclient.conf"]
    assert plan["probes"] == [{"unit": "openvpn-client@zclient.service", "target": "10.9.0.1"}]
    assert plan["offloaded"] == ["openvpn-server@done.service"]
    assert plan["clients"] == [{"name": "zclient", "unit": "openvpn-client@zclient.service", "target": "10.9.0.1",
                                "peer_notices": True}]
    assert plan["lines"] == [
        "module: ready ovpn-dco-v2 via inkernel",
        "done: already in DCO, left running",
        "office (/etc/openvpn/office.conf): config already DCO-ready; restart to open a DCO device",
        "zclient (/etc/openvpn/zclient.conf): 1 edit(s): compress migrate [compatible]",
        "manual: left alone, not started by systemd: restart it yourself after the rollout",
        "restart, in this order: openvpn-server@office.service, openvpn-client@zclient.service"]


def test_held_back_by_the_module_decision_restarts_nothing():
    tunnels = host(inst("office", "server"))
    first = plan_of.host_plan(tunnels)
    plan = plan_of.host_plan(tunnels, checked(first), {"skip": True, "why": "unsigned module, kernel enforces signatures",
                                                       "plan_line": ""})
    assert plan["held_back"] == "unsigned module, kernel enforces signatures"
    assert plan["outcome"] == {"phase": "plan", "result": "held_back", "reason": plan["held_back"]}
    assert (plan["group"], plan["units"], plan["switch"], plan["probes"], plan["converged"]) == ("dco_not_possible", [], [], [], False)
    assert plan["lines"][0] == "left alone, its tunnels stay in userspace: unsigned module, kernel enforces signatures"
    assert plan["lines"][-1] == "no restart"


def test_config_that_stays_in_userspace_is_not_restarted():
    tunnels = host(inst("office", "server"))
    first = plan_of.host_plan(tunnels)
    blocked = [{"item": first["to_check"][0], "dco_compatible": False,
                "not_edited": [{"option": "fragment", "why": "peers need the same fragment size"}]}]
    plan = plan_of.host_plan(tunnels, blocked, None)
    assert (plan["group"], plan["units"]) == ("dco_converged", [])
    assert "office: stays in userspace, peers need the same fragment size" in plan["lines"]


def test_a_converged_host_with_problems_needs_no_checks():
    assert plan_of.host_plan(host(inst("lab", "client", dco=True, problems=["not running"])))["needs_checks"] is False


def planned(tunnels, **edits):
    first = plan_of.host_plan(tunnels)
    return plan_of.host_plan(tunnels, checked(first, **edits), NO_SKIP)


def test_clients_phase_holds_back_clients_whose_server_did_not_switch():
    server_host = host(inst("ring", "server", vpn_ipv4="10.8.11.1"))
    client_host = host(inst("ring", "client", target="10.8.11.1"), inst("quiet", "client", target="10.8.11.1"))
    fleet = {
        "srv": {"rollout_host_plan": planned(server_host), "rollout_outcome": {"phase": "servers", "result": "failed", "reason": "gate"}},
        "cli": {"rollout_host_plan": planned(client_host, ring=[{"impact": "compatible"}], quiet=[{"impact": "none"}])},
    }
    phase = plan_of.client_phase(["srv", "cli"], fleet)
    assert phase["cli"]["held"] == [{"unit": "openvpn-client@ring.service", "name": "ring", "why":
                                     "held back, keeps a config its server accepts: its server openvpn-server@ring.service"
                                     " did not switch: srv failed in the servers phase: gate"}]
    assert phase["cli"]["units"] == ["openvpn-client@quiet.service"], "no peer notices its edits: it switches"
    fleet["srv"] = {"rollout_host_plan": fleet["srv"]["rollout_host_plan"], "rollout_switched_units": ["openvpn-server@ring.service"]}
    assert plan_of.client_phase(["srv", "cli"], fleet)["cli"] == {
        "held": [], "units": ["openvpn-client@quiet.service", "openvpn-client@ring.service"]}


def test_batch_halt_reads_the_batchs_outcomes():
    fleet = {"a": {"rollout_outcome": {"phase": "clients", "result": "failed"}}, "b": {}}
    assert plan_of.batch_halt_reason(["a", "b"], fleet, "clients", 20).startswith("1 of 2 hosts")
    assert plan_of.batch_halt_reason(["a", "b"], fleet, "servers", 20) == ""


def test_report_reuses_the_preflight_read_of_every_host_the_run_did_not_touch():
    converged, container = recorded("debian12-dco"), recorded("container-userspace", status="unsupported")
    switching = host(inst("office", "server"))
    fleet = {
        "vm": {"rollout_before": converged, "rollout_host_plan": plan_of.host_plan(converged, [], None)},
        "ct": {"rollout_before": container, "rollout_host_plan": plan_of.host_plan(container, [], None)},
        "sw": {"rollout_before": switching, "rollout_host_plan": planned(switching), "rollout_switched_units": ["openvpn-server@office.service"],
               "rollout_outages": [{"unit": "openvpn-server@office.service", "target": "10.8.0.2",
                                    "probes_answered": 3, "longest_outage_s": 1.25}]},
        "gone": {},
    }
    report = plan_of.report(["vm", "ct", "sw", "gone"], fleet)
    assert report["gathered"] == {"vm": converged, "ct": container}, "a host that switched is read again"
    assert report["lines"] == {
        "vm": "switched: nothing to switch", "ct": "left alone: DCO not possible here",
        "sw": "switched: openvpn-server@office.service; down during the switch: openvpn-server@office.service -> 10.8.0.2 1.2 s",
        "gone": "left alone: DCO not possible here"}
    assert report["summary"]["sw"]["result"] == "switched" and report["summary"]["vm"]["result"] == "unchanged"
    assert report["notes"] == {}


def test_outages_from_the_probes_async_results():
    with open(os.path.join(FIXTURES, "rollout", "ping-all-answered.txt"), encoding="utf-8") as handle:
        output = handle.read()
    probe = {"unit": "openvpn-client@lab.service", "target": "10.8.0.1"}
    [outage] = plan_of.outages([{"item": {"item": probe}, "stdout": output}], 0.2)
    assert (outage["unit"], outage["target"], outage["probes_answered"], outage["longest_outage_s"]) == (
        probe["unit"], probe["target"], 6, 0.0)


def _tasks(*path):
    with open(os.path.join(TOP, *path), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def test_a_host_with_nothing_to_check_is_planned_as_the_checks_would_plan_it():
    # plan.yml skips the checks where the first plan's ``requirements`` is false: that must be
    # the plan the checks give (no config to check, kmod not asked).
    for tunnels in (host(inst("lab", "server", dco=True), inst("ring", "client", dco=True, target="10.8.1.1")),
                    host(inst("lab", "client", dco=True, problems=["not running"]))):
        first = plan_of.host_plan(tunnels)
        assert first["needs_checks"] is False
        assert first == plan_of.host_plan(tunnels, [], None)
    # And where an instance could switch, the first plan asks for the checks.
    assert plan_of.host_plan(host(inst("office", "server")))["needs_checks"] is True


def test_a_converged_host_costs_one_module_call():
    # Issue 16: a converged re-run passed every host through every play (kmod decided three
    # times, installed, apt, tunnel_info twice). Now the build and switch plays skip it, and in
    # preflight every task that would call a module past the one read waits on the plan.
    plays = _tasks("playbooks", "enable_dco.yml")
    between = plays[1:-2]
    assert between and all(play["hosts"].endswith(":&dco_switch") for play in between), [p["hosts"] for p in between]
    plan_tasks = _tasks("roles", "rollout", "tasks", "plan.yml")
    # plan.yml: one read, then only controller-side tasks, and the checks behind the first plan.
    on_host = [task for task in plan_tasks if set(task) & {"ovpnfleet.dco.config", "ovpnfleet.dco.kmod",
                                                           "ansible.builtin.include_role", "ansible.builtin.include_tasks"}]
    read, checks = on_host
    assert read["ansible.builtin.include_role"]["tasks_from"] == "gather.yml" and "when" not in read
    assert checks["ansible.builtin.include_tasks"] == "plan_checks.yml"
    assert checks["when"] == "rollout_host_plan.needs_checks"
    first_plan = next(task for task in plan_tasks if "rollout_host_plan" in task.get("ansible.builtin.set_fact", {}))
    assert plan_tasks.index(first_plan) < plan_tasks.index(checks)
    # plan_checks.yml: no second read (nothing is installed any more), the kmod role only where a unit switches.
    check_tasks = _tasks("roles", "rollout", "tasks", "plan_checks.yml")
    assert not [task for task in check_tasks if "gather.yml" in str(task) or "requirements" in str(task)]
    kmod = next(task for task in check_tasks if "ovpnfleet.dco.kmod" in str(task))
    assert "needs_module" in kmod["when"]
    report = _tasks("roles", "rollout", "tasks", "report.yml")
    health = next(task for task in report if "ansible.builtin.include_role" in task)
    assert health["vars"]["health_gathered"] == "{{ rollout_run.gathered }}"
    main = _tasks("roles", "health", "tasks", "main.yml")
    read = next(task for task in main if "gather.yml" in str(task))
    assert read["when"] == "inventory_hostname not in health_gathered"
