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

import struct

import pytest

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
    return recording, _nl_peers.decode_peers(family, [bytes.fromhex(raw) for raw in recording[when]])


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


def kernel_answering(family_id_reply, dump_reply):
    """A netlink socket: the family lookup, then the dump, each answered by a function of the seq."""
    class Kernel:
        def __init__(self):
            self.sent, self.answers, self.closed = [], [family_id_reply, dump_reply], False

        def send(self, data):
            self.sent.append(data)

        def recv(self, size):
            return self.answers.pop(0)(struct.unpack_from("=IHHII", self.sent[-1])[3])

        def close(self):
            self.closed = True
    return Kernel()


def kernel_error(code):
    return lambda seq: struct.pack("=IHHII", 36, 2, 0, seq, 0) + struct.pack("=i", -code) + b"\0" * 16


def family_id(number):
    attrs = struct.pack("=HHH2x", 6, 1, number)
    return lambda seq: struct.pack("=IHHII", 16 + 4 + len(attrs), 0x10, 0, seq, 0) + struct.pack("=BBH", 1, 2, 0) + attrs


@pytest.mark.parametrize("sock, message", [
    (kernel_answering(kernel_error(errno.ENOENT), None),
     "generic netlink family 'ovpn' not found: is the ovpn kernel module loaded?"),
    (kernel_answering(family_id(0x22), kernel_error(errno.EPERM)), "the kernel wants CAP_NET_ADMIN: run with become"),
    (kernel_answering(family_id(0x22), kernel_error(errno.EINVAL)), "read peers of interface 7 over ovpn: .*Invalid argument"),
])
def test_kernel_errors_become_actionable_messages(sock, message):
    with pytest.raises(_nl_peers.NetlinkFamilyError, match=message.replace("?", r"\?")):
        _nl_peers.kernel_peers("ovpn", 7, sock=sock)
    assert sock.closed


@pytest.mark.parametrize("name, link_kind, family", RECORDINGS)
def test_a_dump_is_asked_of_the_resolved_family_and_decoded(name, link_kind, family):
    with open(os.path.join(FIXTURES, name + ".json")) as handle:
        recorded = json.load(handle)

    def dump(seq):
        messages = b"".join(bytes.fromhex(raw) for raw in recorded["before"])
        return messages + struct.pack("=IHHII", 20, 3, 2, seq, 0) + b"\0" * 4
    sock = kernel_answering(family_id(0x1F), dump)
    (peer,) = _nl_peers.kernel_peers(link_kind, recorded["ifindex"], sock=sock)
    assert peer["vpn_ipv4"] == "10.8.0.2"
    lookup, request = sock.sent
    assert family.FAMILY.encode() + b"\0" in lookup
    # The dump goes to the id the lookup returned, flagged REQUEST|DUMP, for the recorded interface.
    assert struct.unpack_from("=IHH", request)[1:] == (0x1F, 0x301)
    assert request[16] == family.get_peers_request(0)[0]
    assert struct.unpack_from("=HHI", request, 20) == (8, 1, recorded["ifindex"])
