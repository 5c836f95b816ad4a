# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The two generations of the DCO kernel side, and which OpenVPN talks to which.

Sources: OpenVPN Changes.rst (2.6.2 renamed the module to ovpn-dco-v2; 2.7.0 speaks only to the
in-tree ``ovpn``), ovpn-dco ``include/uapi/linux/ovpn_dco.h`` and ``drivers/net/ovpn-dco/main.c``,
Linux ``drivers/net/ovpn/`` and ``Documentation/netlink/specs/ovpn.yaml``.
"""

from __future__ import annotations

import re
from collections import namedtuple

Flavour = namedtuple(
    "Flavour",
    [
        "name",            # the name users pick: ovpn-dco-v2 or ovpn
        "module",          # name in /sys/module and lsmod
        "modprobe_name",   # name modprobe and modinfo take
        "genl_family",     # generic netlink family OpenVPN talks to
        "link_kind",       # rtnetlink link kind of the tunnel device
        "in_tree_since",   # first Linux release that ships it, or None
        "distro_packages",  # Debian package names that ship a DKMS tree for it
        "dkms_name",       # PACKAGE_NAME in dkms.conf
    ],
)

OVPN_DCO_V2 = Flavour(
    name="ovpn-dco-v2",
    module="ovpn_dco_v2",
    modprobe_name="ovpn-dco-v2",
    genl_family="ovpn-dco-v2",
    link_kind="ovpn-dco",
    in_tree_since=None,
    distro_packages=("openvpn-dco-dkms",),
    dkms_name="ovpn-dco",
)

OVPN = Flavour(
    name="ovpn",
    module="ovpn",
    modprobe_name="ovpn",
    genl_family="ovpn",
    link_kind="ovpn",
    in_tree_since=(6, 16),
    # OpenVPN's own repositories call it ovpn-dkms; Debian's archive has none as of 2026-11.
    distro_packages=("ovpn-dkms",),
    dkms_name="ovpn",
)

FLAVOURS = {flavour.name: flavour for flavour in (OVPN_DCO_V2, OVPN)}

# 2.6.0 and 2.6.1 spoke to the first ovpn-dco API, whose module no longer builds or exists.
FIRST_DCO_RELEASE = (2, 6, 0)
FIRST_DCO_V2_RELEASE = (2, 6, 2)
FIRST_OVPN_RELEASE = (2, 7, 0)


def parse_version(text):
    """Return the leading numeric components of a version string as a tuple of ints.

    Padded to three parts so a pre-release compares equal to its release line:
    ``"2.6.14"`` -> ``(2, 6, 14)``, ``"2.7_rc2"`` -> ``(2, 7, 0)``, ``"6.1.0-50-amd64"`` ->
    ``(6, 1, 0)``. Returns None when the text does not start with a number.
    """
    match = re.match(r"\d+(?:\.\d+)*", text or "")
    if not match:
        return None
    parts = [int(part) for part in match.group(0).split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def kernel_sort_key(release):
    """Order Debian-style kernel releases: every number in the string, in order.

    ``6.1.0-50-amd64`` < ``6.1.0-56-amd64`` < ``6.12.57+deb13-amd64`` < ``7.3.4+deb13-amd64``.
    """
    return tuple(int(number) for number in re.findall(r"\d+", release))


def flavour_for_openvpn(version):
    """The flavour an OpenVPN version needs, or None when that version has no usable DCO.

    ``version`` is a tuple from ``parse_version``.
    """
    if version is None or version < FIRST_DCO_V2_RELEASE:
        return None
    if version < FIRST_OVPN_RELEASE:
        return OVPN_DCO_V2
    return OVPN
