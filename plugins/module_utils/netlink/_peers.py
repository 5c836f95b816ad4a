# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ask the kernel for the peers of a DCO interface, over the family its module speaks."""

from __future__ import annotations

import errno

from ansible_collections.ovpnfleet.dco.plugins.module_utils._errors import DcoError
from ansible_collections.ovpnfleet.dco.plugins.module_utils._generations import generation_for_link_kind
from ansible_collections.ovpnfleet.dco.plugins.module_utils.netlink import _ovpn
from ansible_collections.ovpnfleet.dco.plugins.module_utils.netlink import _ovpn_dco_v2
from ansible_collections.ovpnfleet.dco.plugins.module_utils.netlink._socket import NetlinkError, genl_dump

# Generic netlink family name -> the file that knows its attributes.
FAMILIES = {family.FAMILY: family for family in (_ovpn_dco_v2, _ovpn)}


class NetlinkFamilyError(DcoError):
    pass


def decode_peers(family, replies):
    """Reply messages of a GET_PEER dump to peer dicts, skipping replies without a peer."""
    peers = [family.peer_from_reply(reply) for reply in replies]
    return [peer for peer in peers if peer is not None]


def family_for_link_kind(link_kind):
    """The family file that speaks to the module behind tunnel devices of ``link_kind``."""
    return FAMILIES[generation_for_link_kind(link_kind).genl_family]


def kernel_peers(link_kind, ifindex, sock=None):
    """Every peer the kernel holds for interface ``ifindex`` of ``link_kind``.

    ``sock`` stands in for the netlink socket in tests."""
    family = family_for_link_kind(link_kind)
    cmd, attributes = family.get_peers_request(ifindex)
    try:
        replies = genl_dump(family.FAMILY, cmd, attributes, sock=sock)
    except NetlinkError as error:
        if error.errno == errno.ENOENT:
            raise NetlinkFamilyError(
                "read peers of interface %d: generic netlink family '%s' not found: is the %s "
                "kernel module loaded?" % (ifindex, family.FAMILY, family.FAMILY))
        if error.errno == errno.EPERM:
            raise NetlinkFamilyError(
                "read peers of interface %d: the kernel wants CAP_NET_ADMIN: run with become." % ifindex)
        raise NetlinkFamilyError("read peers of interface %d over %s: %s" % (ifindex, family.FAMILY, error))
    except OSError as error:
        raise NetlinkFamilyError("read peers of interface %d over %s: %s" % (ifindex, family.FAMILY, error))
    return decode_peers(family, replies)
