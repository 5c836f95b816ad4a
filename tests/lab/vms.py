# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""qemu VMs with stock Debian kernels: where DCO's kernel side can really be loaded.

TCG, not KVM: this machine's KVM cannot run stock kernels (`failed to set MSR 0x10a`). Each VM boots
the image's kernel directly on a copy-on-write overlay of the cached disk (the cache stays
clean), answers SSH on 127.0.0.1:PORT through qemu's user-mode network (which also reaches
Debian's registry for apt), and has a second NIC on a multicast socket segment that only this
lab's VMs share, with a static address in 192.0.2.0/24 (TEST-NET-1, never leaves the segment).
No tap, bridge or namespace is made on the machine.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import time

from tests.lab import secureboot_image
from tests.lab.common import LabError, log, run, ssh
from tests.lab.state import RUN_DIR

MEMORY_MIB = 1024
CPUS = 2
SSH_PORTS = range(2301, 2400)
LAN_PREFIX = "192.0.2."
LAN_MCAST_GROUP = "230.0.0.1"
FW_CFG = "opt/ovpnfleet.lab/"  # read by the guest's ovpnfleet-lab-setup (images.py)
# A boot whose console stays silent this long while SSH does not answer has stalled: healthy
# boots on the lab never went quiet for more than 11 s before SSH answered (7 consoles, 2026-12-01).
BOOT_STALL_SECONDS = 60
BOOT_ATTEMPTS = 3
# Under TCG the UEFI firmware (SMM on) works for long stretches without a word on the console.
UEFI_BOOT_STALL_SECONDS = 240


def lan_segment(lab_id):
    """The multicast group:port of this lab's LAN; other labs on the machine get another port."""
    return "%s:%d" % (LAN_MCAST_GROUP, 41000 + int(lab_id, 16) % 2000)


def lan_ip(number):
    return LAN_PREFIX + str(10 + number)


