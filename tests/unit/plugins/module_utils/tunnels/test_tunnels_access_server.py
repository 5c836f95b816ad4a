# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""tunnel_info on a host running both a plain OpenVPN server and OpenVPN Access Server.

The plain side is the recorded lab ring (tests/unit/fixtures/tunnels/debian12-dco.json). The
Access Server side is CONSTRUCTED, because no real Access Server can run here: its sacli, dpkg
and ``ip -d -j link`` answers come from tests/unit/fixtures/access_server/ (see its README),
and its daemons' process-table entries, link lookups and kernel peers are written below in the
shapes the recorded ring has. The tests prove what we decide from those shapes, not that a real
Access Server looks exactly like this.
"""

from __future__ import annotations

import base64
import copy
import json
import os

import pytest

from ansible_collections.ovpnfleet.dco.plugins.module_utils.access_server._server import SACLI
from ansible_collections.ovpnfleet.dco.plugins.module_utils.host._facts import gather_host_facts
from ansible_collections.ovpnfleet.dco.plugins.modules import tunnel_info
from ansible_collections.ovpnfleet.dco.plugins.plugin_utils import _rollout as rollout
from ansible_collections.ovpnfleet.dco.tests.unit.host_probes import ReplayProbe, load_fixture
from ansible_collections.ovpnfleet.dco.tests.unit.plugins.module_utils.tunnels.test_tunnels import asked_as_today
from ansible_collections.ovpnfleet.dco.tests.unit.tunnel_hosts import ReplayTunnelHost

HERE = os.path.dirname(__file__)
FIXTURES = os.path.join(HERE, "..", "..", "..", "fixtures")
PARAMS = {"min_cert_days": 30, "dco_required": False, "ping": True, "openvpn_version": None}

# Two AS daemons as the process table would show them (constructed): one started by its full
# path, one whose argv[0] is bare and whose /proc/PID/exe alone says where it comes from.
AS_PROCESSES = {
    4100: (["/usr/local/openvpn_as/sbin/openvpn", "--config", "stdin"], "/usr/local/openvpn_as/sbin/openvpn"),
    4101: (["openvpn", "--config", "stdin"], "/usr/local/openvpn_as/sbin/openvpn"),
}
PEERS = [{"id": 0, "vpn_ipv4": "172.27.224.2", "remote_address": "192.0.2.51", "vpn_rx_bytes": 4100,
          "vpn_tx_bytes": 8200},
         {"id": 1, "vpn_ipv4": "172.27.224.3", "remote_address": "192.0.2.52", "vpn_rx_bytes": 100,
          "vpn_tx_bytes": 200}]


def _text(name):
    with open(os.path.join(FIXTURES, "access_server", name), encoding="utf-8") as handle:
        return handle.read()


def _links(name, first_index):
    # The ring already holds ifindex 4 and 5: AS's devices get the next ones.
    links = json.loads(_text(name))
    for number, link in enumerate(item for item in links if item["ifname"].startswith("as0")):
        link["ifindex"] = first_index + number
    return json.dumps(links)


def plain_and_access_server(kind="ovpn-dco", configquery="configquery-dco-true.json",
                            vpnsummary="vpnsummary-dco-loaded.json", version="2.14.3-d2b0d4b4-Debian12"):
    fixture = copy.deepcopy(asked_as_today(load_fixture(os.path.join(FIXTURES, "tunnels", "debian12-dco.json"))))
    probe, host = fixture["probe"], fixture["host"]
    links = {"ovpn-dco": "ip-link-ovpn-dco.json", "ovpn": "ip-link-ovpn.json", "tun": "ip-link-tun.json"}[kind]
    probe["run"].update({
        "%s status" % SACLI: [0, _text("status-ready.json"), ""],
        "dpkg-query -W -f=${Status} ${Version} openvpn-as": [0, "install ok installed %s" % version, ""],
        "uname -r": [0, "6.12.95+bpo-amd64\n", ""],
        "%s ConfigQuery" % SACLI: [0, _text(configquery), ""],
        "%s VPNSummary" % SACLI: [0, _text(vpnsummary), ""],
        "ip -d -j link show": [0, _links(links, 7), ""],
    })
    for pid, (argv, exe) in AS_PROCESSES.items():
        probe["listdir"]["/proc"].append(str(pid))
        probe["read"]["/proc/%d/comm" % pid] = "openvpn\n"
        probe["read_bytes"]["/proc/%d/cmdline" % pid] = base64.b64encode(
            "\0".join(argv).encode() + b"\0").decode()
        probe["read_link"]["/proc/%d/exe" % pid] = exe
        # What reading it as a plain instance would ask (tunnel_info did before it knew AS).
        probe["read_link"]["/proc/%d/cwd" % pid] = "/usr/local/openvpn_as"
        probe["read"]["/usr/local/openvpn_as/stdin"] = None
        probe["read_link"]["/proc/%d/ns/pid" % pid] = probe["read_link"]["/proc/self/ns/pid"]
        probe["read_link"]["/proc/%d/ns/mnt" % pid] = probe["read_link"]["/proc/self/ns/mnt"]
        probe["file_id"]["/proc/%d/root" % pid] = probe["file_id"]["/proc/self/root"]
    for index, name in enumerate(["as0t0", "as0u0"], start=7):
        host["link"][json.dumps([name])] = {"ifindex": index, "kind": kind, "addresses": None}
    host["peers"][json.dumps([kind, 7])] = []
    host["peers"][json.dumps([kind, 8])] = PEERS
    host["module"][json.dumps(["ovpn"])] = {"name": "ovpn", "version": None, "srcversion": None}
    return fixture


def run(monkeypatch, fixture, **params):
    # Host facts from the recorded Debian 12 host: what readiness reads besides Access Server.
    facts_probe = ReplayProbe(load_fixture(os.path.join(FIXTURES, "host_info", "debian12-fresh.json"))["probe"])
    monkeypatch.setattr(tunnel_info, "gather_host_facts", lambda _probe, **kw: gather_host_facts(facts_probe, **kw))
    return tunnel_info.tunnel_info(dict(PARAMS, **params), ReplayTunnelHost(fixture))


def test_access_server_daemons_are_not_plain_instances(monkeypatch):
    result = run(monkeypatch, plain_and_access_server())
    plain = [i for i in result["instances"] if i["manager"] is None]
    assert sorted((i["unit"], i["interface"]) for i in plain) == [
        ("openvpn-client@lab.service", "tun1"), ("openvpn-server@lab.service", "tun0")]
    assert not [i for i in result["instances"] if i["pid"] in AS_PROCESSES]
    ours = [i for i in result["instances"] if i["manager"] == "access_server"]
    assert [(i["name"], i["transport"], i["unit"], i["config"], i["link_kind"], i["dco_active"]) for i in ours] == [
        ("as0t0", "tcp", None, None, "ovpn-dco", True), ("as0u0", "udp", None, None, "ovpn-dco", True)]
    assert [len(i["peers"]) for i in ours] == [0, 2]
    assert ours[0]["module"]["name"] == "ovpn_dco_v2"
    assert result["healthy"], [i["problems"] for i in result["instances"]] + [result["access_server"]["problems"]]
    assert result["access_server"] == {
        "is_access_server": True, "version": "2.14.3-d2b0d4b4-Debian12", "ready": True, "dco_setting": "true",
        "dco_configured": True, "dco_available": True, "dco_module_version": "0.2.20231103", "clients": 3,
        "problems": [], "flavour": "ovpn-dco-v2",
        # Judged on debian12-fresh's recorded kernel facts (module not loaded there), see run().
        "readiness": {"status": "actionable", "flavour": "ovpn-dco-v2", "method": "package", "reasons": []}}


@pytest.mark.parametrize("kind", ["ovpn-dco", "tun"])
def test_the_rollout_never_switches_or_restarts_an_access_server_daemon(monkeypatch, kind):
    result = run(monkeypatch, plain_and_access_server(kind=kind, configquery="configquery-dco-false.json",
                                                      vpnsummary="vpnsummary-dco-not-loaded.json"))
    names = {i["name"] for i in result["instances"] if i["manager"] == "access_server"}
    assert names == {"as0t0", "as0u0"}
    assert not names & {i["name"] for i in rollout.switch_candidates(result)}
    assert not [unit for unit in rollout.offloaded_units(result) if unit is None]
    for instance in result["instances"]:
        if instance["manager"] == "access_server":
            assert instance["unit"] is None and instance["config"] is None


def test_access_server_in_userspace_says_why_and_what_to_do(monkeypatch):
    fixture = plain_and_access_server(kind="tun", configquery="configquery-dco-false.json",
                                      vpnsummary="vpnsummary-dco-not-loaded.json")
    result = run(monkeypatch, fixture, dco_required=True)
    as0u0 = next(i for i in result["instances"] if i["name"] == "as0u0")
    assert (as0u0["dco_active"], as0u0["peers"], as0u0["healthy"]) == (False, None, False)
    assert as0u0["dco_off_reason"] == "vpn.server.daemon.ovpndco is 'false' in Access Server's configuration"
    assert as0u0["problems"] == [
        "DCO is off on Access Server's as0u0 (vpn.server.daemon.ovpndco is 'false' in Access Server's "
        "configuration): load the module with the kmod role and switch DCO on with ovpnfleet.dco.access_server "
        "(dco: enabled); never edit the configs Access Server regenerates"]
    assert not result["healthy"]


def test_access_server_3_2_on_ovpn_devices(monkeypatch):
    result = run(monkeypatch, plain_and_access_server(kind="ovpn", vpnsummary="vpnsummary-ovpn-loaded.json",
                                                      version="3.2.0-0f1e2d3c-Debian13"))
    ours = [i for i in result["instances"] if i["manager"] == "access_server"]
    assert [(i["link_kind"], i["dco_active"], i["module"]["name"]) for i in ours] == [("ovpn", True, "ovpn")] * 2
    assert result["access_server"]["flavour"] == "ovpn"
    # One host, two judges: AS 3.2 needs ovpn, the host's own OpenVPN 2.6.14 ovpn-dco-v2.
    assert (result["access_server"]["readiness"]["flavour"], result["readiness"]["flavour"]) == ("ovpn", "ovpn-dco-v2")


def test_without_pyroute2_the_ip_link_kind_still_decides(monkeypatch):
    fixture = plain_and_access_server()
    for name in ("as0t0", "as0u0"):
        fixture["host"]["link"][json.dumps([name])] = {"error": "python3-pyroute2 is missing on the host"}
    result = run(monkeypatch, fixture)
    ours = [i for i in result["instances"] if i["manager"] == "access_server"]
    assert [(i["link_kind"], i["dco_active"], i["peers"]) for i in ours] == [("ovpn-dco", True, None)] * 2
    assert all(i["problems"] == ["python3-pyroute2 is missing on the host"] for i in ours)


def test_a_host_without_access_server_reports_none(monkeypatch):
    fixture = copy.deepcopy(asked_as_today(load_fixture(os.path.join(FIXTURES, "tunnels", "debian12-dco.json"))))
    fixture["probe"]["run"]["%s status" % SACLI] = [127, "", "sacli: command not found"]
    result = run(monkeypatch, fixture)
    assert result["access_server"]["is_access_server"] is False
    assert [i["manager"] for i in result["instances"]] == [None, None]
