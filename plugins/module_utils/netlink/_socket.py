# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Netlink requests with the standard library: rtnetlink links and addresses, generic netlink dumps.

Why not pyroute2: importing it costs 2.2 s of a 5 s ``tunnel_info`` on a slow VM (measured under
qemu TCG), every sweep pays it on every host with a DCO device, and the collection asks four
questions: a link by name, its IPv4 addresses, a generic family's id, one dump. Message layouts
follow ``include/uapi/linux/netlink.h``, ``rtnetlink.h``, ``if_link.h``, ``if_addr.h`` and
``genetlink.h``; a family's attribute numbers live in its own file (``_ovpn.py``,
``_ovpn_dco_v2.py``), as tables that mirror the kernel's enums.
"""

from __future__ import annotations

import errno
import os
import socket
import struct

NETLINK_ROUTE = 0
NETLINK_GENERIC = 16

NLMSG_ERROR = 2
NLMSG_DONE = 3
NLM_F_REQUEST = 0x1
NLM_F_DUMP = 0x300

RTM_NEWLINK = 16
RTM_GETLINK = 18
RTM_NEWADDR = 20
RTM_GETADDR = 22
IFLA_IFNAME = 3
IFLA_LINKINFO = 18
IFLA_INFO_KIND = 1
IFA_ADDRESS = 1

GENL_ID_CTRL = 0x10
CTRL_CMD_GETFAMILY = 3
CTRL_ATTR_FAMILY_ID = 1
CTRL_ATTR_FAMILY_NAME = 2

NLA_TYPE_MASK = 0x3FFF  # without NLA_F_NESTED and NLA_F_NET_BYTEORDER
NLMSGHDR = struct.Struct("=IHHII")  # length, type, flags, seq, pid
GENLMSGHDR = struct.Struct("=BBH")  # cmd, version, reserved
IFINFOMSG = struct.Struct("=BxHiII")  # family, type, index, flags, change
IFADDRMSG = struct.Struct("=BBBBI")  # family, prefixlen, flags, scope, index
RECV_BYTES = 65536


class NetlinkError(OSError):
    """The kernel answered with an error; ``errno`` is its code."""

    def __init__(self, code, what):
        super().__init__(code, "%s: %s" % (what, os.strerror(code)))


def _align(length):
    return (length + 3) & ~3


def attribute(kind, payload):
    """One netlink attribute, padded to 4 bytes."""
    return struct.pack("=HH", 4 + len(payload), kind) + payload + b"\0" * (_align(4 + len(payload)) - 4 - len(payload))


def parse_attributes(data, offset=0):
    """``{type: payload}`` of the attributes from ``offset`` on; flag bits are masked off."""
    found = {}
    while offset + 4 <= len(data):
        length, kind = struct.unpack_from("=HH", data, offset)
        if length < 4 or offset + length > len(data):
            break
        found[kind & NLA_TYPE_MASK] = data[offset + 4:offset + length]
        offset += _align(length)
    return found


def messages_in(data):
    """``(type, message)`` of every netlink message in one datagram; message includes its header."""
    offset = 0
    while offset + NLMSGHDR.size <= len(data):
        length, kind = NLMSGHDR.unpack_from(data, offset)[:2]
        if length < NLMSGHDR.size or offset + length > len(data):
            break
        yield kind, data[offset:offset + length]
        offset += _align(length)


def genl_attributes(message):
    """The attributes of a generic netlink message (after its netlink and genl headers)."""
    return parse_attributes(message, NLMSGHDR.size + GENLMSGHDR.size)


class NetlinkSocket:
    """One netlink socket of ``protocol``; ``request`` sends a message and collects the replies."""

    def __init__(self, protocol, sock=None):
        self.sock = sock or socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, protocol)
        self.seq = 0
        if sock is None:
            self.sock.bind((0, 0))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.sock.close()

    def request(self, msg_type, payload, what, dump=False):
        """Every reply message to one request (all parts of a dump), or NetlinkError."""
        self.seq += 1
        flags = NLM_F_REQUEST | (NLM_F_DUMP if dump else 0)
        self.sock.send(NLMSGHDR.pack(NLMSGHDR.size + len(payload), msg_type, flags, self.seq, 0) + payload)
        replies = []
        while True:
            data = self.sock.recv(RECV_BYTES)
            if not data:
                raise NetlinkError(errno.EIO, what + " (the socket closed)")
            for kind, message in messages_in(data):
                if NLMSGHDR.unpack_from(message)[3] != self.seq:
                    continue  # a late answer to an earlier request
                if kind == NLMSG_ERROR or kind == NLMSG_DONE:
                    # An error carries a negative errno (0 is an acknowledgement); a dump's DONE
                    # may carry the error that ended it.
                    code = struct.unpack_from("=i", message, NLMSGHDR.size)[0] if len(message) >= NLMSGHDR.size + 4 else 0
                    if code < 0:
                        raise NetlinkError(-code, what)
                    return replies
                replies.append(message)
                if not dump:
                    return replies


def link_by_name(ifname, sock=None):
    """``{"ifindex", "kind"}`` of the interface ``ifname`` (kind None when it has no link info).

    NetlinkError ENODEV when it does not exist."""
    payload = IFINFOMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0) + attribute(IFLA_IFNAME, ifname.encode() + b"\0")
    with NetlinkSocket(NETLINK_ROUTE, sock) as nl:
        for message in nl.request(RTM_GETLINK, payload, "read link %s" % ifname):
            if NLMSGHDR.unpack_from(message)[1] != RTM_NEWLINK:
                continue
            index = IFINFOMSG.unpack_from(message, NLMSGHDR.size)[2]
            attrs = parse_attributes(message, NLMSGHDR.size + IFINFOMSG.size)
            info = parse_attributes(attrs.get(IFLA_LINKINFO, b""))
            kind = info.get(IFLA_INFO_KIND)
            return {"ifindex": index, "kind": kind.rstrip(b"\0").decode("ascii", "replace") if kind else None}
    raise NetlinkError(errno.ENODEV, "read link %s" % ifname)


def ipv4_addresses(ifindex, sock=None):
    """``["address/prefixlen", ...]`` of interface ``ifindex`` (IFA_ADDRESS, as ``ip addr`` shows it)."""
    found = []
    with NetlinkSocket(NETLINK_ROUTE, sock) as nl:
        for message in nl.request(RTM_GETADDR, IFADDRMSG.pack(socket.AF_INET, 0, 0, 0, 0),
                                  "read addresses of interface %d" % ifindex, dump=True):
            if NLMSGHDR.unpack_from(message)[1] != RTM_NEWADDR:
                continue
            family, prefixlen, _flags, _scope, index = IFADDRMSG.unpack_from(message, NLMSGHDR.size)
            address = parse_attributes(message, NLMSGHDR.size + IFADDRMSG.size).get(IFA_ADDRESS)
            if family == socket.AF_INET and index == ifindex and address and len(address) == 4:
                found.append("%s/%d" % (socket.inet_ntoa(address), prefixlen))
    return found


def genl_family_id(nl, name):
    """The id of generic netlink family ``name``; NetlinkError ENOENT when no module registered it."""
    payload = GENLMSGHDR.pack(CTRL_CMD_GETFAMILY, 1, 0) + attribute(CTRL_ATTR_FAMILY_NAME, name.encode() + b"\0")
    for message in nl.request(GENL_ID_CTRL, payload, "resolve generic netlink family %s" % name):
        family_id = genl_attributes(message).get(CTRL_ATTR_FAMILY_ID)
        if family_id and len(family_id) >= 2:
            return struct.unpack_from("=H", family_id)[0]
    raise NetlinkError(errno.ENOENT, "resolve generic netlink family %s" % name)


def genl_dump(family_name, cmd, attributes, sock=None):
    """Every reply message of a dump of ``cmd`` in family ``family_name``, with ``attributes`` (bytes)."""
    with NetlinkSocket(NETLINK_GENERIC, sock) as nl:
        family_id = genl_family_id(nl, family_name)
        return nl.request(family_id, GENLMSGHDR.pack(cmd, 1, 0) + attributes,
                          "dump %s command %d" % (family_name, cmd), dump=True)
