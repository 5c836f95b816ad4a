# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lab images built from Debian's package registry with debootstrap, cached by recipe hash.

The images hold what a typical fleet host has and no more: OpenVPN, python3 and sshd. Headers,
DKMS, compilers, openvpn-dco-dkms and pyroute2 are the collection's job to install.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time

from tests.lab.common import CACHE, MIRROR, LabError, log, run

# Bump when the build steps below change in a way the recipes do not show.
BUILD_VERSION = 2

BASE_PACKAGES = ["systemd-sysv", "udev", "kmod", "iproute2", "openssh-server", "python3",
                 "iputils-ping", "ifupdown", "isc-dhcp-client", "ca-certificates", "iperf3"]

RECIPES = {
    "debian12": {
        "kind": "vm",
        "suite": "bookworm",
        "sources": ["bookworm main", "bookworm-updates main", "@security bookworm-security main"],
        "install": [["linux-image-amd64", "openvpn"]],
    },
    "debian13-bpo": {
        "kind": "vm",
        "suite": "trixie",
        "sources": ["trixie main", "trixie-updates main", "@security trixie-security main",
                    "trixie-backports main"],
        # The backports kernel (>= 6.16) has the in-tree ovpn module; OpenVPN 2.7 is there too.
        "install": [["-t", "trixie-backports", "linux-image-amd64", "openvpn"]],
    },
    "container": {
        "kind": "container",
        "suite": "bookworm",
        "sources": ["bookworm main", "bookworm-updates main", "@security bookworm-security main"],
        "install": [["openvpn"]],
    },
}


def recipe_hash(name):
    text = json.dumps({"recipe": RECIPES[name], "base": BASE_PACKAGES, "build": BUILD_VERSION},
                      sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def image_dir(name):
    return os.path.join(CACHE, "images", "%s-%s" % (name, recipe_hash(name)))


def ssh_key():
    """The lab's SSH key, baked into every image, so it lives beside the image cache."""
    key = os.path.join(CACHE, "ssh", "id_ed25519")
    if not os.path.exists(key):
        os.makedirs(os.path.dirname(key), mode=0o700, exist_ok=True)
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ovpnfleet-lab", "-f", key])
    return key


def ensure_image(name):
    """Build the image unless the cache has it; return its directory and the build seconds."""
    target = image_dir(name)
    if os.path.exists(os.path.join(target, "done")):
        return target, 0.0
    started = time.monotonic()
    log("building image %s (cold cache: a few minutes)" % name)
    shutil.rmtree(target, ignore_errors=True)
    os.makedirs(target)
    try:
        _build(name, RECIPES[name], target)
    except Exception:
        shutil.rmtree(target, ignore_errors=True)
        raise
    seconds = time.monotonic() - started
    with open(os.path.join(target, "done"), "w") as handle:
        handle.write("%.0f\n" % seconds)
    log("image %s built in %.0f s" % (name, seconds))
    return target, seconds


def _build(name, recipe, target):
    rootfs = os.path.join(target, "rootfs")
    run(["debootstrap", "--variant=minbase", "--include=" + ",".join(BASE_PACKAGES),
         recipe["suite"], rootfs, MIRROR], quiet=True)
    with open(os.path.join(rootfs, "etc/apt/sources.list"), "w") as handle:
        for line in recipe["sources"]:
            base = MIRROR + "-security" if line.startswith("@security ") else MIRROR
            handle.write("deb %s %s\n" % (base, line.replace("@security ", "")))
    with _chroot_mounts(rootfs):
        _chroot(rootfs, ["apt-get", "update", "-qq"])
        for packages in recipe["install"]:
            _chroot(rootfs, ["apt-get", "install", "-y", "-qq", "--no-install-recommends"] + packages)
        _chroot(rootfs, ["apt-get", "clean"])
    _configure(rootfs, name)
    if recipe["kind"] == "vm":
        _make_disk(rootfs, target)


class _chroot_mounts:
    def __init__(self, rootfs):
        self.points = [os.path.join(rootfs, p) for p in ("proc", "sys", "dev")]

    def __enter__(self):
        for point in self.points:
            run(["mount", "--bind", "/" + os.path.basename(point), point])

    def __exit__(self, *exc):
        for point in reversed(self.points):
            subprocess.run(["umount", "-l", point], check=False)


def _chroot(rootfs, argv):
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive", LC_ALL="C")
    run(["chroot", rootfs] + argv, env=env, quiet=True)


def _configure(rootfs, name):
    ssh_dir = os.path.join(rootfs, "root/.ssh")
    os.makedirs(ssh_dir, mode=0o700, exist_ok=True)
    shutil.copy(ssh_key() + ".pub", os.path.join(ssh_dir, "authorized_keys"))
    os.chmod(os.path.join(ssh_dir, "authorized_keys"), 0o600)
    with open(os.path.join(rootfs, "etc/ssh/sshd_config.d/lab.conf"), "w") as handle:
        handle.write("PermitRootLogin prohibit-password\nUseDNS no\n")
    with open(os.path.join(rootfs, "etc/hostname"), "w") as handle:
        handle.write(name + "\n")
    with open(os.path.join(rootfs, "etc/fstab"), "w") as handle:
        handle.write("/dev/vda / ext4 defaults 0 1\n")
    with open(os.path.join(rootfs, "etc/network/interfaces"), "w") as handle:
        handle.write("auto lo\niface lo inet loopback\nauto eth0\niface eth0 inet dhcp\n"
                     "source /etc/network/interfaces.d/*\n")


def _make_disk(rootfs, target):
    boot = os.path.join(rootfs, "boot")
    kernels = sorted(f for f in os.listdir(boot) if f.startswith("vmlinuz-"))
    if not kernels:
        raise LabError("build image: no kernel in %s" % boot)
    release = kernels[-1][len("vmlinuz-"):]
    shutil.copy(os.path.join(boot, "vmlinuz-" + release), os.path.join(target, "vmlinuz"))
    shutil.copy(os.path.join(boot, "initrd.img-" + release), os.path.join(target, "initrd.img"))
    disk = os.path.join(target, "disk.img")
    run(["truncate", "-s", "6G", disk])
    run(["mkfs.ext4", "-q", "-F", "-d", rootfs, disk])
