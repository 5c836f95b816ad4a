# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lab images, built with debootstrap from Debian's package registry and cached by recipe.

An image lives in /var/cache/ovpnfleet-lab/images/NAME-HASH/, where HASH covers the recipe
below and the text of this file (the build steps), so editing either builds a new image and a
second `up` reuses the last one. Images hold what a typical fleet host has and no more: no
linux-headers, DKMS, compilers, openvpn-dco-dkms or pyroute2; installing those is the
collection's job. apt's lists are left in the image so apt works inside right away.

VM images are a raw ext4 disk plus the kernel and initrd qemu boots directly. They hold no SSH
key and no host name: each VM gets those from qemu's fw_cfg at boot (see GUEST_SETUP).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import time

from tests.lab.common import CACHE, MIRROR, SECURITY_MIRROR, LabError, log, run
from tests.lab.recipes import RECIPES

IMAGES_DIR = os.path.join(CACHE, "images")
DISK_SIZE = "6G"  # room for headers, DKMS and a compiler the collection installs later

# dpkg's fsyncs only slow a build down: a failed build is thrown away anyway.
APT_GET = ["apt-get", "-y", "-q", "--no-install-recommends", "-o", "Dpkg::Options::=--force-unsafe-io"]

# Never in an image: the collection must bring these itself.
NOT_IN_IMAGES = re.compile(r"^(linux-headers-.*|dkms|gcc|gcc-\d+|make|openvpn-dco-dkms|python3-pyroute2)$")

# Runs at every boot of a VM, before networkd and sshd. One cached image serves every VM, so
# what differs per VM (host name, root's keys, LAN address) comes from qemu's -fw_cfg options.
GUEST_SETUP = """\
#!/bin/sh
set -eu
modprobe qemu_fw_cfg
lab=/sys/firmware/qemu_fw_cfg/by_name/opt/ovpnfleet.lab
if [ ! -d "$lab" ]; then
    echo "no lab settings in fw_cfg: keeping the previous ones" >&2
    exit 0
fi
name=$(cat "$lab/hostname/raw")
echo "$name" > /etc/hostname
hostname "$name"
printf '127.0.0.1\\tlocalhost\\n127.0.1.1\\t%s\\n::1\\tlocalhost ip6-localhost ip6-loopback\\n' \\
    "$name" > /etc/hosts
install -d -m 0700 /root/.ssh
install -m 0600 "$lab/authorized_keys/raw" /root/.ssh/authorized_keys
printf '[Match]\\nName=eth1\\n\\n[Network]\\nAddress=%s\\n' "$(cat "$lab/lan/raw")" \\
    > /etc/systemd/network/20-lab-lan.network
"""

GUEST_SETUP_UNIT = """\
[Unit]
Description=Lab host name, root SSH keys and LAN address from qemu fw_cfg
DefaultDependencies=no
After=local-fs.target
Before=systemd-networkd.service ssh.service

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/ovpnfleet-lab-setup

[Install]
WantedBy=multi-user.target
"""

# systemd-networkd, not ifupdown: ssh.service waits for network.target, and ifupdown's
# `udevadm settle` alone held that back 110 s on a busy machine. eth0 is qemu's user-mode
# network (DHCP; its DNS forwarder is 10.0.2.3, which networkd without resolved does not write).
WAN_NETWORK = "[Match]\nName=eth0\n\n[Network]\nDHCP=ipv4\n"
RESOLV_CONF = "nameserver 10.0.2.3\n"

# The initrd only has to mount /dev/vda: Debian's MODULES=most made a 40 MB initrd whose module
# loading and udev coldplug cost tens of seconds under TCG. (6.1 builds all three as modules,
# 7.3 has virtio_pci built in.)
INITRAMFS_CONF = "MODULES=list\n"
INITRAMFS_MODULES = ["virtio_pci", "virtio_blk", "ext4"]


def recipe_hash(name):
    """The build code (this file) and the image's own recipe: adding an image rebuilds no other."""
    with open(os.path.abspath(__file__), "rb") as handle:
        digest = hashlib.sha256(handle.read())
    digest.update(json.dumps({"name": name, "recipe": RECIPES[name]}, sort_keys=True).encode())
    return digest.hexdigest()[:12]


def image_dir(name):
    return os.path.join(IMAGES_DIR, "%s-%s" % (name, recipe_hash(name)))


def manifest(name):
    with open(os.path.join(image_dir(name), "manifest.json")) as handle:
        return json.load(handle)


