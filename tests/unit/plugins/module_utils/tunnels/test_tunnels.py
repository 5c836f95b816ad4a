# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""tunnel_info's gathering, replayed from real lab hosts (tests/unit/fixtures/tunnels/, recorded
with record.sh there): the ring converted to DCO on both module generations, and a container
running OpenVPN in userspace on a kernel without module support."""

from __future__ import annotations

import copy
import datetime
import os

import pytest

from ansible_collections.ovpnfleet.dco.plugins.module_utils._probe import CommandResult
from ansible_collections.ovpnfleet.dco.plugins.module_utils.host._facts import gather_host_facts
from ansible_collections.ovpnfleet.dco.plugins.module_utils.tunnels import _instances as tunnels
from ansible_collections.ovpnfleet.dco.tests.unit.host_probes import ReplayProbe, load_fixture, without_access_server
from ansible_collections.ovpnfleet.dco.tests.unit.tunnel_hosts import ReplayTunnelHost

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "fixtures", "tunnels")


def asked_as_today(fixture):
    """A fixture recorded before tunnel_info asked for namespaces, log tails and a bounded
    journal, with those questions answered from the recording itself: every openvpn it lists
    ran beside the recorder (the ring's units under the host's systemd, the container's daemon
    in the container the recorder ran in), so each shares the recorder's namespaces and root;
    each log file is far below the tail cap, so its tail is its whole text."""
    fixture = copy.deepcopy(fixture)
    probe = fixture["probe"]
    probe.setdefault("read_tail", {})
    for path in [path for path in probe["read"] if path.endswith(".log") and "/status-" not in path]:
        probe["read_tail"]["%s %d" % (path, tunnels.LOG_TAIL_BYTES)] = [probe["read"].pop(path), None]
    for command in [command for command in probe["run"] if command.startswith("journalctl ")]:
        probe["run"][command + " --lines=%d" % tunnels.LOG_TAIL_LINES] = probe["run"].pop(command)
    one_systemctl_show(probe["run"])
    pids = [entry.split("/")[2] for entry in probe["read_bytes"] if entry.endswith("/cmdline")]
    probe.setdefault("file_id", {})
    for pid in ["self"] + pids:
        probe["read_link"]["/proc/%s/ns/pid" % pid] = "pid:[4026531836]"
        probe["read_link"]["/proc/%s/ns/mnt" % pid] = "mnt:[4026531841]"
        probe["file_id"]["/proc/%s/root" % pid] = "2049:2"
    return fixture


SHOW = "systemctl show --property=Id,ActiveState,MainPID --"


def one_systemctl_show(run):
    """The recorder's one ``systemctl show`` per unit as the one call for all units asked today:
    the same properties, each block headed by its unit's Id, in the order list-units gave."""
    units = [key.rsplit(" ", 1)[1] for key in run if key.startswith("systemctl show --property=ActiveState,MainPID -- ")]
    listed = run.get("systemctl list-units --all --plain --no-legend --no-pager openvpn-server@* openvpn-client@* openvpn@*")
    if not units or not listed:
        return
    order = [line.split()[0] for line in listed[1].splitlines() if line.split()]
    units.sort(key=order.index)
    blocks = []
    for unit in units:
        _rc, out, _err = run.pop("systemctl show --property=ActiveState,MainPID -- " + unit)
        blocks.append("Id=%s\n%s" % (unit, out))
    run[" ".join([SHOW] + units)] = [0, "\n".join(blocks), ""]


def replay(name, **options):
    fixture = asked_as_today(load_fixture(os.path.join(FIXTURES, name + ".json")))
    host = ReplayTunnelHost(fixture)
    return tunnels.gather(host, dict(fixture["options"], **options)), fixture


def by_mode(instances):
    return {instance["mode"]: instance for instance in instances}


