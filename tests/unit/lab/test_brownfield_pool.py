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