def ensure_image(name):
    """The image's directory and the seconds spent building it (0 when it was cached)."""
    target = image_dir(name)
    os.makedirs(IMAGES_DIR, exist_ok=True)
    with _build_lock(name):  # another work tree may be building the same image right now
        if os.path.exists(os.path.join(target, "manifest.json")):
            return target, 0.0
        log("building image %s from %s (cold cache)" % (name, MIRROR))
        started = time.monotonic()
        partial = target + ".partial"
        _remove_tree(partial)
        os.makedirs(partial)
        try:
            facts = _build(RECIPES[name], partial)
        except BaseException:
            _remove_tree(partial)
            raise
        facts["build_seconds"] = round(time.monotonic() - started, 1)
        with open(os.path.join(partial, "manifest.json"), "w") as handle:
            json.dump(facts, handle, indent=1, sort_keys=True)
        os.rename(partial, target)
        log("image %s built in %.0f s: %s" % (name, facts["build_seconds"], describe(facts)))
        return target, facts["build_seconds"]


def describe(facts):
    parts = [facts["openvpn"]]
    if facts.get("kernel"):
        parts.append("kernel " + facts["kernel"])
    if facts.get("module_file"):
        parts.append(facts["module_file"])
    return ", ".join(parts)


@contextlib.contextmanager
def _build_lock(name):
    with open(os.path.join(IMAGES_DIR, ".%s.lock" % name), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _build(recipe, target):
    rootfs = os.path.join(target, "rootfs")
    with _step("debootstrap " + recipe["suite"]):
        include = ["--include=" + ",".join(recipe["base"])] if recipe["base"] else []
        run(["debootstrap", "--variant=minbase"] + include + [recipe["suite"], rootfs, MIRROR],
            timeout=1200)
    _write(rootfs, "etc/apt/sources.list", "".join(_source_line(s) for s in recipe["sources"]))
    with _chroot_session(rootfs), _step("apt in the image"):
        _chroot(rootfs, ["apt-get", "update", "-q"])
        _chroot(rootfs, APT_GET + ["upgrade"])  # a fleet host has its updates
        if recipe["packages"]:
            _chroot(rootfs, APT_GET + ["install"] + recipe["packages"])
        if recipe["backports"]:
            _chroot(rootfs, APT_GET + ["install", "-t", recipe["suite"] + "-backports"]
                    + recipe["backports"])
        _chroot(rootfs, ["apt-get", "clean"])  # the .debs go, the lists stay
        facts = _inspect(rootfs, recipe)
        _configure(rootfs, recipe["kind"])
    if recipe["kind"] == "vm":
        with _step("disk image"):
            _make_vm_disk(rootfs, target, facts["kernel"])
    return facts


@contextlib.contextmanager
def _step(label):
    started = time.monotonic()
    yield
    log("  %s: %.0f s" % (label, time.monotonic() - started))


def _source_line(source):
    if source.startswith("security "):
        return "deb %s %s\n" % (SECURITY_MIRROR, source[len("security "):])
    return "deb %s %s\n" % (MIRROR, source)


@contextlib.contextmanager
def _chroot_session(rootfs):
    """/proc, /sys and /dev inside the tree, and no service started by a package's postinst."""
    _write(rootfs, "usr/sbin/policy-rc.d", "#!/bin/sh\nexit 101\n", mode=0o755)
    mounted = []
    try:
        for kind, point in (("proc", "proc"), ("sysfs", "sys"), ("bind", "dev")):
            path = os.path.join(rootfs, point)
            run(["mount", "--bind", "/dev", path] if kind == "bind" else ["mount", "-t", kind, kind, path])
            mounted.append(path)
        yield
    finally:
        for path in reversed(mounted):
            if run(["umount", path], check=False).returncode:
                run(["umount", "-l", path], check=False)
        os.unlink(os.path.join(rootfs, "usr/sbin/policy-rc.d"))


def _chroot(rootfs, argv, check=True):
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C", "HOME": "/root",
           "DEBIAN_FRONTEND": "noninteractive"}
    return run(["chroot", rootfs] + argv, env=env, timeout=1800, check=check)


