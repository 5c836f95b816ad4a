# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decode peer dumps recorded from real kernels (tests/unit/fixtures/netlink/).

The expected values do not come from the decoder: addresses and keepalive come from the
OpenVPN configs of the recording, and the counters must grow by the 20 pings sent between
the two dumps (84 bytes each at the VPN layer: 20 bytes of IPv4 header, 64 of ICMP).
"""

from __future__ import annotations

import errno
import json
import os

import pytest
from pyroute2.netlink.exceptions import NetlinkError

from ansible_collections.ovpnfleet.dco.plugins.module_utils.netlink import _ovpn as _nl_ovpn
from ansible_collections.ovpnfleet.dco.plugins.module_utils.netlink import _ovpn_dco_v2 as _nl_ovpn_dco_v2
from ansible_collections.ovpnfleet.dco.plugins.module_utils.netlink import _peers as _nl_peers

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "fixtures", "netlink")
RECORDINGS = [("debian12-ovpn-dco-v2", "ovpn-dco", _nl_ovpn_dco_v2),
              ("debian13-bpo-ovpn", "ovpn", _nl_ovpn)]
ICMP_PACKET_BYTES = 84


def decoded(name, family, when):
    with open(os.path.join(FIXTURES, name + ".json")) as handle:
        recording = json.load(handle)
    replies = []
    for raw in recording[when]:
        reply = family.MESSAGE(bytes.fromhex(raw))
        reply.decode()
        replies.append(reply)
    return recording, _nl_peers.decode_peers(family, replies)


@pytest.mark.parametrize("name, link_kind, family", RECORDINGS)
def test_peer_identity_matches_the_recorded_configs(name, link_kind, family):
    assert _nl_peers.family_for_link_kind(link_kind) is family
    _recording, (peer,) = decoded(name, family, "before")
    assert peer["vpn_ipv4"] == "10.8.0.2"
    assert peer["remote_address"] == "192.0.2.2"
    assert peer["local_address"] == "192.0.2.1"
    assert peer["local_port"] == 1194
    assert 1024 <= peer["remote_port"] <= 65535
    assert (peer["keepalive_interval"], peer["keepalive_timeout"]) == (10, 120)


@pytest.mark.parametrize("name, link_kind, family", RECORDINGS)
def test_counters_grow_by_the_pings_sent(name, link_kind, family):
    recording, (before,) = decoded(name, family, "before")
    _recording, (after,) = decoded(name, family, "after")
    pings = recording["pings"]
    for direction in ("rx", "tx"):
        assert after["vpn_%s_packets" % direction] - before["vpn_%s_packets" % direction] == pings
        assert after["vpn_%s_bytes" % direction] - before["vpn_%s_bytes" % direction] == pings * ICMP_PACKET_BYTES
        assert after["link_%s_bytes" % direction] > after["vpn_%s_bytes" % direction]


class FakeSocket:
    """Stands in for GenericNetlinkSocket where the kernel answers with an error."""

    prid = 0x20

    def __init__(self, bind_error=None, request_error=None):
        self.bind_error, self.request_error, self.closed = bind_error, request_error, False

    def bind(self, name, message):
        if self.bind_error:
            raise NetlinkError(self.bind_error)

    def nlm_request(self, msg, msg_type, msg_flags):
        raise NetlinkError(self.request_error)

    def close(self):
        self.closed = True


@pytest.mark.parametrize("sock, message", [
    (FakeSocket(bind_error=errno.ENOENT), "generic netlink family 'ovpn' not found: is the ovpn kernel module loaded?"),
    (FakeSocket(request_error=errno.EPERM), "the kernel wants CAP_NET_ADMIN: run with become"),
])
def test_kernel_errors_become_actionable_messages(sock, message):
    with pytest.raises(_nl_peers.NetlinkFamilyError, match=message.replace("?", r"\?")):
        _nl_peers.kernel_peers("ovpn", 7, socket_factory=lambda: sock)
    assert sock.closed
