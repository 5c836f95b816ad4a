# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What each lab image holds. images.py builds them; an image's cache key covers its own
recipe and the build code, so a recipe added here rebuilds no other image."""

from __future__ import annotations

# initramfs-tools, Debian's default, named so that apt cannot pick dracut for the backports
# kernel (it did: a 39 MB generic initrd that took 90 s of a TCG boot).
VM_BASE = ["systemd-sysv", "udev", "kmod", "initramfs-tools", "procps", "iproute2",
           "openssh-server", "python3", "ca-certificates", "iputils-ping", "iperf3"]

# base: what debootstrap installs; packages: then from all the sources (updates included);
# backports: then from SUITE-backports.
RECIPES = {
    "debian12": {
        "kind": "vm",
        "suite": "bookworm",
        "sources": ["bookworm main", "bookworm-updates main", "security bookworm-security main"],
        "base": VM_BASE,
        "packages": ["linux-image-amd64", "openvpn"],
        "backports": [],
    },
    "debian13-bpo": {
        "kind": "vm",
        "suite": "trixie",
        "sources": ["trixie main", "trixie-updates main", "security trixie-security main",
                    "trixie-backports main"],
        "base": VM_BASE,
        "packages": [],
        # The backports kernel (>= 6.16) carries the in-tree ovpn module; OpenVPN 2.7 is there too.
        "backports": ["linux-image-amd64", "openvpn"],
        "min_kernel": [6, 16],
        "module": "ovpn",
    },
    # Debian 13 as installed: trixie's kernel (6.12, no ovpn) and OpenVPN 2.6; backports is in
    # the sources so a later move to its kernel and OpenVPN 2.7 can be tried, nothing from it
    # is installed.
    "debian13": {
        "kind": "vm",
        "suite": "trixie",
        "sources": ["trixie main", "trixie-updates main", "security trixie-security main",
                    "trixie-backports main"],
        "base": VM_BASE,
        "packages": ["linux-image-amd64", "openvpn"],
        "backports": [],
    },
    # Debian 12 booted the way a Secure Boot server boots: UEFI firmware with Microsoft's keys,
    # Debian's signed shim, signed GRUB and signed kernel from an EFI system partition
    # (images.py builds the GPT disk), so the kernel runs locked down and enforces module
    # signatures. mokutil is what an operator uses to enrol a module signing key.
    "debian12-sb": {
        "kind": "vm",
        "boot": "uefi",
        "suite": "bookworm",
        "sources": ["bookworm main", "bookworm-updates main", "security bookworm-security main"],
        "base": VM_BASE,
        "packages": ["linux-image-amd64", "openvpn", "mokutil"],
        "backports": [],
        # Only unpacked for their signed EFI binaries: installing them would run grub-install.
        "efi_packages": ["shim-signed", "shim-helpers-amd64-signed", "grub-efi-amd64-signed"],
    },
    "container": {
        "kind": "container",
        "suite": "bookworm",
        "sources": ["bookworm main", "bookworm-updates main", "security bookworm-security main"],
        "base": [],
        "packages": ["openvpn", "python3", "openssh-server", "iproute2", "iputils-ping"],
        "backports": [],
    },
}