@pytest.mark.parametrize("name,kind,module", [
    ("debian12-dco", "ovpn-dco", "ovpn_dco_v2"),
    ("debian13-bpo-dco", "ovpn", "ovpn"),
])
def test_dco_ring_is_active_with_kernel_peers(name, kind, module):
    instances, fixture = replay(name)
    assert sorted((i["unit"], i["interface"]) for i in instances) == [
        ("openvpn-client@lab.service", "tun1"), ("openvpn-server@lab.service", "tun0")]
    for instance in instances:
        assert instance["link_kind"] == kind and instance["dco_active"] is True
        assert instance["module"]["name"] == module
        assert instance["dco_off_reason"] is None and instance["config_dco_compatible"] is True
        assert instance["healthy"], instance["problems"]
    server = by_mode(instances)["server"]
    [peer] = server["peers"]
    assert peer["vpn_ipv4"].startswith("10.8.") and peer["vpn_rx_bytes"] > 0 and peer["keepalive_interval"] == 10
    client = by_mode(instances)["client"]
    assert client["ping"]["ok"] and client["ping"]["target"].startswith("10.8.")
    # vpn_ipv4 came after the recording: the server's from its recorded config, none for a client.
    server_line = next(line for line in fixture["probe"]["read"][server["config"]].splitlines() if line.startswith("server "))
    assert server["vpn_ipv4"] == server_line.split()[1].rsplit(".", 1)[0] + ".1"
    assert client["vpn_ipv4"] is None
    # manager came after the recording too: None, the ring's instances are ours.
    assert [dict(i, vpn_ipv4=None) for i in instances] == [dict(i, vpn_ipv4=None, manager=None)
                                                           for i in fixture["result"]]


def test_userspace_container_reports_openvpns_own_reason():
    instances, fixture = replay("container-userspace")
    [server] = instances
    assert (server["unit"], server["pid"] is not None, server["mode"]) == (None, True, "server")
    assert (server["link_kind"], server["dco_active"], server["peers"]) == ("tun", False, None)
    assert server["dco_off_reason"] == "Note: '--allow-compression' is not set to 'no', disabling data channel offload."
    assert (server["config_blockers"][0]["option"], server["config_blockers"][0]["rule"]) == ("comp-lzo", "dco-compression")
    # No management interface: the clients come from the --status file (version 2, commas).
    assert server["management"]["source"] == "/run/openvpn-server/status-lab.log"
    status = fixture["probe"]["read"]["/run/openvpn-server/status-lab.log"]
    listed = [line.split(",")[1] for line in status.splitlines() if line.startswith("CLIENT_LIST,")]
    assert len(listed) >= 2
    assert sorted(client["common_name"] for client in server["management"]["clients"]) == sorted(listed)
    assert all(client["vpn_ipv4"].startswith("10.9.0.") and client["bytes_received"] > 0
               for client in server["management"]["clients"])
    assert server["healthy"]
    assert server["certificates"]["cert"]["days_left"] > 700


def test_dco_required_makes_userspace_a_problem():
    [server], fixture = replay("container-userspace", dco_required=True)
    assert not server["healthy"]
    assert server["problems"][0].startswith("DCO is off (Note: '--allow-compression'")


def test_certificates_close_to_expiry_are_problems():
    instances, fixture = replay("debian13-bpo-dco", min_cert_days=900)
    for instance in instances:
        assert any(problem.startswith("cert ") and "(minimum 900)" in problem for problem in instance["problems"])


def test_a_stopped_client_is_unhealthy():
    fixture = asked_as_today(load_fixture(os.path.join(FIXTURES, "debian13-bpo-dco.json")))
    stopped = copy.deepcopy(fixture)
    show = SHOW + " openvpn-client@lab.service openvpn-server@lab.service"
    client, server = stopped["probe"]["run"][show][1].split("\n\n")
    pid = [line.split("=")[1] for line in client.splitlines() if line.startswith("MainPID=")][0]
    stopped["probe"]["run"][show] = [0, "Id=openvpn-client@lab.service\nMainPID=0\nActiveState=inactive\n\n" + server, ""]
    stopped["probe"]["listdir"]["/proc"].remove(pid)
    instances = tunnels.gather(ReplayTunnelHost(stopped), fixture["options"])
    client = next(i for i in instances if i["unit"] == "openvpn-client@lab.service")
    assert not client["healthy"]
    assert client["problems"][0].startswith("not running (inactive): start it with 'systemctl start openvpn-client@lab.service'")


