# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""enable_dco's plan, gate and rollback marks on OpenVPN Access Server hosts.

The tunnel_info results below are CONSTRUCTED, because no real Access Server can run here: they
have the shape tunnel_info gives an AS host (tests/unit/plugins/module_utils/tunnels/
test_tunnels_access_server.py builds it from the constructed sacli outputs in
tests/unit/fixtures/access_server/): a top-level ``access_server`` summary and one instance per
``as0t*``/``as0u*`` device with ``manager: access_server``. The tests prove what the rollout
decides from that shape, not that a real Access Server looks exactly like it.
"""

from __future__ import annotations

import pytest

from ansible_collections.ovpnfleet.dco.plugins.plugin_utils import _rollout
from ansible_collections.ovpnfleet.dco.plugins.plugin_utils import _rollout_plan as plan_of

NO_SKIP = {"skip": False, "why": "", "plan_line": "module: ready ovpn-dco-v2 via package"}
AS_214 = "2.14.3-d2b0d4b4-Debian12"
AS_31 = "3.1.0-a7b1c2d3-Debian12"
AS_211 = "2.11.3-41a1a0b5-Ubuntu22"
TOO_OLD = "Access Server %s cannot do DCO: it needs 2.12 or newer; upgrade Access Server first" % AS_211
PEER = {"id": 0, "vpn_ipv4": "172.27.224.2"}


def device(name, kind, peers=None):
    return {"name": name, "manager": "access_server", "unit": None, "config": None, "mode": "server",
            "state": "active", "link_kind": kind, "dco_active": kind != "tun", "vpn_ipv4": None,
            "peers": peers if kind != "tun" else None, "management": None, "problems": [],
            "dco_off_reason": None if kind != "tun" else "vpn.server.daemon.ovpndco is 'false'"}


def as_host(version=AS_214, key="false", kinds=("tun", "tun"), clients=3, own=(), own_status="ready",
            configured=None, ready=True, peers=(0, 0)):
    """A tunnel_info result of an AS host (constructed): as0t0 and as0u0 of the link kinds given."""
    supported = version != AS_211
    flavour = "ovpn-dco-v2" if supported else None
    server = {"is_access_server": True, "version": version, "ready": ready, "dco_setting": key,
              "dco_configured": (key == "true") if configured is None else configured,
              "dco_available": "tun" not in kinds, "dco_module_version": None, "clients": clients,
              "problems": [] if ready else ["Access Server is not fully up (api on, openvpn_1 off): run sacli start"],
              "flavour": flavour,
              "readiness": {"status": "actionable" if supported else "unsupported", "flavour": flavour,
                            "method": "package" if supported else None, "reasons": [] if supported else [TOO_OLD]}}
    devices = [device(name, kind, [dict(PEER, id=number) for number in range(count)])
               for name, kind, count in zip(("as0t0", "as0u0"), kinds, peers)]
    return {"readiness": {"status": own_status, "reasons": ["OpenVPN is not installed"] if own_status == "unsupported" else []},
            "access_server": server, "instances": list(own) + devices}


def plain_server(name="office"):
    return {"name": name, "mode": "server", "unit": "openvpn-server@%s.service" % name, "config": "/etc/openvpn/%s.conf" % name,
            "state": "active", "dco_active": False, "vpn_ipv4": "10.8.0.1", "peers": None, "management": None,
            "problems": [], "ping": None, "manager": None}


def final(tunnels, kmod=None):
    """The plan as plan.yml makes it the last time: configs checked (DCO-ready), kmod asked
    (NO_SKIP unless ``kmod`` says otherwise)."""
    kmod = kmod or NO_SKIP
    first = plan_of.host_plan(tunnels)
    checks = [{"item": entry, "dco_compatible": True, "edits": []} for entry in first["to_check"]]
    return first, plan_of.host_plan(tunnels, checks, kmod if first["needs_module"] or checks else None)


@pytest.mark.parametrize("tunnels, group, part, line", [
    # AS 2.14, key false, daemons in userspace: module, key, gate; rollback turns the key back
    (as_host(), "dco_switch", {"set_key": True, "restart": False, "was_on": False},
     "Access Server %s: the ovpn-dco-v2 module via the kmod role, then vpn.server.daemon.ovpndco from 'false' to true "
     "with ovpnfleet.dco.access_server (its sacli start restarts AS's daemons); gate: API and every daemon on, as0t0, "
     "as0u0 in DCO, 3 client(s) back as kernel peers; rollback: the key back to false" % AS_214),
    # AS 3.1, key true, but as0u0 in userspace (the module was missing): only a sacli start helps
    (as_host(AS_31, key="true", kinds=("ovpn-dco", "tun"), clients=0), "dco_switch",
     {"set_key": False, "restart": True, "was_on": True},
     "Access Server %s: the ovpn-dco-v2 module via the kmod role, then vpn.server.daemon.ovpndco is true but as0u0 in "
     "userspace: sacli start through ovpnfleet.dco.access_server (restart); gate: API and every daemon on, as0t0, "
     "as0u0 in DCO; rollback: none, the key was on before" % AS_31),
    # AS 3.1 with the key unset (on by default) and in DCO: access_server would write the key once
    (as_host(AS_31, key=None, kinds=("ovpn-dco", "ovpn-dco"), configured=True), "dco_switch",
     {"set_key": True, "restart": False, "was_on": True}, None),
    # converged: key true, every as0* device in DCO
    (as_host(AS_31, key="true", kinds=("ovpn-dco", "ovpn-dco")), "dco_converged", None,
     "Access Server %s: vpn.server.daemon.ovpndco is true and as0t0, as0u0 in DCO, left running" % AS_31),
    # AS 2.11 cannot do DCO: left alone with AS's reason
    (as_host(AS_211), "dco_not_possible", None, "Access Server %s: DCO not possible, left alone: %s" % (AS_211, TOO_OLD)),
    # the host's own OpenVPN is not installed, AS can do DCO: the host switches, for AS
    (as_host(own_status="unsupported"), "dco_switch", {"set_key": True}, None),
])
def test_access_server_hosts_are_planned(tunnels, group, part, line):
    first, plan = final(tunnels)
    assert plan["group"] == group, plan["lines"]
    assert first["needs_module"] is (group == "dco_switch"), "the kmod role is asked although no plain unit switches"
    assert first["needs_checks"] is (group == "dco_switch"), "configs are checked only where something could switch"
    assert plan["units"] == [] and plan["converged"] is (group != "dco_switch")
    if part is None:
        assert plan["access_server"] is None
    else:
        assert {key: plan["access_server"][key] for key in part} == part
        assert plan["access_server"]["devices"] == ["as0t0", "as0u0"]
    if line is not None:
        assert line in plan["lines"], plan["lines"]
    assert not [text for text in plan["lines"] if text.startswith("as0")], "AS's devices are its line's, not 'left alone'"
    if group != "dco_not_possible":
        assert not [text for text in plan["lines"] if text.startswith("DCO not possible here")], plan["lines"]


def test_access_server_too_old_beside_a_plain_server_switches_the_plain_one():
    first, plan = final(as_host(AS_211, own=[plain_server()]))
    assert (plan["group"], plan["units"], plan["access_server"]) == ("dco_switch", ["openvpn-server@office.service"], None)
    assert "Access Server %s: DCO not possible, left alone: %s" % (AS_211, TOO_OLD) in plan["lines"]


def test_plain_side_unsupported_beside_an_access_server_says_so():
    _first, plan = final(as_host(own=[plain_server()], own_status="unsupported"))
    assert plan["group"] == "dco_switch" and plan["units"] == []
    assert plan["lines"][0] == "the host's own OpenVPN: DCO not possible, left alone: OpenVPN is not installed"


def test_held_back_by_the_module_decision_leaves_access_server_alone():
    _first, plan = final(as_host(), {"skip": True, "why": "unsigned module, kernel enforces signatures", "plan_line": ""})
    assert (plan["group"], plan["access_server"], plan["needs_module"]) == ("dco_not_possible", None, False)
    assert "Access Server %s: left alone with the host: vpn.server.daemon.ovpndco stays 'false'" % AS_214 in plan["lines"]


@pytest.mark.parametrize("tunnels, offloaded", [
    (as_host(AS_31, key="true", kinds=("ovpn-dco", "ovpn-dco")), True),
    (as_host(AS_31, key="true", kinds=("tun", "tun")), True),  # the key on: the next sacli start would offload
    (as_host(), False),
    ({"readiness": {"status": "ready"}, "instances": [plain_server()]}, False),
])
def test_disable_turns_the_key_off_where_access_server_is_in_dco(tunnels, offloaded):
    assert plan_of.host_plan(tunnels)["access_server_offloaded"] is offloaded


IN_DCO = as_host(kinds=("ovpn-dco", "ovpn-dco"), peers=(1, 2), key="true")


@pytest.mark.parametrize("before, after, dco, failures", [
    (as_host(), IN_DCO, True, []),
    (as_host(), as_host(kinds=("ovpn-dco", "ovpn-dco"), peers=(0, 1), key="true"), True,
     ["Access Server: 1 of 3 clients back (kernel peers on as0t0, as0u0)"]),
    (as_host(clients=0), as_host(kinds=("ovpn-dco", "ovpn-dco"), key="true", clients=0), True, []),
    (as_host(), as_host(kinds=("ovpn-dco", "tun"), key="true"), True,
     ["as0u0: still in userspace (vpn.server.daemon.ovpndco is 'false')"]),
    (as_host(), as_host(ready=False, kinds=("ovpn-dco", "ovpn-dco"), peers=(3, 0)), True,
     ["Access Server: not every service is on: Access Server is not fully up (api on, openvpn_1 off): run sacli start"]),
    (as_host(), dict(as_host(), instances=[]), True, ["Access Server: no as0t*/as0u* device found"]),
    (as_host(), {"access_server": {"is_access_server": False}, "instances": []}, True,
     ["Access Server: not found any more (no sacli)"]),
    # disable_dco: every device in userspace, VPNSummary's clients back
    (IN_DCO, as_host(clients=3), False, []),
    (IN_DCO, IN_DCO, False, ["as0t0: still in DCO (link kind ovpn-dco)", "as0u0: still in DCO (link kind ovpn-dco)"]),
    (IN_DCO, as_host(clients=1), False, ["Access Server: 1 of 3 clients back (sacli VPNSummary)"]),
    # a rollback that left the key as it was: either, up and the clients back
    (as_host(), IN_DCO, None, []),
])
def test_access_server_gate(before, after, dco, failures):
    assert _rollout.access_server_gate_failures(before, after, dco) == failures


def test_a_rollback_marks_access_servers_devices():
    marked = _rollout.mark_rolled_back(as_host(own=[plain_server()]), ["access-server"], "gate")
    assert [(i["name"], i.get("healthy")) for i in marked["instances"]] == [("office", None), ("as0t0", False), ("as0u0", False)]
    assert marked["instances"][1]["problems"] == ["rolled back to userspace by enable_dco: gate"]
    untouched = _rollout.mark_rolled_back(as_host(), ["openvpn-server@office.service"], "gate")
    assert [i.get("healthy") for i in untouched["instances"]] == [None, None]
