# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The standard-library netlink client against kernel replies recorded on the lab.

The expected values are iproute2's decoding of the same interface, recorded beside the raw
replies (tests/unit/fixtures/netlink/record_links.py), not the decoder's own output.
"""

from __future__ import annotations

import errno
import json
import os
import struct

import pytest

from ansible_collections.ovpnfleet.dco.plugins.module_utils.netlink import _socket
from ansible_collections.ovpnfleet.dco.plugins.module_utils.tunnels._host import TunnelHost

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "fixtures", "netlink")
LINK_RECORDINGS = ["links-debian12-ovpn-dco-server", "links-debian13-bpo-ovpn-client", "links-container-tun"]


def recording(name):
    with open(os.path.join(FIXTURES, name + ".json")) as handle:
        return json.load(handle)


def done(seq, code=0):
    return struct.pack("=IHHII", 20, _socket.NLMSG_DONE, 2, seq, 0) + struct.pack("=i", code)


def error(seq, code):
    return struct.pack("=IHHII", 36, _socket.NLMSG_ERROR, 0, seq, 0) + struct.pack("=i", -code) + b"\0" * 16


class Kernel:
    """A netlink socket whose answers are queued per request: a list of datagrams each."""

    def __init__(self, *answers):
        self.answers, self.sent, self.closed = list(answers), [], False

    def send(self, data):
        self.sent.append(data)

    def recv(self, size):
        seq = struct.unpack_from("=IHHII", self.sent[-1])[3]
        datagram = self.answers[0].pop(0)
        if not self.answers[0]:
            self.answers.pop(0)
        return datagram(seq) if callable(datagram) else datagram

    def close(self):
        self.closed = True


def with_seq(message_hex):
    """A recorded message, renumbered to the request being answered."""
    raw = bytearray(bytes.fromhex(message_hex))

    def answer(seq):
        struct.pack_into("=I", raw, 8, seq)
        return bytes(raw)
    return answer


@pytest.mark.parametrize("name", LINK_RECORDINGS)
def test_link_kind_and_index_are_iproute2s(name):
    fixture = recording(name)
    kernel = Kernel([with_seq(fixture["getlink"][0])])
    link = _socket.link_by_name(fixture["ifname"], sock=kernel)
    assert link == {"ifindex": fixture["ip_link"][0]["ifindex"], "kind": fixture["ip_link"][0]["linkinfo"]["info_kind"]}
    assert kernel.closed


@pytest.mark.parametrize("name", LINK_RECORDINGS)
def test_ipv4_addresses_are_iproute2s(name):
    fixture = recording(name)
    ifindex = fixture["ip_link"][0]["ifindex"]
    # The dump answers for every interface of the host, in one datagram, ended by DONE.

    def datagram(seq):
        return b"".join(with_seq(raw)(seq) for raw in fixture["getaddr_dump"]) + done(seq)
    expected = ["%s/%d" % (address.get("address", address["local"]), address["prefixlen"])
                for entry in fixture["ip_addr"] for address in entry["addr_info"]]
    assert _socket.ipv4_addresses(ifindex, sock=Kernel([datagram])) == expected
    assert expected


def test_the_link_request_is_the_one_the_recorder_sent():
    kernel = Kernel([with_seq(recording(LINK_RECORDINGS[0])["getlink"][0])])
    _socket.link_by_name("tun0", sock=kernel)
    name = b"tun0\0"
    expected = (struct.pack("=BxHiII", 0, 0, 0, 0, 0) + struct.pack("=HH", 4 + len(name), 3) + name + b"\0" * 3)
    assert kernel.sent[0][16:] == expected
    assert struct.unpack_from("=IHH", kernel.sent[0]) == (16 + len(expected), _socket.RTM_GETLINK, _socket.NLM_F_REQUEST)


def test_a_dump_split_over_datagrams_is_read_to_its_end():
    fixture = recording("links-debian12-ovpn-dco-server")
    parts = [with_seq(raw) for raw in fixture["getaddr_dump"]] + [done]
    ifindex = fixture["ip_link"][0]["ifindex"]
    assert _socket.ipv4_addresses(ifindex, sock=Kernel(parts)) == ["10.8.1.1/24"]


def test_answers_to_an_earlier_request_are_skipped():
    fixture = recording("links-debian12-ovpn-dco-server")

    def stale(seq):
        return with_seq(fixture["getlink"][0])(seq + 7)
    kernel = Kernel([stale, with_seq(fixture["getlink"][0])])
    assert _socket.link_by_name("tun0", sock=kernel)["kind"] == "ovpn-dco"


@pytest.mark.parametrize("code", [errno.ENODEV, errno.EPERM])
def test_a_kernel_error_raises_with_its_code(code):
    with pytest.raises(_socket.NetlinkError) as raised:
        _socket.link_by_name("tun9", sock=Kernel([lambda seq: error(seq, code)]))
    assert raised.value.errno == code
    assert "read link tun9" in str(raised.value)


def test_an_error_in_a_dumps_done_raises():
    with pytest.raises(_socket.NetlinkError) as raised:
        _socket.ipv4_addresses(3, sock=Kernel([lambda seq: done(seq, -errno.EINTR)]))
    assert raised.value.errno == errno.EINTR


def test_a_missing_interface_reads_as_restarting(monkeypatch):
    def missing(ifname):
        raise _socket.NetlinkError(errno.ENODEV, "read link %s" % ifname)
    from ansible_collections.ovpnfleet.dco.plugins.module_utils.tunnels import _host
    monkeypatch.setattr(_host, "link_by_name", missing)
    assert TunnelHost(probe=None).link("tun9") == {
        "error": "interface tun9 does not exist although OpenVPN opened it: is the instance restarting?"}
    assert TunnelHost(probe=None).first_host("tun9") is None


def test_attributes_with_flag_bits_and_padding_parse():
    nested = _socket.attribute(1, b"ovpn\0")
    data = struct.pack("=HH", 4 + len(nested), 18 | 0x8000) + nested + _socket.attribute(3, b"x\0")
    assert _socket.parse_attributes(data) == {18: nested, 3: b"x\0"}
    assert _socket.parse_attributes(nested) == {1: b"ovpn\0"}
    # A length that runs past the data ends the walk instead of reading garbage.
    assert _socket.parse_attributes(struct.pack("=HH", 40, 1) + b"abcd") == {}