def port_is_free(port):
    """Whether nothing holds port on loopback (a bind test; nothing is sent anywhere)."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_ssh_port(taken):
    """The first port of SSH_PORTS that is free and not in taken."""
    for port in SSH_PORTS:
        if port not in taken and port_is_free(port):
            return port
    raise LabError("no free port in %d-%d for SSH; `python3 -m tests.lab status` shows what "
                   "the lab runs" % (SSH_PORTS[0], SSH_PORTS[-1]))


def start(vm, image, segment, authorized_keys):
    """Boot vm (name, port, lan_ip) from image, root trusting authorized_keys (a file); fill in
    pid file, overlay and console."""
    os.makedirs(RUN_DIR, exist_ok=True)
    vm["overlay"] = os.path.join(RUN_DIR, vm["name"] + ".qcow2")
    vm["pidfile"] = os.path.join(RUN_DIR, vm["name"] + ".pid")
    vm["console"] = os.path.join(RUN_DIR, vm["name"] + ".console")
    vm["image"] = image
    _ensure_overlay(vm["overlay"], os.path.join(image, "disk.img"))
    if vm.get("firmware") == "uefi":
        vm["efi_vars"] = os.path.join(RUN_DIR, vm["name"] + ".vars.fd")
        if not os.path.exists(vm["efi_vars"]):
            # Per VM and kept across its reboots: enrolled MOKs and pending requests live here.
            shutil.copyfile(secureboot_image.OVMF_VARS, vm["efi_vars"])
    vm["started_at"] = time.time()
    # -daemonize returns once qemu is set up, so a busy port or a bad option fails right here.
    run(_qemu_argv(vm, image, segment, authorized_keys), timeout=60)
    if not alive(vm):
        raise LabError("qemu for %s exited at start; console: %s" % (vm["name"], vm["console"]))
    return vm


def wait_booted(vm, segment, authorized_keys, deadline_seconds):
    """Seconds until a VM started by this lab answers SSH; a stalled boot is started again.

    Seen on the lab (about one boot in five of the Debian 13 VM, kernel 7.3, right after another
    lab's `down`, when the machine was busiest): the guest kernel stopped for good after
    'hpet0: 3 comparators', where it switches to the TSC clocksource, which needs every vCPU to
    answer; under TCG one of the two sometimes never did. Nothing printed again and SSH waited
    out its 300 s. Such a boot is killed and started again on the same overlay (nothing was
    written yet), at most BOOT_ATTEMPTS times; its console is kept as NAME.console.stalled-N.
    """
    started = time.monotonic()
    attempt, seen_size, seen_at = 1, -1, time.monotonic()
    while time.monotonic() - started < deadline_seconds:
        try:
            if ssh(vm, "true", check=False, timeout=15).returncode == 0:
                return time.monotonic() - started
        except LabError:
            pass  # the 15 s timeout of one attempt; the loop's deadline decides
        size = os.path.getsize(vm["console"]) if os.path.exists(vm["console"]) else 0
        if size != seen_size:
            seen_size, seen_at = size, time.monotonic()
        elif time.monotonic() - seen_at > _stall_seconds(vm) and attempt < BOOT_ATTEMPTS:
            kept = "%s.stalled-%d" % (vm["console"], attempt)
            shutil.copyfile(vm["console"], kept)
            log("%s: boot stalled (console silent %d s, last line: %s); starting it again, attempt %d of %d "
                "(console kept as %s)" % (vm["name"], BOOT_STALL_SECONDS, _last_line(kept), attempt + 1,
                                          BOOT_ATTEMPTS, kept))
            _kill(vm)
            run(_qemu_argv(vm, vm["image"], segment, authorized_keys), timeout=60)
            attempt, seen_size, seen_at = attempt + 1, -1, time.monotonic()
        time.sleep(1)
    raise LabError("no SSH from %s on %s:%s after %d s (%d boot attempt(s)); its console: %s" % (
        vm["name"], vm["address"], vm["port"], deadline_seconds, attempt, vm["console"]))


def _stall_seconds(vm):
    return UEFI_BOOT_STALL_SECONDS if vm.get("firmware") == "uefi" else BOOT_STALL_SECONDS


def _last_line(path):
    with open(path, "rb") as handle:
        lines = handle.read().decode(errors="replace").strip().splitlines()
    return repr(lines[-1][-100:]) if lines else "(empty)"


def _kill(vm):
    number = pid(vm)
    if number:
        os.kill(number, signal.SIGKILL)
        for _attempt in range(100):
            if not os.path.exists("/proc/%d" % number):
                break
            time.sleep(0.1)


def _ensure_overlay(overlay, base):
    """Keep an overlay made on this very base (what the VM installed stays); else make one."""
    if os.path.exists(overlay):
        info = json.loads(run(["qemu-img", "info", "-U", "--output=json", overlay]).stdout)
        if info.get("backing-filename") == base:
            return
        log("%s was made on another image; starting from a fresh overlay" % os.path.basename(overlay))
        os.unlink(overlay)
    run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", base, "-F", "raw", overlay])


def _boot_argv(vm, image):
    """Direct kernel boot, or UEFI Secure Boot from the disk's ESP (shim, GRUB, kernel)."""
    if vm.get("firmware") == "uefi":
        # smm=on and secure=on: without them the firmware's variable store (and with it db,
        # dbx and the MOK list) could be written by the guest OS around Secure Boot.
        return [
            "-machine", "q35,smm=on", "-global", "driver=cfi.pflash01,property=secure,value=on",
            "-drive", "if=pflash,format=raw,unit=0,readonly=on,file=" + secureboot_image.OVMF_CODE,
            "-drive", "if=pflash,format=raw,unit=1,file=" + vm["efi_vars"],
            "-drive", "file=%s,format=qcow2,if=none,id=root" % vm["overlay"],
            "-device", "virtio-blk-pci,drive=root,bootindex=0",
        ]
    kernel, initrd = boot_files(vm["name"], image)
    return [
        "-kernel", kernel, "-initrd", initrd,
        "-append", " ".join(filter(None, ["root=/dev/vda rw console=ttyS0 net.ifnames=0", vm.get("append")])),
        "-drive", "file=%s,format=qcow2,if=virtio" % vm["overlay"],
    ]


def _qemu_argv(vm, image, segment, authorized_keys):
    mac = "52:54:00:0a:00:%02x" % int(vm["lan_ip"].rsplit(".", 1)[1])
    # romfile= (none): the firmware would otherwise try network boot on each NIC first.
    nic_rom = ",romfile=" if vm.get("firmware") == "uefi" else ""
    return [
        "qemu-system-x86_64", "-name", vm["name"],
        "-accel", "tcg,thread=multi", "-cpu", "max", "-smp", str(CPUS), "-m", str(MEMORY_MIB),
    ] + _boot_argv(vm, image) + [
        "-netdev", "user,id=wan,hostfwd=tcp:127.0.0.1:%d-:22" % vm["port"],
        "-device", "virtio-net-pci,netdev=wan" + nic_rom,
        "-netdev", "socket,id=lan,mcast=%s,localaddr=127.0.0.1" % segment,
        "-device", "virtio-net-pci,netdev=lan,mac=%s%s" % (mac, nic_rom),
        "-fw_cfg", "name=%shostname,string=%s" % (FW_CFG, vm["name"]),
        "-fw_cfg", "name=%slan,string=%s/24" % (FW_CFG, vm["lan_ip"]),
        "-fw_cfg", "name=%sauthorized_keys,file=%s" % (FW_CFG, authorized_keys),
        "-display", "none", "-monitor", "none",
    ] + _serial_argv(vm) + [
        "-pidfile", vm["pidfile"], "-daemonize",
    ]


def _serial_argv(vm):
    """The console to a file; or, to type at MokManager, to a unix socket whose reader
    (secureboot_console.py) copies it into the same file."""
    if vm.get("serial_socket"):
        return ["-chardev", "socket,id=ser0,path=%s,server=on,wait=off" % vm["serial_socket"],
                "-serial", "chardev:ser0"]
    return ["-serial", "file:" + vm["console"]]


def boot_files(name, image):
    """The image's kernel, or the newer one `python3 -m tests.lab reboot` copied out of the VM."""
    own = os.path.join(RUN_DIR, name + ".boot")
    if os.path.exists(os.path.join(own, "vmlinuz")):
        return os.path.join(own, "vmlinuz"), os.path.join(own, "initrd.img")
    return os.path.join(image, "vmlinuz"), os.path.join(image, "initrd.img")


def pid(vm):
    """The VM's qemu pid, only while that process is still this VM's qemu."""
    try:
        with open(vm["pidfile"]) as handle:
            number = int(handle.read().strip())
        with open("/proc/%d/cmdline" % number, "rb") as handle:
            cmdline = handle.read().decode(errors="replace")
    except (OSError, ValueError):
        return None
    return number if vm["overlay"] in cmdline else None


def alive(vm):
    return pid(vm) is not None


def stop(vm):
    """Stop qemu and delete the VM's overlay and run files; what was removed, in words."""
    removed = []
    number = pid(vm)
    if number:
        os.kill(number, signal.SIGTERM)
        for _attempt in range(100):
            if not alive(vm):
                break
            time.sleep(0.1)
        else:
            os.kill(number, signal.SIGKILL)
        removed.append("qemu pid %d" % number)
    for path in (vm.get("overlay"), vm.get("pidfile"), vm.get("console"), vm.get("efi_vars"),
                 vm.get("serial_socket")):
        if path and os.path.exists(path):
            os.unlink(path)
            removed.append(os.path.basename(path))
    for attempt in range(1, BOOT_ATTEMPTS):
        stalled = "%s.stalled-%d" % (vm.get("console"), attempt)
        if vm.get("console") and os.path.exists(stalled):
            os.unlink(stalled)
            removed.append(os.path.basename(stalled))
    shutil.rmtree(os.path.join(RUN_DIR, vm["name"] + ".boot"), ignore_errors=True)
    return removed


def copy_newest_kernel_out(vm):
    """Copy the newest kernel installed inside the VM to .lab/run/NAME.boot/; its release."""
    newest = ssh(vm, "ls /boot/vmlinuz-* | sort -V | tail -n 1").stdout.strip()
    release = newest.split("vmlinuz-", 1)[1]
    own = os.path.join(RUN_DIR, vm["name"] + ".boot")
    os.makedirs(own, exist_ok=True)
    for remote, local in (("vmlinuz-", "vmlinuz"), ("initrd.img-", "initrd.img")):
        data = ssh(vm, "base64 -w0 /boot/%s%s" % (remote, release)).stdout
        if not data.strip():
            raise LabError("%s has no /boot/%s%s" % (vm["name"], remote, release))
        with open(os.path.join(own, local), "wb") as handle:
            handle.write(base64.b64decode(data.strip()))
    return release


def power_off(vm, deadline_seconds=60):
    ssh(vm, "sync; systemctl poweroff", check=False, timeout=30)
    started = time.monotonic()
    while alive(vm) and time.monotonic() - started < deadline_seconds:
        time.sleep(0.5)
    if alive(vm):
        os.kill(pid(vm), signal.SIGKILL)
