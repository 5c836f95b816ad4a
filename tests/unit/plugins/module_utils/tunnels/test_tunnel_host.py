# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""TunnelHost.link: tun devices from sysfs, everything else over rtnetlink (pyroute2)."""

from __future__ import annotations

import sys

from ansible_collections.ovpnfleet.dco.plugins.module_utils.tunnels._host import PYROUTE2_MISSING, TunnelHost


class SysfsProbe:
    def __init__(self, files):
        self.files = files

    def exists(self, path):
        return path in self.files

    def read(self, path):
        return self.files.get(path)


def test_a_tun_device_is_known_from_sysfs_without_pyroute2(monkeypatch):
    # The tun driver's attribute, as on the lab containers' tun0.
    probe = SysfsProbe({"/sys/class/net/tun0/tun_flags": "0x1001\n", "/sys/class/net/tun0/ifindex": "7\n"})
    monkeypatch.setitem(sys.modules, "pyroute2", None)
    assert TunnelHost(probe).link("tun0") == {"ifindex": 7, "kind": "tun", "addresses": None}


def test_any_other_device_needs_rtnetlink_and_says_so_without_pyroute2(monkeypatch):
    probe = SysfsProbe({"/sys/class/net/tun0/ifindex": "7\n"})
    monkeypatch.setitem(sys.modules, "pyroute2", None)
    assert TunnelHost(probe).link("tun0") == {"error": PYROUTE2_MISSING}
    assert TunnelHost(probe).first_host("tun0") is None


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