@pytest.mark.parametrize("name,dco", [("debian12-dco", True), ("container-userspace", False)])
def test_without_pyroute2_the_log_says_whether_dco_is_on(name, dco):
    fixture = asked_as_today(load_fixture(os.path.join(FIXTURES, name + ".json")))
    missing = copy.deepcopy(fixture)
    # What TunnelHost.link answers on a host without python3-pyroute2.
    for key in missing["host"]["link"]:
        missing["host"]["link"][key] = {"error": "python3-pyroute2 is missing on the host"}
    instances = tunnels.gather(ReplayTunnelHost(missing), fixture["options"])
    assert instances
    for instance in instances:
        assert instance["dco_active"] is dco and instance["link_kind"] is None and instance["peers"] is None
        assert "python3-pyroute2 is missing on the host" in instance["problems"]
        assert (instance["dco_off_reason"] is None) is dco


@pytest.mark.parametrize("lines,expected", [
    (["OpenVPN 2.6.14 x86_64", "DCO device tun0 opened"], ("tun0", True, None)),
    (["2026-11-25 04:18:37 us=1 Note: '--allow-compression' is not set to 'no', disabling data channel offload.",
      "TUN/TAP device tun3 opened"], ("tun3", False, "Note: '--allow-compression' is not set to 'no', disabling data channel offload.")),
])
def test_what_the_log_says(lines, expected):
    said = tunnels.what_the_log_says(lines)
    assert (said["device"], said["device_dco"], said["dco_off_reason"]) == expected


def test_route_gateway_or_net30_pushed_route():
    assert tunnels.what_the_log_says(["PUSH: Received control message: 'PUSH_REPLY,route-gateway 10.8.11.1,topology subnet'"])[
        "route_gateway"] == "10.8.11.1"
    assert tunnels.what_the_log_says(["PUSH: Received control message: 'PUSH_REPLY,route 10.8.1.1,topology net30,ping 10'"])[
        "route_gateway"] == "10.8.1.1"


def test_management_status_parsing():
    text = ("TITLE\tOpenVPN 2.6.14\nTIME\t2026-11-25 04:00:00\t1795000000\n"
            "HEADER\tCLIENT_LIST\tCommon Name\tReal Address\tVirtual Address\tVirtual IPv6 Address\tBytes Received\t"
            "Bytes Sent\tConnected Since\tConnected Since (time_t)\tUsername\tClient ID\tPeer ID\tData Channel Cipher\n"
            "CLIENT_LIST\talice\t192.0.2.21:45742\t10.30.0.2\t\t5123\t4096\t2026-11-25 03:39:02\t1794990000\tUNDEF\t0\t0\tAES-256-GCM\n")
    assert tunnels.parse_management_status(text) == [{
        "common_name": "alice", "real_address": "192.0.2.21:45742", "vpn_ipv4": "10.30.0.2", "bytes_received": 5123,
        "bytes_sent": 4096, "connected_since": "2026-11-25 03:39:02", "peer_id": 0}]
    assert tunnels.parse_management_state("1795000000,CONNECTED,SUCCESS,10.30.0.2,192.0.2.11,1195,,\n") == {
        "since": 1795000000, "state": "CONNECTED", "vpn_ipv4": "10.30.0.2"}


def test_daemon_argv_options():
    argv = ["openvpn", "--daemon", "openvpn-server-lab", "--cd", "/etc/openvpn/server", "--config", "lab.conf",
            "--log", "/var/log/openvpn/server-lab.log"]
    assert [tunnels.argv_option(argv, name) for name in ("cd", "config", "log", "writepid")] == [
        "/etc/openvpn/server", "lab.conf", "/var/log/openvpn/server-lab.log", None]


def test_now_is_recorded_so_days_are_stable():
    fixture = load_fixture(os.path.join(FIXTURES, "debian12-dco.json"))
    assert datetime.datetime.fromisoformat(fixture["now"]).tzinfo is not None


@pytest.mark.parametrize("lines, address", [
    (["server 10.8.11.0 255.255.255.0"], "10.8.11.1"),
    (["topology net30", "server 10.30.0.0 255.255.255.0"], "10.30.0.1"),
    (["ifconfig 10.4.0.1 10.4.0.2", "server 10.8.0.0 255.255.255.0"], "10.4.0.1"),
    (["client"], None),
    (["server not-an-address 255.255.255.0"], None),
])
def test_tunnel_address_from_the_config(lines, address):
    from ansible_collections.ovpnfleet.dco.plugins.module_utils.openvpn._config import parse_text
    last = {d.name: d for d in parse_text("\n".join(lines) + "\n", "/etc/openvpn/x.conf").directives}
    assert tunnels.tunnel_address(last) == address


