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
    decode_sockaddr,
    format_ip,
)

try:
    from pyroute2.netlink import genlmsg, nla
except ImportError:  # reported by the module through missing_required_lib
    genlmsg = nla = object

FAMILY = "ovpn-dco-v2"
CMD_GET_PEER = 7


class OvpnDcoMsg(genlmsg):
    prefix = "OVPN_ATTR_"
    nla_map = (
        ("OVPN_ATTR_UNSPEC", "none"),
        ("OVPN_ATTR_IFINDEX", "uint32"),
        ("OVPN_ATTR_NEW_PEER", "hex"),
        ("OVPN_ATTR_SET_PEER", "hex"),
        ("OVPN_ATTR_DEL_PEER", "hex"),
        ("OVPN_ATTR_NEW_KEY", "hex"),
        ("OVPN_ATTR_SWAP_KEYS", "hex"),
        ("OVPN_ATTR_DEL_KEY", "hex"),
        ("OVPN_ATTR_GET_PEER", "get_peer"),
    )

    class get_peer(nla):
        prefix = "OVPN_GET_PEER_RESP_ATTR_"
        nla_map = (
            ("OVPN_GET_PEER_RESP_ATTR_UNSPEC", "none"),
            ("OVPN_GET_PEER_RESP_ATTR_PEER_ID", "uint32"),
            ("OVPN_GET_PEER_RESP_ATTR_SOCKADDR_REMOTE", "cdata"),
            ("OVPN_GET_PEER_RESP_ATTR_IPV4", "cdata"),
            ("OVPN_GET_PEER_RESP_ATTR_IPV6", "cdata"),
            ("OVPN_GET_PEER_RESP_ATTR_LOCAL_IP", "cdata"),
            ("OVPN_GET_PEER_RESP_ATTR_LOCAL_PORT", "be16"),
            ("OVPN_GET_PEER_RESP_ATTR_KEEPALIVE_INTERVAL", "uint32"),
            ("OVPN_GET_PEER_RESP_ATTR_KEEPALIVE_TIMEOUT", "uint32"),
            ("OVPN_GET_PEER_RESP_ATTR_VPN_RX_BYTES", "uint64"),
            ("OVPN_GET_PEER_RESP_ATTR_VPN_TX_BYTES", "uint64"),
            ("OVPN_GET_PEER_RESP_ATTR_VPN_RX_PACKETS", "uint32"),
            ("OVPN_GET_PEER_RESP_ATTR_VPN_TX_PACKETS", "uint32"),
            ("OVPN_GET_PEER_RESP_ATTR_LINK_RX_BYTES", "uint64"),
            ("OVPN_GET_PEER_RESP_ATTR_LINK_TX_BYTES", "uint64"),
            ("OVPN_GET_PEER_RESP_ATTR_LINK_RX_PACKETS", "uint32"),
            ("OVPN_GET_PEER_RESP_ATTR_LINK_TX_PACKETS", "uint32"),
        )


MESSAGE = OvpnDcoMsg


def get_peers_request(ifindex):
    msg = OvpnDcoMsg()
    msg["cmd"] = CMD_GET_PEER
    msg["version"] = 1
    msg["attrs"] = [("OVPN_ATTR_IFINDEX", ifindex)]
    return msg


def peer_from_reply(reply):
    """One GET_PEER reply to the collection's peer dict (the same keys for both families)."""
    peer = reply.get_attr("OVPN_ATTR_GET_PEER")
    if peer is None:
        return None

    def get(name):
        return peer.get_attr("OVPN_GET_PEER_RESP_ATTR_" + name)

    remote = decode_sockaddr(get("SOCKADDR_REMOTE"))
    return {
        "id": get("PEER_ID"),
        "remote_address": remote[0] if remote else None,
        "remote_port": remote[1] if remote else None,
        "vpn_ipv4": format_ip(get("IPV4")),
        "vpn_ipv6": format_ip(get("IPV6")),
        "local_address": format_ip(get("LOCAL_IP")),
        "local_port": get("LOCAL_PORT"),
        "keepalive_interval": get("KEEPALIVE_INTERVAL"),
        "keepalive_timeout": get("KEEPALIVE_TIMEOUT"),
        "vpn_rx_bytes": get("VPN_RX_BYTES"),
        "vpn_tx_bytes": get("VPN_TX_BYTES"),
        "vpn_rx_packets": get("VPN_RX_PACKETS"),
        "vpn_tx_packets": get("VPN_TX_PACKETS"),
        "link_rx_bytes": get("LINK_RX_BYTES"),
        "link_tx_bytes": get("LINK_TX_BYTES"),
        "link_rx_packets": get("LINK_RX_PACKETS"),
        "link_tx_packets": get("LINK_TX_PACKETS"),
    }
