# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""enable_dco's decisions: what to switch, in which order, the health gate, outages, the plan."""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.ovpnfleet.dco.plugins.plugin_utils import _rollout as rollout

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures")


def fixture_text(*parts):
    with open(os.path.join(FIXTURES, *parts), encoding="utf-8") as handle:
        return handle.read()


def recorded_instances(name):
    """tunnel_info's instances recorded on the lab (tests/unit/fixtures/tunnels)."""
    return json.loads(fixture_text("tunnels", name + ".json"))["result"]


def inst(name, mode, unit=True, dco=False, state="active", peers=None, ping_ok=None, clients=None, target="10.8.0.1"):
    prefix = "openvpn-server@" if mode == "server" else "openvpn-client@"
    return {"name": name, "mode": mode, "unit": prefix + name + ".service" if unit else None,
            "config": "/etc/openvpn/%s.conf" % name, "state": state, "dco_active": dco,
            "dco_off_reason": None if dco else "Note: --fragment disables data channel offload.",
            "link_kind": "ovpn-dco" if dco else "tun", "peers": peers,
            "management": {"clients": clients} if clients is not None else None,
            "ping": {"target": target, "ok": ping_ok} if mode == "client" else None}


def host(*instances, status="ready"):
    return {"readiness": {"status": status, "reasons": [] if status != "unsupported" else ["no module support"]},
            "instances": list(instances)}


def test_candidates_servers_first_and_only_units_not_in_dco():
    tunnels = host(inst("zclient", "client"), inst("office", "server"), inst("done", "server", dco=True),
                   inst("manual", "client", unit=False))
    assert [i["name"] for i in rollout.switch_candidates(tunnels)] == ["office", "zclient"]
    assert rollout.unmanaged_instances(tunnels) == [
        {"name": "manual", "why": "not started by systemd: restart it yourself after the rollout"}]


def test_access_server_daemons_are_left_to_access_server():
    # tunnel_info reports AS's as0* devices without unit or config; restarting "by hand" is the
    # wrong advice there: AS regenerates their configs, its own switch is the way.
    daemon = dict(inst("as0t0", "server", unit=False), config=None, manager="access_server")
    tunnels = host(daemon, inst("office", "server"))
    assert [i["name"] for i in rollout.switch_candidates(tunnels)] == ["office"]
    assert rollout.unmanaged_instances(tunnels) == [
        {"name": "as0t0", "why": "an Access Server daemon: switch DCO with ovpnfleet.dco.access_server"}]


def test_offloaded_units_servers_first_and_only_units_with_configs():
    tunnels = host(inst("zclient", "client", dco=True), inst("office", "server", dco=True),
                   inst("legacy", "server"), inst("manual", "client", unit=False, dco=True))
    assert rollout.offloaded_units(tunnels) == ["openvpn-server@office.service", "openvpn-client@zclient.service"]
    assert rollout.offloaded_units(host(inst("legacy", "server"))) == []


def test_no_candidates_where_dco_is_not_possible():
    tunnels = host(inst("lab", "client"), status="unsupported")
    assert rollout.switch_candidates(tunnels) == []
    assert rollout.dco_possible(tunnels) == (False, "no module support")


def test_recorded_hosts_container_left_alone_dco_vm_nothing_to_switch():
    container = recorded_instances("container-userspace")
    assert [i for i in container if not i["dco_active"]], "the fixture should hold userspace tunnels"
    assert rollout.switch_candidates({"readiness": {"status": "unsupported", "reasons": ["x"]}, "instances": container}) == []
    # The lab's containers run openvpn without systemd: even where DCO were possible, hands off.
    assert rollout.switch_candidates({"readiness": {"status": "ready"}, "instances": container}) == []
    assert rollout.unmanaged_instances({"instances": container}) == [
        {"name": "lab", "why": "not started by systemd: restart it yourself after the rollout"}]
    vm = recorded_instances("debian12-dco")
    assert vm and all(i["dco_active"] for i in vm), "the fixture should hold DCO tunnels only"
    assert rollout.switch_candidates({"readiness": {"status": "ready"}, "instances": vm}) == []


def test_switch_order_leaves_out_configs_that_stay_in_userspace():
    office, branch = inst("office", "server"), inst("branch", "server")
    checks = [{"item": office, "dco_compatible": True, "edits": [{"after": "compress migrate", "impact": "compatible"}]},
              {"item": branch, "dco_compatible": False, "not_edited": [{"option": "fragment", "why": "peers need the same fragment size"}]}]
    assert rollout.switch_order([office, branch], checks) == ["openvpn-server@office.service"]
    assert rollout.stays_in_userspace(checks[1]) == "peers need the same fragment size"
    assert rollout.stays_in_userspace({"failed": True, "msg": "include loop"}) == "include loop"