def _inspect(rootfs, recipe):
    """What the image holds: kernel, OpenVPN, the DCO module; refuse what must not be there."""
    installed = _chroot(rootfs, ["dpkg-query", "-W", "-f=${Package} ${db:Status-Status}\\n"]).stdout
    forbidden = [line.split()[0] for line in installed.splitlines() if line.endswith(" installed")
                 and NOT_IN_IMAGES.match(line.split()[0])]
    if forbidden:
        raise LabError("image recipe pulls in %s, which the collection must install itself"
                       % ", ".join(forbidden))
    version = _chroot(rootfs, ["openvpn", "--version"], check=False).stdout.splitlines()
    facts = {"openvpn": version[0].split(" x86_64")[0] if version else "no openvpn",
             "suite": recipe["suite"]}
    if recipe["kind"] != "vm":
        return facts
    kernels = os.listdir(os.path.join(rootfs, "lib/modules"))
    if len(kernels) != 1:
        raise LabError("image wants one kernel, found %s in /lib/modules" % (kernels or "none"))
    facts["kernel"] = kernels[0]
    if "min_kernel" in recipe:
        numbers = [int(part) for part in kernels[0].split("-", maxsplit=1)[0].split(".")[:2]]
        if numbers < recipe["min_kernel"]:
            raise LabError("kernel %s is older than %s: trixie-backports no longer has a newer "
                           "one? Check `apt-cache policy linux-image-amd64` in the recipe's suite"
                           % (kernels[0], ".".join(map(str, recipe["min_kernel"]))))
    if "module" in recipe:
        found = _chroot(rootfs, ["modinfo", "-k", kernels[0], "-F", "filename", recipe["module"]],
                        check=False)
        if found.returncode:
            raise LabError("kernel %s has no %s module" % (kernels[0], recipe["module"]))
        facts["module_file"] = found.stdout.strip()
    return facts


def _configure(rootfs, kind):
    _write(rootfs, "etc/resolv.conf", RESOLV_CONF if kind == "vm" else "")  # podman writes its own
    _write(rootfs, "etc/hostname", "localhost\n")
    _write(rootfs, "etc/ssh/sshd_config.d/ovpnfleet-lab.conf",
           "# Root logs in with the lab's key only.\nPermitRootLogin prohibit-password\nUseDNS no\n")
    os.makedirs(os.path.join(rootfs, "root/.ssh"), mode=0o700, exist_ok=True)
    if kind != "vm":
        return
    _write(rootfs, "etc/fstab", "/dev/vda / ext4 defaults 0 1\n")
    _write(rootfs, "etc/systemd/network/10-lab-wan.network", WAN_NETWORK)
    _write(rootfs, "usr/local/sbin/ovpnfleet-lab-setup", GUEST_SETUP, mode=0o755)
    _write(rootfs, "etc/systemd/system/ovpnfleet-lab-setup.service", GUEST_SETUP_UNIT)
    _chroot(rootfs, ["systemctl", "enable", "--quiet", "systemd-networkd", "ovpnfleet-lab-setup"])
    _write(rootfs, "etc/initramfs-tools/conf.d/ovpnfleet-lab.conf", INITRAMFS_CONF)
    with open(os.path.join(rootfs, "etc/initramfs-tools/modules"), "a") as handle:
        handle.write("".join(module + "\n" for module in INITRAMFS_MODULES))
    _chroot(rootfs, ["update-initramfs", "-u", "-k", "all"])
    _check_initrd(rootfs)


def _check_initrd(rootfs):
    """Each module the root disk needs is in the initrd or built into the kernel."""
    kernel = os.listdir(os.path.join(rootfs, "lib/modules"))[0]
    listing = _chroot(rootfs, ["lsinitramfs", "/boot/initrd.img-" + kernel]).stdout
    with open(os.path.join(rootfs, "lib/modules", kernel, "modules.builtin")) as handle:
        builtin = handle.read()
    missing = [m for m in INITRAMFS_MODULES if "/%s.ko" % m not in listing and "/%s.ko" % m not in builtin]
    if missing:
        raise LabError("the initrd of %s lacks %s: the VM could not mount its disk"
                       % (kernel, ", ".join(missing)))


def _make_vm_disk(rootfs, target, kernel):
    """Kernel and initrd beside a raw ext4 disk made from the tree (no loop mount needed)."""
    shutil.copy(os.path.join(rootfs, "boot", "vmlinuz-" + kernel), os.path.join(target, "vmlinuz"))
    shutil.copy(os.path.join(rootfs, "boot", "initrd.img-" + kernel), os.path.join(target, "initrd.img"))
    disk = os.path.join(target, "disk.img")
    run(["truncate", "-s", DISK_SIZE, disk])
    run(["mkfs.ext4", "-q", "-F", "-L", "lab-root", "-d", rootfs, disk], timeout=900)
    _remove_tree(rootfs)  # the disk has it all now


def _write(rootfs, relative, text, mode=0o644):
    path = os.path.join(rootfs, relative)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if os.path.islink(path):
        os.unlink(path)
    with open(path, "w") as handle:
        handle.write(text)
    os.chmod(path, mode)


def _remove_tree(path):
    """rm -rf, but never through a mount point left behind (a bound /dev would go with it)."""
    if not os.path.exists(path):
        return
    prefix = os.path.realpath(path) + "/"
    with open("/proc/self/mounts") as handle:
        busy = [line.split()[1] for line in handle if line.split()[1].startswith(prefix)]
    if busy:
        raise LabError("not removing %s: %s still mounted; umount it first" % (path, ", ".join(busy)))
    shutil.rmtree(path)
