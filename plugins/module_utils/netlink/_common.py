# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decoding helpers shared by the two DCO generic netlink families: attribute payloads to values."""

from __future__ import annotations

import ipaddress
import socket
import struct
import sys


def format_ip(raw):
    """4 or 16 bytes in network order (or an int already decoded as big-endian) to text."""
    if raw is None:
        return None
    if isinstance(raw, int):
        return str(ipaddress.IPv4Address(raw))
    if len(raw) == 4:
        return str(ipaddress.IPv4Address(raw))
    if len(raw) == 16:
        return str(ipaddress.IPv6Address(raw))
    return None


def decode_sockaddr(raw):
    """A struct sockaddr_in or sockaddr_in6 to ``(address, port)``; None when unknown."""
    if not raw or len(raw) < 2:
        return None
    family = struct.unpack_from("=H", raw)[0]
    if family == socket.AF_INET and len(raw) >= 8:
        port = struct.unpack_from("!H", raw, 2)[0]
        return str(ipaddress.IPv4Address(raw[4:8])), port
    if family == socket.AF_INET6 and len(raw) >= 24:
        port = struct.unpack_from("!H", raw, 2)[0]
        return str(ipaddress.IPv6Address(raw[8:24])), port
    return None


def decode_uint(raw):
    """A netlink ``uint``: 4 or 8 bytes in host order (the kernel picks the size)."""
    if raw is None:
        return None
    return int.from_bytes(raw, sys.byteorder)


def u32(raw):
    return struct.unpack("=I", raw)[0] if raw is not None and len(raw) == 4 else None


def u32_bytes(value):
    return struct.pack("=I", value)


def s32(raw):
    return struct.unpack("=i", raw)[0] if raw is not None and len(raw) == 4 else None


def u64(raw):
    return struct.unpack("=Q", raw)[0] if raw is not None and len(raw) == 8 else None


def be16(raw):
    """A port: 2 bytes in network order."""
    return struct.unpack("!H", raw)[0] if raw is not None and len(raw) == 2 else None


def raw_bytes(raw):
    return raw


def decode_table(table, attributes):
    """``{name: value}`` of a parsed attribute dict through ``table``: (name, decoder) per attribute
    number, in the kernel enum's order; unknown numbers (newer kernels) are ignored."""
    values = {}
    for number, (name, decode) in enumerate(table):
        if decode is not None and number in attributes:
            values[name] = decode(attributes[number])
    return values


# Keys of the collection's peer dict both families fill from attributes of the same name.
SHARED_PEER_KEYS = ("keepalive_interval", "keepalive_timeout", "vpn_rx_bytes", "vpn_tx_bytes", "vpn_rx_packets",
                    "vpn_tx_packets", "link_rx_bytes", "link_tx_bytes", "link_rx_packets", "link_tx_packets")


def shared_peer_values(values):
    """Keepalive and counters of a decoded peer, under the collection's keys."""
    return {key: values.get(key.upper()) for key in SHARED_PEER_KEYS}