class _Systemd:
    """systemctl answering list-units and show as systemd 252 does (Debian 12, seen on the lab)."""

    def __init__(self, listed, shown):
        self.listed, self.shown, self.asked = listed, shown, []

    def run(self, argv):
        self.asked.append(argv)
        return CommandResult(0, self.listed if argv[1] == "list-units" else self.shown, "")


def test_list_units_asks_systemctl_show_once_and_matches_blocks_by_id():
    listed = ("openvpn-client@lab.service loaded active running OpenVPN tunnel for lab\n"
              "openvpn-server@lab.service loaded active running OpenVPN service for lab\n"
              "openvpn@gone.service not-found inactive dead openvpn@gone.service\n")
    # Blocks in another order than asked, and none for the third unit.
    shown = ("MainPID=1039\nId=openvpn-server@lab.service\nActiveState=active\n\n"
             "MainPID=1120\nId=openvpn-client@lab.service\nActiveState=active\n")
    probe = _Systemd(listed, shown)
    assert tunnels.list_units(probe) == [("openvpn-client@lab.service", "active", 1120),
                                         ("openvpn-server@lab.service", "active", 1039),
                                         ("openvpn@gone.service", "unknown", 0)]
    assert probe.asked[1:] == [["systemctl", "show", "--property=Id,ActiveState,MainPID", "--",
                                "openvpn-client@lab.service", "openvpn-server@lab.service", "openvpn@gone.service"]]


def test_list_units_without_openvpn_units_shows_nothing():
    probe = _Systemd("", "Id=\nActiveState=active\nMainPID=1\n")
    assert tunnels.list_units(probe) == []
    assert [argv[1] for argv in probe.asked] == ["list-units"]


def _converged_debian12_facts():
    """The recorded Debian 12 host with ovpn-dco-v2 loaded, as the lab's converged VM has it."""
    record = copy.deepcopy(load_fixture(os.path.join(FIXTURES, "..", "host_info", "debian12-fresh.json"))["probe"])
    record["exists"]["/sys/module/ovpn_dco_v2"] = True
    record["read"]["/sys/module/ovpn_dco_v2/version"] = "0.0+git20231103\n"
    return record


@pytest.mark.parametrize("access_server, asks_apt", [
    (False, False),  # OpenVPN 2.6's module is loaded: nothing apt offers changes the verdict
    (True, True),    # Access Server's own version may need another module's packages
])
def test_tunnel_info_asks_apt_on_a_converged_host_only_beside_access_server(monkeypatch, access_server, asks_apt):
    from ansible_collections.ovpnfleet.dco.plugins.modules import tunnel_info
    from ansible_collections.ovpnfleet.dco.tests.unit.plugins.module_utils.tunnels.test_tunnels_access_server import (
        PARAMS,
        plain_and_access_server,
    )
    fixture = plain_and_access_server() if access_server else asked_as_today(
        load_fixture(os.path.join(FIXTURES, "debian12-dco.json")))
    without_access_server(fixture["probe"])
    asked = []

    class Facts(ReplayProbe):
        def run(self, argv):
            asked.append(argv[0])
            return super().run(argv)

    def gather(_probe, **options):
        return gather_host_facts(Facts(_converged_debian12_facts()), **options)

    monkeypatch.setattr(tunnel_info, "gather_host_facts", gather)
    quick = tunnel_info.tunnel_info(dict(PARAMS), ReplayTunnelHost(fixture))
    assert ("apt-cache" in asked) is asks_apt
    # Asking apt anyway changes nothing tunnel_info reports.
    monkeypatch.setattr(tunnel_info, "gather_host_facts",
                        lambda _probe, **options: gather(_probe, **dict(options, packages_if_ready=True)))
    assert tunnel_info.tunnel_info(dict(PARAMS), ReplayTunnelHost(fixture)) == quick
    assert quick["readiness"]["status"] == "ready"
