# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The UEFI Secure Boot disk of a lab image whose recipe says "boot": "uefi".

images.py builds the image as for any VM (a raw ext4 root with kernel and initrd beside it);
this file turns that root into a GPT disk the firmware boots: an EFI system partition holding
Debian's signed shim (as the removable-media loader EFI/BOOT/BOOTX64.EFI), MokManager and signed
GRUB, which boots the image's signed kernel from the root partition. It lives in its own file
and its own cache directory (uefi-HASH inside the image's directory, HASH covering this file)
so that it rebuilds no other image.

The firmware is Debian's OVMF with Microsoft's keys enrolled (OVMF_CODE_4M.secboot.fd and a
per-VM copy of OVMF_VARS_4M.ms.fd, see vms.py). Nothing is loop-mounted: the ESP is written with
mtools, the root file system is copied into its partition with dd.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import hashlib
import json
import os
import shutil
import tempfile
import time

from tests.lab.common import LabError, log, run
from tests.lab.recipes import RECIPES

OVMF_CODE = "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd"
OVMF_VARS = "/usr/share/OVMF/OVMF_VARS_4M.ms.fd"
# Where the signed EFI binaries come from (the packages are only unpacked: installing them in
# the image would run grub-install against the build machine's firmware).
EFI_FILES = {
    "EFI/BOOT/BOOTX64.EFI": "usr/lib/shim/shimx64.efi.signed",
    "EFI/BOOT/mmx64.efi": "usr/lib/shim/mmx64.efi.signed",
    "EFI/BOOT/grubx64.efi": "usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed",
}
# No fbx64.efi: with it shim would run the fallback loader, which writes boot entries and resets.
ESP_MIB = 64
ROOT_START_MIB = 1 + ESP_MIB
ROOT_PARTITION = "/dev/vda2"
ESP_TYPE = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
LINUX_TYPE = "0FC63DAF-8483-4772-8E79-3D69D8477DE4"

# Debian's signed GRUB looks for grub.cfg in /EFI/debian of the ESP it was loaded from (its
# built-in prefix), then beside itself. /vmlinuz and /initrd.img follow the newest kernel the
# image installs, so a kernel installed later boots after a reboot as on a real server.
GRUB_CFG = """\
set timeout=0
search --no-floppy --label --set=root lab-root
linux /vmlinuz root=%s rw console=ttyS0 net.ifnames=0
initrd /initrd.img
boot
""" % ROOT_PARTITION

FSTAB = "%s / ext4 defaults 0 1\n" % ROOT_PARTITION


def code_hash():
    with open(os.path.abspath(__file__), "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()[:12]


def disk_dir(image):
    return os.path.join(image, "uefi-" + code_hash())


def ensure_disk(image, suite):
    """The directory holding the GPT disk.img made from image's ext4 root; seconds spent on it."""
    target = disk_dir(image)
    with _lock(image):
        if os.path.exists(os.path.join(target, "manifest.json")):
            return target, 0.0
        log("making the Secure Boot disk of %s" % os.path.basename(image))
        started = time.monotonic()
        partial = target + ".partial"
        shutil.rmtree(partial, ignore_errors=True)
        os.makedirs(partial)
        try:
            facts = _build(image, suite, partial)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        facts["build_seconds"] = round(time.monotonic() - started, 1)
        with open(os.path.join(partial, "manifest.json"), "w") as handle:
            json.dump(facts, handle, indent=1, sort_keys=True)
        os.rename(partial, target)
        log("Secure Boot disk made in %.0f s: %s" % (facts["build_seconds"], target))
        return target, facts["build_seconds"]


@contextlib.contextmanager
def _lock(image):
    with open(os.path.join(image, ".uefi.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _build(image, suite, target):
    for path in (OVMF_CODE, OVMF_VARS):
        if not os.path.exists(path):
            raise LabError("%s is missing: install ovmf (tests/lab/apt-packages.txt)" % path)
    with tempfile.TemporaryDirectory(prefix="ovpnfleet-lab-efi-") as work:
        packages = _unpack_efi_packages(work, suite)
        root = os.path.join(work, "root.img")
        shutil.copyfile(os.path.join(image, "disk.img"), root)
        _fix_root(root, work)
        esp = os.path.join(work, "esp.img")
        _make_esp(esp, work, packages)
        disk = os.path.join(target, "disk.img")
        _assemble(disk, esp, root)
    return {"esp": sorted(EFI_FILES), "packages": packages["versions"], "root": ROOT_PARTITION,
            "firmware": [OVMF_CODE, OVMF_VARS]}


def _unpack_efi_packages(work, suite):
    """Download shim, MokManager and GRUB (signed) from Debian's archive for suite; unpack them."""
    names = next(r["efi_packages"] for r in RECIPES.values()
                 if r.get("boot") == "uefi" and r["suite"] == suite)
    debs = os.path.join(work, "debs")
    os.makedirs(debs)
    host_suite = _host_suite()
    if host_suite != suite:
        raise LabError("the EFI binaries come from this machine's apt (%s), the image is %s: "
                       "build the Secure Boot image on a %s machine" % (host_suite, suite, suite))
    run(["sh", "-c", 'cd "$1" && shift && apt-get download "$@"', "sh", debs] + names, timeout=600)
    tree = os.path.join(work, "tree")
    versions = {}
    for deb in sorted(glob.glob(os.path.join(debs, "*.deb"))):
        run(["dpkg-deb", "-x", deb, tree])
        versions[os.path.basename(deb).split("_")[0]] = os.path.basename(deb).split("_")[1]
    for source in EFI_FILES.values():
        if not os.path.exists(os.path.join(tree, source)):
            raise LabError("%s is not in %s" % (source, ", ".join(names)))
    return {"tree": tree, "versions": versions}


def _host_suite():
    with open("/etc/os-release") as handle:
        for line in handle:
            if line.startswith("VERSION_CODENAME="):
                return line.split("=", 1)[1].strip().strip('"')
    return "unknown"


def _fix_root(root, work):
    """The root is partition 2 now: fstab says so (debugfs, no mount)."""
    fstab = os.path.join(work, "fstab")
    with open(fstab, "w") as handle:
        handle.write(FSTAB)
    run(["debugfs", "-w", "-R", "rm /etc/fstab", root])
    run(["debugfs", "-w", "-R", "write %s /etc/fstab" % fstab, root])
    listing = run(["debugfs", "-R", "stat /vmlinuz", root], check=False)
    if "Type: symlink" not in listing.stdout:
        raise LabError("the image has no /vmlinuz link, which the ESP's grub.cfg boots")


def _make_esp(esp, work, packages):
    run(["mkfs.vfat", "-C", "-n", "ESP", esp, str(ESP_MIB * 1024)])
    cfg = os.path.join(work, "grub.cfg")
    with open(cfg, "w") as handle:
        handle.write(GRUB_CFG)
    for folder in ("::/EFI", "::/EFI/BOOT", "::/EFI/debian"):
        run(["mmd", "-i", esp, folder])
    for inside, source in EFI_FILES.items():
        run(["mcopy", "-i", esp, os.path.join(packages["tree"], source), "::/" + inside])
    for folder in ("EFI/debian", "EFI/BOOT"):
        run(["mcopy", "-i", esp, cfg, "::/%s/grub.cfg" % folder])


def _assemble(disk, esp, root):
    root_mib = os.path.getsize(root) // (1024 * 1024)
    run(["truncate", "-s", "%dM" % (ROOT_START_MIB + root_mib + 1), disk])
    layout = ("label: gpt\nstart=1MiB, size=%dMiB, type=%s, name=esp\n"
              "start=%dMiB, size=%dMiB, type=%s, name=root\n"
              % (ESP_MIB, ESP_TYPE, ROOT_START_MIB, root_mib, LINUX_TYPE))
    run(["sfdisk", "-q", disk], data=layout.encode())
    run(["dd", "if=" + esp, "of=" + disk, "bs=1M", "seek=1", "conv=notrunc", "status=none"])
    run(["dd", "if=" + root, "of=" + disk, "bs=1M", "seek=%d" % ROOT_START_MIB,
         "conv=notrunc,sparse", "status=none"], timeout=900)
