# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""qemu VMs (TCG: this machine's KVM cannot run stock kernels) on copy-on-write overlays.

Each VM has SSH on 127.0.0.1:PORT (user-mode network, which also reaches Debian's registry)
and a second NIC on a shared multicast segment so VMs reach each other on 192.0.2.0/24.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

from tests.lab.common import LAN_PREFIX, STATE, LabError, log, pid_alive, run, ssh

SSH_PORT_BASE = 2300
LAN_MCAST = "230.0.0.1:41234"


def start_vm(name, image, index):
    run_dir = os.path.join(STATE, "run")
    os.makedirs(run_dir, exist_ok=True)
    overlay = os.path.join(run_dir, name + ".qcow2")
    if not os.path.exists(overlay):
        run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", os.path.join(image, "disk.img"),
             "-F", "raw", overlay])
    port = SSH_PORT_BASE + index
    kernel, initrd = _boot_files(name, image)
    pidfile = os.path.join(run_dir, name + ".pid")
    argv = [
        "qemu-system-x86_64", "-accel", "tcg,thread=multi", "-cpu", "max", "-smp", "2", "-m", "1536",
        "-nographic", "-kernel", kernel, "-initrd", initrd,
        "-append", "root=/dev/vda rw console=ttyS0 net.ifnames=0",
        "-drive", "file=%s,format=qcow2,if=virtio" % overlay,
        "-netdev", "user,id=n0,hostfwd=tcp:127.0.0.1:%d-:22" % port,
        "-device", "virtio-net-pci,netdev=n0",
        "-netdev", "socket,id=lan,mcast=%s,localaddr=127.0.0.1" % LAN_MCAST,
        "-device", "virtio-net-pci,netdev=lan,mac=52:54:00:0a:00:%02x" % (10 + index),
        "-pidfile", pidfile,
    ]
    console = open(os.path.join(run_dir, name + ".console"), "w")
    subprocess.Popen(argv, stdout=console, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                     start_new_session=True)
    for _attempt in range(50):
        if os.path.exists(pidfile):
            break
        time.sleep(0.1)
    return {"name": name, "address": "127.0.0.1", "port": port, "lan_ip": LAN_PREFIX + str(10 + index),
            "pidfile": pidfile, "overlay": overlay, "image": image}


def _boot_files(name, image):
    """The kernel to boot: the image's, or one the guest installed and `lab reboot` copied out."""
    own = os.path.join(STATE, "run", name + ".boot")
    if os.path.exists(os.path.join(own, "vmlinuz")):
        return os.path.join(own, "vmlinuz"), os.path.join(own, "initrd.img")
    return os.path.join(image, "vmlinuz"), os.path.join(image, "initrd.img")


def vm_pid(vm):
    try:
        with open(vm["pidfile"]) as handle:
            return int(handle.read().strip())
    except (OSError, ValueError):
        return None


def configure_vm(vm, key):
    """Hostname and the LAN address, persistent across reboots."""
    ssh(vm, key, "hostnamectl set-hostname %s 2>/dev/null || echo %s > /etc/hostname; "
                 "mkdir -p /etc/network/interfaces.d; "
                 "printf 'auto eth1\\niface eth1 inet static\\n  address %s/24\\n' > /etc/network/interfaces.d/lab-lan; "
                 "ip addr replace %s/24 dev eth1; ip link set eth1 up"
        % (vm["name"], vm["name"], vm["lan_ip"], vm["lan_ip"]))


def stop_vm(vm):
    pid = vm_pid(vm)
    if pid and pid_alive(pid):
        os.kill(pid, signal.SIGTERM)
        for _attempt in range(50):
            if not pid_alive(pid):
                break
            time.sleep(0.1)
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
    for path in (vm["pidfile"], vm["overlay"]):
        if os.path.exists(path):
            os.unlink(path)
    log("stopped %s" % vm["name"])


def reboot_into_installed_kernel(vm, key):
    """Boot the VM's newest installed kernel: copy it out of the guest, then restart qemu."""
    newest = ssh(vm, key, "ls /boot/vmlinuz-* | sort -V | tail -1").stdout.strip()
    release = newest.split("vmlinuz-", 1)[1]
    own = os.path.join(STATE, "run", vm["name"] + ".boot")
    os.makedirs(own, exist_ok=True)
    for remote, local in (("/boot/vmlinuz-" + release, "vmlinuz"), ("/boot/initrd.img-" + release, "initrd.img")):
        data = subprocess.run(
            ["ssh", "-q", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
             "-i", key, "-p", str(vm["port"]), "root@127.0.0.1", "cat " + remote],
            capture_output=True, check=True).stdout
        if not data:
            raise LabError("reboot %s: %s is empty" % (vm["name"], remote))
        with open(os.path.join(own, local), "wb") as handle:
            handle.write(data)
    ssh(vm, key, "sync; systemctl poweroff", check=False)
    pid = vm_pid(vm)
    for _attempt in range(300):
        if not pid_alive(pid):
            break
        time.sleep(0.2)
    return release