def test_gate_passes_when_all_switched_are_in_dco_with_peers_back_and_clients_answering():
    before = host(inst("office", "server", clients=[{"vpn_ipv4": "10.8.0.2"}, {"vpn_ipv4": "10.8.0.3"}]),
                  inst("up", "client", ping_ok=True))
    after = host(inst("office", "server", dco=True, peers=[{"id": 0}, {"id": 1}]),
                 inst("up", "client", dco=True, ping_ok=True))
    units = ["openvpn-server@office.service", "openvpn-client@up.service"]
    assert rollout.gate_failures(before, after, units) == []


@pytest.mark.parametrize("after_office, after_up, expected", [
    (inst("office", "server", dco=True, peers=[{"id": 0}]), inst("up", "client", dco=True, ping_ok=True),
     ["openvpn-server@office.service: 1 of 2 peers back"]),
    (inst("office", "server", dco=True, peers=[{"id": 0}, {"id": 1}]), inst("up", "client", dco=False, ping_ok=True),
     ["openvpn-client@up.service: still in userspace (Note: --fragment disables data channel offload.)"]),
    (inst("office", "server", dco=True, peers=[{"id": 0}, {"id": 1}]), inst("up", "client", dco=True, ping_ok=False),
     ["openvpn-client@up.service: no answer from the server's tunnel address 10.8.0.1"]),
    (inst("office", "server", state="failed"), None,
     ["openvpn-server@office.service: failed after the restart", "openvpn-client@up.service: no longer found after the restart"]),
])
def test_gate_failures_name_the_unit_and_what_is_wrong(after_office, after_up, expected):
    before = host(inst("office", "server", clients=[{"vpn_ipv4": "10.8.0.2"}, {"vpn_ipv4": "10.8.0.3"}]),
                  inst("up", "client", ping_ok=True))
    after = host(*[i for i in (after_office, after_up) if i])
    units = ["openvpn-server@office.service", "openvpn-client@up.service"]
    assert rollout.gate_failures(before, after, units) == expected


def test_after_a_rollback_userspace_is_fine_but_the_tunnel_must_work():
    before = host(inst("up", "client", ping_ok=True))
    units = ["openvpn-client@up.service"]
    assert rollout.gate_failures(before, host(inst("up", "client", ping_ok=True)), units, False) == []
    assert rollout.gate_failures(before, host(inst("up", "client", ping_ok=False)), units, False) == [
        "openvpn-client@up.service: no answer from the server's tunnel address 10.8.0.1"]


def test_server_with_unknown_peer_count_before_is_not_held_back():
    before = host(inst("office", "server"))
    after = host(inst("office", "server", dco=True, peers=[]))
    assert rollout.gate_failures(before, after, ["openvpn-server@office.service"]) == []


def test_probe_targets_client_server_address_and_server_known_peers():
    before = host(inst("office", "server", peers=[{"vpn_ipv4": "10.8.0.2"}], clients=[{"vpn_ipv4": "10.8.0.2"}, {"vpn_ipv4": "10.8.0.3"}]),
                  inst("up", "client", target="10.9.0.1"), inst("other", "client", target="10.7.0.1"))
    assert rollout.probe_targets(before, ["openvpn-server@office.service", "openvpn-client@up.service"]) == [
        {"unit": "openvpn-server@office.service", "target": "10.8.0.2"},
        {"unit": "openvpn-server@office.service", "target": "10.8.0.3"},
        {"unit": "openvpn-client@up.service", "target": "10.9.0.1"}]


def test_outage_zero_when_every_probe_was_answered():
    outage = rollout.ping_outage(fixture_text("rollout", "ping-all-answered.txt"), 0.2)
    assert outage["probes_answered"] == 6
    assert outage["longest_outage_s"] == 0.0


def test_duplicates_and_garbage_replies_are_not_answers():
    # Recorded on the lab VM: qemu's network echoed junk for an unrouted address.
    outage = rollout.ping_outage(fixture_text("rollout", "ping-bogus-replies.txt"), 0.2)
    assert outage["probes_answered"] == 0
    assert outage["longest_outage_s"] == outage["probe_seconds"] > 1.5


def test_outage_is_the_longest_gap_between_answers():
    lines = fixture_text("rollout", "ping-all-answered.txt").splitlines()
    replies = [line for line in lines if "bytes from" in line]
    # Probes 3 and 4 lost: the gap from probe 2 to probe 5 is three intervals, one of them normal.
    gapped = "\n".join(replies[:2] + ["[%s] no answer yet for icmp_seq=3" % replies[2][1:18]] + replies[4:])
    outage = rollout.ping_outage(gapped, 0.2)
    assert outage["probes_answered"] == 4
    assert outage["longest_outage_s"] == pytest.approx(0.4, abs=0.05)
    assert rollout.ping_outage("", 0.2) == {"probes_answered": 0, "longest_outage_s": None, "probe_seconds": 0.0}


