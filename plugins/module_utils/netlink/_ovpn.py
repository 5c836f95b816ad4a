# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Generic netlink family ``ovpn`` of the in-tree module (Linux 6.16+) OpenVPN 2.7 uses.

Attribute numbers follow ``include/uapi/linux/ovpn.h`` (read from Debian's linux-libc-dev
7.3.4 in trixie-backports) and their types the kernel's ``Documentation/netlink/specs/ovpn.yaml``:
addresses and ports are big-endian, traffic counters are ``uint`` (4 or 8 bytes, host order).
``tx-id`` (24) is newer than 6.16; older kernels simply do not send it.
"""

from __future__ import annotations

from ansible_collections.ovpnfleet.dco.plugins.module_utils.netlink._common import (
    be16,
    decode_table,
    decode_uint,
    format_ip,
    raw_bytes,
    shared_peer_values,
    s32,
    u32,
    u32_bytes,
)
from ansible_collections.ovpnfleet.dco.plugins.module_utils.netlink._socket import attribute, genl_attributes, parse_attributes

FAMILY = "ovpn"
CMD_PEER_GET = 3

# enum ovpn_a (top level): OVPN_A_IFINDEX (u32), OVPN_A_PEER (nested ovpn_a_peer).
A_IFINDEX = 1
A_PEER = 2

# enum ovpn_a_peer, OVPN_A_PEER_ + name, in enum order (index = attribute number); traffic
# counters are netlink ``uint`` (4 or 8 bytes).
PEER_ATTRIBUTES = (
    ("UNSPEC", None),
    ("ID", u32),
    ("REMOTE_IPV4", raw_bytes),
    ("REMOTE_IPV6", raw_bytes),
    ("REMOTE_IPV6_SCOPE_ID", u32),
    ("REMOTE_PORT", be16),
    ("SOCKET", u32),
    ("SOCKET_NETNSID", s32),
    ("VPN_IPV4", raw_bytes),
    ("VPN_IPV6", raw_bytes),
    ("LOCAL_IPV4", raw_bytes),
    ("LOCAL_IPV6", raw_bytes),
    ("LOCAL_PORT", be16),
    ("KEEPALIVE_INTERVAL", u32),
    ("KEEPALIVE_TIMEOUT", u32),
    ("DEL_REASON", u32),
    ("VPN_RX_BYTES", decode_uint),
    ("VPN_TX_BYTES", decode_uint),
    ("VPN_RX_PACKETS", decode_uint),
    ("VPN_TX_PACKETS", decode_uint),
    ("LINK_RX_BYTES", decode_uint),
    ("LINK_TX_BYTES", decode_uint),
    ("LINK_RX_PACKETS", decode_uint),
    ("LINK_TX_PACKETS", decode_uint),
    ("TX_ID", u32),
)


def get_peers_request(ifindex):
    """The command and attributes of a PEER_GET dump of interface ``ifindex``."""
    return CMD_PEER_GET, attribute(A_IFINDEX, u32_bytes(ifindex))


def peer_from_reply(message):
    """One PEER_GET reply message to the collection's peer dict (the same keys for both families)."""
    nested = genl_attributes(message).get(A_PEER)
    if nested is None:
        return None
    peer = decode_table(PEER_ATTRIBUTES, parse_attributes(nested))
    get = peer.get
    remote = get("REMOTE_IPV4") or get("REMOTE_IPV6")
    local = get("LOCAL_IPV4") or get("LOCAL_IPV6")
    return dict(shared_peer_values(peer), **{
        "id": get("ID"),
        "remote_address": format_ip(remote),
        "remote_port": get("REMOTE_PORT"),
        "vpn_ipv4": format_ip(get("VPN_IPV4")),
        "vpn_ipv6": format_ip(get("VPN_IPV6")),
        "local_address": format_ip(local),
        "local_port": get("LOCAL_PORT"),
    })
