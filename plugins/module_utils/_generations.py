# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The generations of the DCO kernel side: one table every other piece reads.

A generation is what users pick as the kmod ``flavour``. Adding one is one entry in
``GENERATIONS`` (plus, for a new netlink family, its attribute file under ``netlink/``).

Sources: OpenVPN Changes.rst (2.6.2 renamed the module to ovpn-dco-v2; 2.7.0 speaks only to the
in-tree ``ovpn``), ovpn-dco ``include/uapi/linux/ovpn_dco.h``, ``drivers/net/ovpn-dco/Makefile``
(Kbuild object ``ovpn-dco-v2.o``) and ``main.c``, Linux ``drivers/net/ovpn/`` and
``Documentation/netlink/specs/ovpn.yaml``, ovpn-backports (builds ``drivers/net/ovpn/ovpn.ko``),
Access Server's DCO page (3.2.0 and newer use ``ovpn``) and its install script (packages).
"""

from __future__ import annotations

import re
from collections import namedtuple

_FIELDS = [
    "name",             # the name users pick (kmod flavour): ovpn-dco-v2 or ovpn
    "module",           # name in /sys/module and lsmod
    "modprobe_name",    # name modprobe and modinfo take
    "source_ko",        # the built module file inside its source tree (DKMS BUILT_MODULE_*)
    "in_tree_ko",       # path under /lib/modules/RELEASE/ in a kernel that ships it, or None
    "kconfig",          # the kernel's Kconfig symbol for it, or None
    "genl_family",      # generic netlink family OpenVPN talks to
    "link_kind",        # rtnetlink link kind of the tunnel device
    "dkms_name",        # PACKAGE_NAME in dkms.conf
    "distro_packages",  # Debian package names that ship a DKMS tree for it
    "openvpn_versions",  # (first, first not served) OpenVPN releases; None: open-ended
    "access_server_versions",  # the same for Access Server
    "access_server_packages",  # what AS's install script installs for it, per package manager
    "in_tree_since",    # first Linux (major, minor) that ships it, or None
    "out_of_tree",      # the upstream project that builds it for other kernels
    # Whether a client's kernel lists its one peer: ovpn-dco-v2 (0.0+git20231103 on the lab)
    # was seen listing none for a connected client, so there tunnel_info's ping decides.
    "lists_client_peer",
]


class Generation(namedtuple("Generation", _FIELDS)):
    __slots__ = ()

    @property
    def module_file(self):
        """File name of the built module: what source and artifact installs put on the host."""
        return self.source_ko.rsplit("/", 1)[-1]

    @property
    def source_dir(self):
        """Directory of the built module inside its source tree."""
        return self.source_ko.rsplit("/", 1)[0]

    def serves_openvpn(self, version):
        return _within(version, self.openvpn_versions)

    def serves_access_server(self, version):
        return _within(version, self.access_server_versions)


OVPN_DCO_V2 = Generation(
    name="ovpn-dco-v2",
    module="ovpn_dco_v2",
    modprobe_name="ovpn-dco-v2",
    source_ko="drivers/net/ovpn-dco/ovpn-dco-v2.ko",
    in_tree_ko=None,
    kconfig=None,
    genl_family="ovpn-dco-v2",
    link_kind="ovpn-dco",
    dkms_name="ovpn-dco",
    distro_packages=("openvpn-dco-dkms",),
    openvpn_versions=((2, 6, 2), (2, 7, 0)),
    access_server_versions=((2, 12, 0), (3, 2, 0)),
    access_server_packages={"deb": "openvpn-dco-dkms", "rpm": "kmod-ovpn-dco"},
    in_tree_since=None,
    out_of_tree="ovpn-dco",
    lists_client_peer=False,
)

OVPN = Generation(
    name="ovpn",
    module="ovpn",
    modprobe_name="ovpn",
    source_ko="drivers/net/ovpn/ovpn.ko",
    in_tree_ko="kernel/drivers/net/ovpn/ovpn.ko",
    kconfig="CONFIG_OVPN",
    genl_family="ovpn",
    link_kind="ovpn",
    dkms_name="ovpn",
    # OpenVPN's own repositories call it ovpn-dkms; Debian's archive has none as of 2026-11.
    distro_packages=("ovpn-dkms",),
    openvpn_versions=((2, 7, 0), None),
    access_server_versions=((3, 2, 0), None),
    access_server_packages=None,
    in_tree_since=(6, 16),
    out_of_tree="ovpn-backports",
    lists_client_peer=True,
)

# Keyed by name, oldest first. Consumers look generations up here at call time, never copy them.
GENERATIONS = {generation.name: generation for generation in (OVPN_DCO_V2, OVPN)}

# 2.6.0 and 2.6.1 spoke to the first ovpn-dco API, whose module no longer builds or exists.
FIRST_DCO_RELEASE = (2, 6, 0)


def _within(version, bounds):
    first, end = bounds
    return version is not None and version >= first and (end is None or version < end)


def first_served_openvpn():
    """The oldest OpenVPN release some generation serves."""
    return min(generation.openvpn_versions[0] for generation in GENERATIONS.values())


def first_served_access_server():
    """The oldest Access Server release some generation serves."""
    return min(generation.access_server_versions[0] for generation in GENERATIONS.values())


def generation_for_openvpn(version):
    """The generation an OpenVPN version needs, or None when that version has no usable DCO.

    ``version`` is a tuple from ``parse_version``.
    """
    return next((g for g in GENERATIONS.values() if g.serves_openvpn(version)), None)


def generation_for_access_server(version):
    """The generation an Access Server version uses, or None when it has no DCO."""
    return next((g for g in GENERATIONS.values() if g.serves_access_server(version)), None)


def generation_for_link_kind(kind):
    """The generation whose tunnel devices have rtnetlink link kind ``kind``, or None."""
    return next((g for g in GENERATIONS.values() if g.link_kind == kind), None)


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
