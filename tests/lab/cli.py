# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""python3 -m tests.lab up|down|status|ssh|reboot: the lab fleet the tests and the demo use."""

from __future__ import annotations

import argparse
import os
import subprocess
import time

from tests.lab import brownfield, containers, images, vms
from tests.lab.common import (
    STATE,
    TOP,
    LabError,
    load_state,
    log,
    pid_alive,
    run,
    save_state,
    ssh_argv,
    wait_for_ssh,
)

VM_PLATFORMS = ("debian12", "debian13-bpo")


def ensure_apt_packages():
    with open(os.path.join(TOP, "tests", "lab", "apt-packages.txt")) as handle:
        wanted = [line.split("#")[0].strip() for line in handle if line.split("#")[0].strip()]
    missing = [name for name in wanted if subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", name], capture_output=True, text=True, check=False).stdout != "install ok installed"]
    if missing:
        log("installing %s" % " ".join(missing))
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        run(["apt-get", "update", "-qq"], env=env, quiet=True)
        run(["apt-get", "install", "-y", "-qq", "--no-install-recommends"] + missing, env=env, quiet=True)


def cmd_up(args):
    timings = {}
    ensure_apt_packages()
    key = images.ssh_key()
    state = load_state()
    wanted = {"debian12": args.debian12, "debian13-bpo": args.debian13}
    for platform in VM_PLATFORMS:
        if wanted[platform]:
            timings["image %s" % platform] = images.ensure_image(platform)[1]
    if args.containers:
        image, timings["image container"] = images.ensure_image("container")
        tag = containers.ensure_container_image(image)
    started = time.monotonic()
    index = 0
    for platform in VM_PLATFORMS:
        for number in range(1, wanted[platform] + 1):
            index += 1
            name = "%s-%d" % (platform, number)
            vm = state["vms"].get(name)
            if not vm or not pid_alive(vms.vm_pid(vm)):
                state["vms"][name] = vm = vms.start_vm(name, images.image_dir(platform), index)
                vm["platform"] = platform
    save_state(state)
    for name, vm in sorted(state["vms"].items()):
        timings["ssh %s" % name] = wait_for_ssh(vm, key)
        vms.configure_vm(vm, key)
    container_started = time.monotonic()
    for number in range(1, args.containers + 1):
        name = "ct%02d" % number
        state["containers"][name] = containers.start_container(name, tag)
    save_state(state)
    for name, ct in sorted(state["containers"].items()):
        wait_for_ssh(ct, key, deadline_seconds=60)
    if args.containers:
        timings["%d containers" % args.containers] = time.monotonic() - container_started
    timings["boot to ssh, all hosts"] = time.monotonic() - started
    hosts = dict(state["vms"], **state["containers"])
    tunnels = brownfield.plan(state["vms"], state["containers"])
    brownfield.ensure_pki([t["client"] for t in tunnels])
    brownfield.deploy(tunnels, hosts, key, systemd_hosts=set(state["vms"]))
    results = brownfield.check_tunnels(tunnels, hosts, key)
    state["tunnels"] = tunnels
    save_state(state)
    write_inventory(state, key)
    for label, seconds in timings.items():
        print("timing: %-28s %6.1f s" % (label, seconds))
    print("tunnels: %d of %d pass traffic" % (sum(results.values()), len(results)))
    print("inventory: %s" % os.path.join(STATE, "inventory.yml"))
    return 0 if all(results.values()) else 1


def write_inventory(state, key):
    servers = {t["server"] for t in state.get("tunnels", [])}
    clients = {t["client"] for t in state.get("tunnels", [])}
    lines = ["# Written by `python3 -m tests.lab up`; the lab fleet.", "all:", "  vars:",
             "    ansible_user: root",
             "    ansible_ssh_private_key_file: %s" % key,
             "    ansible_ssh_common_args: -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null",
             "    ansible_python_interpreter: /usr/bin/python3",
             "  children:"]
    groups = {
        "lab_vms": sorted(state["vms"]),
        "lab_containers": sorted(state["containers"]),
        "debian12": sorted(n for n, vm in state["vms"].items() if vm["platform"] == "debian12"),
        "debian13_bpo": sorted(n for n, vm in state["vms"].items() if vm["platform"] == "debian13-bpo"),
        "openvpn_servers": sorted(servers),
        "openvpn_clients": sorted(clients),
    }
    hosts = dict(state["vms"], **state["containers"])
    for group, members in groups.items():
        lines.append("    %s:" % group)
        lines.append("      hosts:" if members else "      hosts: {}")
        for name in members:
            host = hosts[name]
            extra = ", lab_lan_ip: %s" % host["lan_ip"] if "lan_ip" in host else ""
            lines.append("        %s: {ansible_host: %s, ansible_port: %d%s}"
                         % (name, host["address"], host["port"], extra))
    with open(os.path.join(STATE, "inventory.yml"), "w") as handle:
        handle.write("\n".join(lines) + "\n")


def cmd_down(_args):
    state = load_state()
    for vm in state["vms"].values():
        vms.stop_vm(vm)
    for ct in state["containers"].values():
        containers.remove_container(ct)
    for name in containers.leftover_containers():
        containers.remove_container({"container": name})
    run_dir = os.path.join(STATE, "run")
    if os.path.isdir(run_dir):
        for entry in os.listdir(run_dir):
            path = os.path.join(run_dir, entry)
            if os.path.isfile(path):
                os.unlink(path)
    save_state({"vms": {}, "containers": {}})
    inventory = os.path.join(STATE, "inventory.yml")
    if os.path.exists(inventory):
        os.unlink(inventory)
    print("lab is down: no VM process, no lab container, no overlay left")
    return 0


def cmd_status(_args):
    state = load_state()
    for name, vm in sorted(state["vms"].items()):
        print("vm        %-16s %-8s ssh 127.0.0.1:%d lan %s" % (
            name, "running" if pid_alive(vms.vm_pid(vm)) else "stopped", vm["port"], vm["lan_ip"]))
    running = set(containers.leftover_containers())
    for name, ct in sorted(state["containers"].items()):
        print("container %-16s %-8s ssh %s:22" % (
            name, "running" if ct["container"] in running else "gone", ct["address"]))
    if not state["vms"] and not state["containers"]:
        print("lab is down")
    return 0


def cmd_ssh(args):
    state = load_state()
    host = dict(state["vms"], **state["containers"]).get(args.name)
    if host is None:
        raise LabError("no lab host %s (see `python3 -m tests.lab status`)" % args.name)
    return subprocess.call(ssh_argv(host, images.ssh_key()) + args.command)


def cmd_reboot(args):
    state = load_state()
    vm = state["vms"][args.name]
    key = images.ssh_key()
    release = vms.reboot_into_installed_kernel(vm, key)
    started = time.monotonic()
    restarted = vms.start_vm(args.name, vm["image"], sorted(state["vms"]).index(args.name) + 1)
    restarted["platform"] = vm["platform"]
    state["vms"][args.name] = restarted
    save_state(state)
    wait_for_ssh(restarted, key)
    print("%s booted %s in %.0f s" % (args.name, release, time.monotonic() - started))
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python3 -m tests.lab")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="build or reuse images, start the fleet, write .lab/inventory.yml")
    up.add_argument("--debian12", type=int, default=1, help="Debian 12 VMs (default 1)")
    up.add_argument("--debian13", type=int, default=1, help="Debian 13 + backports VMs (default 1)")
    up.add_argument("--containers", type=int, default=20, help="light container hosts (default 20)")
    up.set_defaults(func=cmd_up)
    sub.add_parser("down", help="stop and remove everything the lab started").set_defaults(func=cmd_down)
    sub.add_parser("status", help="what runs").set_defaults(func=cmd_status)
    ssh_parser = sub.add_parser("ssh", help="a shell or a command on a lab host")
    ssh_parser.add_argument("name")
    ssh_parser.add_argument("command", nargs=argparse.REMAINDER)
    ssh_parser.set_defaults(func=cmd_ssh)
    reboot = sub.add_parser("reboot", help="reboot a VM into its newest installed kernel")
    reboot.add_argument("name")
    reboot.set_defaults(func=cmd_reboot)
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        log("the lab needs root (debootstrap, qemu networking, podman)")
        return 2
    try:
        return args.func(args)
    except LabError as error:
        log(str(error))
        return 1
