# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""TunnelHost: the link and its subnet over rtnetlink, the management reply's size limit."""

from __future__ import annotations

import errno

import pytest

from ansible_collections.ovpnfleet.dco.plugins.module_utils.netlink import _socket
from ansible_collections.ovpnfleet.dco.plugins.module_utils.tunnels import _host
from ansible_collections.ovpnfleet.dco.plugins.module_utils.tunnels._host import TunnelHost


@pytest.mark.parametrize("kind, expected", [("ovpn-dco", "ovpn-dco"), ("ovpn", "ovpn"), ("tun", "tun"), (None, "tun")])
def test_link_kind_comes_from_rtnetlink(monkeypatch, kind, expected):
    monkeypatch.setattr(_host, "link_by_name", lambda ifname: {"ifindex": 7, "kind": kind})
    assert TunnelHost(probe=None).link("tun0") == {"ifindex": 7, "kind": expected}


@pytest.mark.parametrize("addresses, server", [(["10.8.1.1/24"], "10.8.1.1"), (["10.8.1.7/24"], "10.8.1.1"),
                                               (["10.9.0.2/32"], None), ([], None)])
def test_first_host_is_the_subnets_first_address(monkeypatch, addresses, server):
    monkeypatch.setattr(_host, "link_by_name", lambda ifname: {"ifindex": 7, "kind": "ovpn"})
    monkeypatch.setattr(_host, "ipv4_addresses", lambda ifindex: addresses if ifindex == 7 else ["192.0.2.1/24"])
    assert TunnelHost(probe=None).first_host("tun0") == server


def test_an_unreadable_link_says_why_in_the_kernels_words(monkeypatch):
    def denied(ifname):
        raise _socket.NetlinkError(errno.EPERM, "read link %s" % ifname)
    monkeypatch.setattr(_host, "link_by_name", denied)
    assert TunnelHost(probe=None).link("tun0") == {"error": "read link tun0: Operation not permitted"}


def test_a_management_reply_without_end_is_cut_off(monkeypatch):
    from ansible_collections.ovpnfleet.dco.plugins.module_utils.tunnels import _host as _tunnel_host
    monkeypatch.setattr(_tunnel_host, "MANAGEMENT_MAX_CHARS", 100)
    endless = iter(["CLIENT_LIST,alice\n"] * 1000)
    try:
        _tunnel_host.read_until_end(endless)
    except OSError as error:
        assert "more than 100 characters without END" in str(error)
    else:
        raise AssertionError("an endless reply was read to its end")
    assert _tunnel_host.read_until_end(iter(["a\n", "END\n", "after\n"])) == "a\n"