def test_plan_lines_say_what_happens_to_each_instance():
    office = inst("office", "server")
    assert rollout.plan_line({"item": office, "dco_compatible": True, "edits": [
        {"before": "comp-lzo", "after": "compress migrate", "impact": "compatible"}]}) == (
        "office (/etc/openvpn/office.conf): 1 edit(s): compress migrate [compatible]")
    assert rollout.plan_line({"item": office, "dco_compatible": True, "edits": []}).endswith("restart to open a DCO device")
    assert rollout.plan_line({"name": "manual", "why": "not started by systemd"}) == "manual: left alone, not started by systemd"


def test_rolled_back_instances_carry_the_reason():
    tunnels = host(inst("office", "server"), inst("other", "client", ping_ok=True))
    for instance in tunnels["instances"]:
        instance.update(healthy=True, problems=[])
    marked = rollout.mark_rolled_back(tunnels, ["openvpn-server@office.service"], "modprobe failed")
    assert marked["healthy"] is False
    assert marked["instances"][0]["problems"] == ["rolled back to userspace by enable_dco: modprobe failed"]
    assert marked["instances"][1]["problems"] == []
    assert tunnels["instances"][0]["problems"] == [], "the input is not changed"


def served(name, addresses, dco=False):
    return dict(inst(name, "server", dco=dco), vpn_ipv4=addresses[0].split("/")[0])


def check(name, *impacts):
    return {"item": {"name": name}, "edits": [{"impact": impact} for impact in impacts]}


@pytest.mark.parametrize("fleet, held_why", [
    # the server switched in this run: the client follows
    ({"srv": {"before": host(served("ring", ["10.8.11.1/24"])), "switched": ["openvpn-server@ring.service"]}}, None),
    # the server was in DCO already
    ({"srv": {"before": host(served("ring", ["10.8.11.1/24"], dco=True))}}, None),
    # the server's host failed its build: the client keeps a config that server accepts
    ({"srv": {"before": host(served("ring", ["10.8.11.1/24"])),
              "outcome": {"phase": "build", "result": "failed", "reason": "compile error"}}},
     "its server openvpn-server@ring.service did not switch: srv failed in the build phase: compile error"),
    # the server was left alone (its config stays in userspace)
    ({"srv": {"before": host(served("ring", ["10.8.11.1/24"]))}},
     "its server openvpn-server@ring.service did not switch: ring stays in userspace on srv"),
    # no server of the run has that tunnel address
    ({"srv": {"before": host(served("other", ["10.9.0.1/24"])), "switched": ["openvpn-server@other.service"]}},
     "its server (tunnel address 10.8.11.1) is not in this run"),
])
def test_clients_of_servers_that_did_not_switch_are_held_back(fleet, held_why):
    client = inst("ring", "client", target="10.8.11.1")
    planned = {"unit": client["unit"], "name": "ring", "target": "10.8.11.1", "peer_notices": True}
    held = rollout.held_back_clients([planned], rollout.server_table(fleet))
    if held_why is None:
        assert held == []
    else:
        assert held == [{"unit": client["unit"], "name": "ring",
                         "why": "held back, keeps a config its server accepts: " + held_why}]


def test_client_whose_edits_no_peer_notices_switches_even_without_its_server():
    client = inst("ring", "client", target="10.8.11.1")
    planned = {"unit": client["unit"], "name": "ring", "target": "10.8.11.1", "peer_notices": False}
    assert rollout.held_back_clients([planned], []) == []
    assert rollout.held_back_clients([dict(planned, peer_notices=True)], []) != []


@pytest.mark.parametrize("outcomes, limit, halted", [
    ([{"phase": "servers", "result": "failed"}], 20, True),        # the canary failed
    ([{}, {}, {}, {}, {"phase": "servers", "result": "failed"}], 20, False),   # 20 % is not above 20
    ([{}, {}, {"phase": "servers", "result": "failed"}], 20, True),
    ([{}, {"phase": "build", "result": "failed"}], 0, False),      # another phase's failure
    ([{"phase": "servers", "result": "held_back"}], 0, False),
    ([], 0, False),
])
def test_batch_halt_follows_max_fail_percentage(outcomes, limit, halted):
    reason = rollout.batch_halt_reason(outcomes, "servers", limit)
    assert bool(reason) is halted
    if halted:
        assert "in the servers phase (more than %s%%)" % limit in reason


