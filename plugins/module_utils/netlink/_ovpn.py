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
    decode_uint,
    format_ip,
)

try:
    from pyroute2.netlink import genlmsg, nla
except ImportError:  # reported by the module through missing_required_lib
    genlmsg = nla = object

FAMILY = "ovpn"
CMD_PEER_GET = 3


class OvpnMsg(genlmsg):
    prefix = "OVPN_A_"
    nla_map = (
        ("OVPN_A_UNSPEC", "none"),
        ("OVPN_A_IFINDEX", "uint32"),
        ("OVPN_A_PEER", "peer"),
        ("OVPN_A_KEYCONF", "hex"),
    )

    class peer(nla):
        prefix = "OVPN_A_PEER_"
        nla_map = (
            ("OVPN_A_PEER_UNSPEC", "none"),
            ("OVPN_A_PEER_ID", "uint32"),
            ("OVPN_A_PEER_REMOTE_IPV4", "cdata"),
            ("OVPN_A_PEER_REMOTE_IPV6", "cdata"),
            ("OVPN_A_PEER_REMOTE_IPV6_SCOPE_ID", "uint32"),
            ("OVPN_A_PEER_REMOTE_PORT", "be16"),
            ("OVPN_A_PEER_SOCKET", "uint32"),
            ("OVPN_A_PEER_SOCKET_NETNSID", "int32"),
            ("OVPN_A_PEER_VPN_IPV4", "cdata"),
            ("OVPN_A_PEER_VPN_IPV6", "cdata"),
            ("OVPN_A_PEER_LOCAL_IPV4", "cdata"),
            ("OVPN_A_PEER_LOCAL_IPV6", "cdata"),
            ("OVPN_A_PEER_LOCAL_PORT", "be16"),
            ("OVPN_A_PEER_KEEPALIVE_INTERVAL", "uint32"),
            ("OVPN_A_PEER_KEEPALIVE_TIMEOUT", "uint32"),
            ("OVPN_A_PEER_DEL_REASON", "uint32"),
            ("OVPN_A_PEER_VPN_RX_BYTES", "cdata"),
            ("OVPN_A_PEER_VPN_TX_BYTES", "cdata"),
            ("OVPN_A_PEER_VPN_RX_PACKETS", "cdata"),
            ("OVPN_A_PEER_VPN_TX_PACKETS", "cdata"),
            ("OVPN_A_PEER_LINK_RX_BYTES", "cdata"),
            ("OVPN_A_PEER_LINK_TX_BYTES", "cdata"),
            ("OVPN_A_PEER_LINK_RX_PACKETS", "cdata"),
            ("OVPN_A_PEER_LINK_TX_PACKETS", "cdata"),
            ("OVPN_A_PEER_TX_ID", "uint32"),
        )


MESSAGE = OvpnMsg


def get_peers_request(ifindex):
    msg = OvpnMsg()
    msg["cmd"] = CMD_PEER_GET
    msg["version"] = 1
    msg["attrs"] = [("OVPN_A_IFINDEX", ifindex)]
    return msg


def peer_from_reply(reply):
    """One PEER_GET reply to the collection's peer dict (the same keys for both families)."""
    peer = reply.get_attr("OVPN_A_PEER")
    if peer is None:
        return None

    def get(name):
        return peer.get_attr("OVPN_A_PEER_" + name)

    remote = get("REMOTE_IPV4") or get("REMOTE_IPV6")
    local = get("LOCAL_IPV4") or get("LOCAL_IPV6")
    return {
        "id": get("ID"),
        "remote_address": format_ip(remote),
        "remote_port": get("REMOTE_PORT"),
        "vpn_ipv4": format_ip(get("VPN_IPV4")),
        "vpn_ipv6": format_ip(get("VPN_IPV6")),
        "local_address": format_ip(local),
        "local_port": get("LOCAL_PORT"),
        "keepalive_interval": get("KEEPALIVE_INTERVAL"),
        "keepalive_timeout": get("KEEPALIVE_TIMEOUT"),
        "vpn_rx_bytes": decode_uint(get("VPN_RX_BYTES")),
        "vpn_tx_bytes": decode_uint(get("VPN_TX_BYTES")),
        "vpn_rx_packets": decode_uint(get("VPN_RX_PACKETS")),
        "vpn_tx_packets": decode_uint(get("VPN_TX_PACKETS")),
        "link_rx_bytes": decode_uint(get("LINK_RX_BYTES")),
        "link_tx_bytes": decode_uint(get("LINK_TX_BYTES")),
        "link_rx_packets": decode_uint(get("LINK_RX_PACKETS")),
        "link_tx_packets": decode_uint(get("LINK_TX_PACKETS")),
    }
