# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab's container servers have tunnel addresses for every client of a 100-container lab."""

from __future__ import annotations

import ipaddress
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", ".."))
from tests.lab import brownfield  # noqa: E402  pylint: disable=wrong-import-position


def test_each_container_server_has_a_net30_address_for_twice_its_clients(monkeypatch):
    # The lab's PKI exists only after `tests.lab up`; the configs are what this test reads.
    monkeypatch.setattr(brownfield.pki, "read", "PEM of {0}".format)
    containers = {"ct%02d" % n: {"address": "10.89.0.%d" % (n + 1)} for n in range(1, 101)}
    vms = {"debian12-1": {"lan_ip": "192.0.2.11"}, "debian13-bpo-1": {"lan_ip": "192.0.2.21"}}
    tunnels = brownfield.plan(vms, containers)
    by_server = {}
    for tunnel in tunnels:
        if tunnel["server"].startswith("ct"):
            by_server.setdefault(tunnel["server"], []).append(tunnel)
    networks = set()
    for server, served in by_server.items():
        network = ipaddress.ip_network("%s/%s" % (served[0]["network"], served[0]["netmask"]))
        networks.add(network)
        # net30: one /30 per client, the first for the server, the last unused. Twice the
        # clients: instances of removed clients hold theirs until their ping-restart.
        assert network.num_addresses // 4 - 2 >= 2 * len(served), server
        assert all(ipaddress.ip_address(t["gateway"]) == network.network_address + 1 for t in served)
    assert len(networks) == len(by_server) == 2
    assert not any(a.overlaps(b) for a in networks for b in networks if a != b)
    files = brownfield.host_files("ct01", tunnels)
    assert "server %s 255.255.252.0" % by_server["ct01"][0]["network"] in files["/etc/openvpn/server/lab.conf"][0]


def test_an_ssh_attempt_that_hangs_is_retried_until_the_deadline(monkeypatch):
    # `up --debian12 4` with three VMs booting under TCG: one check's SSH took over 30 s and the
    # LabError of that one attempt ended the whole `up`.
    import subprocess  # pylint: disable=import-outside-toplevel
    attempts = []

    def ssh(host, command, check, timeout):
        attempts.append(host["name"])
        if len(attempts) == 1:
            raise brownfield.LabError("`ssh -o StrictHostKeyChecking=no` did not finish within 30 s")
        return subprocess.CompletedProcess([], 0, stdout="10.8.2.1 dev tun0 src 10.8.2.6\n"
                                           "3 packets transmitted, 3 received, 0% packet loss\n"
                                           "rtt min/avg/max/mdev = 1.0/2.5/4.0/1.0 ms\n")

    monkeypatch.setattr(brownfield, "ssh", ssh)
    monkeypatch.setattr(brownfield.time, "sleep", lambda seconds: None)
    monkeypatch.setattr(brownfield, "log", lambda line: None)
    tunnel = {"server": "debian12-3", "client": "debian12-2", "gateway": "10.8.2.1"}
    [result] = brownfield.check([tunnel], {"debian12-2": {"name": "debian12-2"}})
    assert result["ok"] and attempts == ["debian12-2", "debian12-2"]
    assert result["detail"] == "via tun0, 3/3 replies, avg 2.5 ms"


def test_a_tunnel_that_never_answers_says_why(monkeypatch):
    import subprocess  # pylint: disable=import-outside-toplevel
    monkeypatch.setattr(brownfield, "ssh", lambda host, command, check, timeout: subprocess.CompletedProcess(
        [], 1, stdout="3 packets transmitted, 0 received, 100% packet loss\n"))
    monkeypatch.setattr(brownfield.time, "sleep", lambda seconds: None)
    monkeypatch.setattr(brownfield, "log", lambda line: None)
    tunnel = {"server": "ct01", "client": "ct03", "gateway": "10.9.0.1"}
    [result] = brownfield.check([tunnel], {"ct03": {"name": "ct03"}}, deadline_seconds=0)
    assert not result["ok"] and result["detail"].startswith("NO REPLY: 3 packets transmitted, 0 received")


def test_a_rewritten_server_takes_its_clients_along_and_a_new_client_leaves_its_server():
    vms = {name: {"lan_ip": ip} for name, ip in (("debian12-1", "192.0.2.11"), ("debian13-bpo-1", "192.0.2.21"))}
    grown = dict(vms, **{"debian12-%d" % n: {"lan_ip": "192.0.2.1%d" % n} for n in (2, 3, 4)})
    containers = {"ct%02d" % n: {"address": "10.89.0.%d" % (n + 1)} for n in range(1, 22)}
    tunnels = brownfield.plan(grown, containers)
    # Growing the ring rewrites debian12-1 (its client's server moved) and the new VMs; debian13's
    # files did not change, but its converted client would not talk to debian12-1's legacy server.
    rewritten = brownfield.with_clients_of_servers(tunnels, {"debian12-1", "debian12-2", "debian12-3", "debian12-4"})
    assert "debian13-bpo-1" in rewritten
    # A container client added to the lab: its converted server takes legacy clients and stays.
    assert brownfield.with_clients_of_servers(tunnels, {"ct21"}) == {"ct21"}
    # A container server rewritten: every client of it follows, the other server's do not.
    followers = brownfield.with_clients_of_servers(tunnels, {"ct01"})
    assert followers == {"ct01"} | {t["client"] for t in tunnels if t["server"] == "ct01"}
    assert "ct02" not in followers
