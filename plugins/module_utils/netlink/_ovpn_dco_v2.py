# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Generic netlink family ``ovpn-dco-v2`` of the out-of-tree module OpenVPN 2.6 uses.

Attribute numbers and types follow ovpn-dco's ``include/uapi/linux/ovpn_dco.h`` (enums
``ovpn_nl_commands``, ``ovpn_netlink_attrs``, ``ovpn_netlink_get_peer_response_attrs``) and
the ``nla_put_*`` calls of ``drivers/net/ovpn-dco/netlink.c`` (byte counters are u64 with
pad attributes, packet counters u32, the local port big-endian).
"""

from __future__ import annotations

from ansible_collections.ovpnfleet.dco.plugins.module_utils.netlink._common import (
    be16,
    decode_sockaddr,
    decode_table,
    format_ip,
    raw_bytes,
    shared_peer_values,
    u32,
    u32_bytes,
    u64,
)
from ansible_collections.ovpnfleet.dco.plugins.module_utils.netlink._socket import attribute, genl_attributes, parse_attributes

FAMILY = "ovpn-dco-v2"
CMD_GET_PEER = 7

# enum ovpn_netlink_attrs: OVPN_ATTR_IFINDEX (u32) ... OVPN_ATTR_GET_PEER (nested).
ATTR_IFINDEX = 1
ATTR_GET_PEER = 8

# enum ovpn_netlink_get_peer_response_attrs, OVPN_GET_PEER_RESP_ATTR_ + name, in enum order
# (index = attribute number).
PEER_ATTRIBUTES = (
    ("UNSPEC", None),
    ("PEER_ID", u32),
    ("SOCKADDR_REMOTE", raw_bytes),
    ("IPV4", raw_bytes),
    ("IPV6", raw_bytes),
    ("LOCAL_IP", raw_bytes),
    ("LOCAL_PORT", be16),
    ("KEEPALIVE_INTERVAL", u32),
    ("KEEPALIVE_TIMEOUT", u32),
    ("VPN_RX_BYTES", u64),
    ("VPN_TX_BYTES", u64),
    ("VPN_RX_PACKETS", u32),
    ("VPN_TX_PACKETS", u32),
    ("LINK_RX_BYTES", u64),
    ("LINK_TX_BYTES", u64),
    ("LINK_RX_PACKETS", u32),
    ("LINK_TX_PACKETS", u32),
)


def get_peers_request(ifindex):
    """The command and attributes of a GET_PEER dump of interface ``ifindex``."""
    return CMD_GET_PEER, attribute(ATTR_IFINDEX, u32_bytes(ifindex))


def peer_from_reply(message):
    """One GET_PEER reply message to the collection's peer dict (the same keys for both families)."""
    nested = genl_attributes(message).get(ATTR_GET_PEER)
    if nested is None:
        return None
    peer = decode_table(PEER_ATTRIBUTES, parse_attributes(nested))
    get = peer.get
    remote = decode_sockaddr(get("SOCKADDR_REMOTE"))
    return dict(shared_peer_values(peer), **{
        "id": get("PEER_ID"),
        "remote_address": remote[0] if remote else None,
        "remote_port": remote[1] if remote else None,
        "vpn_ipv4": format_ip(get("IPV4")),
        "vpn_ipv6": format_ip(get("IPV6")),
        "local_address": format_ip(get("LOCAL_IP")),
        "local_port": get("LOCAL_PORT"),
    })
