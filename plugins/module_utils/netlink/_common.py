# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decoding helpers shared by the two DCO generic netlink families."""

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