def test_report_notes_say_what_the_rollout_did_and_only_failures_are_problems():
    held = [{"unit": "openvpn-client@ring.service", "name": "ring", "why": "held back, keeps a config its server accepts: x"}]
    assert rollout.report_notes(None, held) == [
        {"unit": "openvpn-client@ring.service", "why": held[0]["why"], "problem": False}]
    build = rollout.report_notes({"phase": "build", "result": "failed", "reason": "compile error"}, [])
    assert build == [{"unit": None, "why": "not switched by enable_dco, the module build failed: compile error", "problem": True}]
    rolled = rollout.report_notes({"phase": "servers", "result": "failed", "reason": "gate", "units": ["a", "b"]}, [])
    assert [(note["unit"], note["problem"]) for note in rolled] == [("a", True), ("b", True), (None, True)]
    assert rolled[2]["why"] == "not switched: enable_dco stopped on this host when its servers phase failed"
    assert rolled[0]["why"] == "rolled back to userspace by enable_dco: gate"
    halted = rollout.report_notes({"phase": "clients", "result": "held_back", "reason": "canary failed"}, [])
    assert halted == [{"unit": None, "why": "held back by enable_dco in the clients phase: canary failed", "problem": False}]


def test_run_summary_gives_every_host_a_result():
    summary = rollout.run_summary({
        "a": {"switched": ["openvpn-server@x.service"], "held_clients": [{"unit": "openvpn-client@y.service"}]},
        "b": {"outcome": {"phase": "build", "result": "failed", "reason": "compile error"}},
        "c": {},
        "d": {"outcome": {"phase": "clients", "result": "held_back", "reason": "canary failed"}},
    })
    assert summary["a"] == {"result": "switched", "switched": ["openvpn-server@x.service"],
                            "held_back_clients": ["openvpn-client@y.service"]}
    assert summary["b"] == {"result": "failed", "switched": [], "held_back_clients": [], "phase": "build", "reason": "compile error"}
    assert summary["c"]["result"] == "unchanged"
    assert summary["d"]["result"] == "held_back"


def running(instance, pid):
    return dict(instance, pid=pid)


def test_clients_of_the_restarted_servers_are_told_to_reconnect_through_their_unit_or_pid():
    fleet = {
        "srv": host(served("ring", ["10.8.11.1/24"]), served("office", ["10.9.0.1/24"]),
                    running(inst("up", "client", target="10.7.0.1"), 40)),
        "vm2": host(running(inst("ring", "client", target="10.8.11.1"), 812)),
        "ct03": host(running(inst("ring", "client", unit=False, target="10.8.11.1"), 77)),
        "ct04": host(running(inst("office", "client", target="10.9.0.1"), 90)),
    }
    fleet["srv"]["instances"][0]["pid"] = 10
    targets = rollout.clients_to_reconnect(fleet, "srv", ["openvpn-server@ring.service"])
    assert targets == [
        {"host": "ct03", "unit": None, "pid": 77, "name": "ring", "server": "openvpn-server@ring.service"},
        {"host": "vm2", "unit": "openvpn-client@ring.service", "pid": 812, "name": "ring", "server": "openvpn-server@ring.service"},
    ]


@pytest.mark.parametrize("client", [
    inst("ring", "client", target="10.8.11.1"),                                   # not running: nothing to signal
    running(inst("ring", "client", target="10.8.12.1"), 5),                       # another server's client
    dict(running(inst("as0t0", "client", target="10.8.11.1"), 5), manager="access_server"),
    running(inst("ring", "server", target=None), 5),
])
def test_nothing_but_running_clients_of_a_restarted_server_is_signalled(client):
    fleet = {"srv": host(served("ring", ["10.8.11.1/24"])), "other": host(client)}
    assert rollout.clients_to_reconnect(fleet, "srv", ["openvpn-server@ring.service"]) == []


def test_clients_of_a_server_that_was_not_restarted_are_left_alone():
    fleet = {"srv": host(served("ring", ["10.8.11.1/24"])), "vm2": host(running(inst("ring", "client", target="10.8.11.1"), 8))}
    assert rollout.clients_to_reconnect(fleet, "srv", []) == []
    assert rollout.clients_to_reconnect(fleet, "unknown", ["openvpn-server@ring.service"]) == []


def test_fleet_clients_to_reconnect_reads_each_hosts_preflight_and_skips_hosts_without_it():
    from ansible_collections.ovpnfleet.dco.plugins.plugin_utils import _rollout_plan
    hostvars = {"srv": {"rollout_before": host(served("ring", ["10.8.11.1/24"]))},
                "vm2": {"rollout_before": host(running(inst("ring", "client", target="10.8.11.1"), 8))},
                "down": {}}
    targets = _rollout_plan.reconnect_clients(["srv", "vm2", "down", "gone"], hostvars, "srv", ["openvpn-server@ring.service"])
    assert [(entry["host"], entry["pid"]) for entry in targets] == [("vm2", 8)]
