# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""python3 -m tests.lab images|up|down|status|wait|ssh|reboot: the lab fleet of the tests,
benchmarks and demo. Results go to stdout, progress to stderr."""

from __future__ import annotations

import argparse
import os
import sys
import time

from tests.lab import brownfield, containers, images, inventory, machine, secureboot_image, vms
from tests.lab import state as lab_state
from tests.lab.common import LabError, in_parallel, log, ssh, ssh_argv, wait_for_ssh
from tests.lab.state import RUN_DIR, STATE_DIR

# VM platforms: the image each boots, its LAN numbers (debian12-2 is 192.0.2.12, debian13-bpo-1
# .21) and what its kernel command line adds. debian12-sig enforces module signatures
# (module.sig_enforce=1), as debian13-bpo-sig does: Debian's own modules (the in-tree ovpn among
# them) load, an unsigned ovpn-dco-v2 must not.
PLATFORMS = {
    "debian12": {"image": "debian12", "lan_base": 0, "append": "", "option": "debian12"},
    "debian13-bpo": {"image": "debian13-bpo", "lan_base": 10, "append": "", "option": "debian13"},
    "debian13": {"image": "debian13", "lan_base": 20, "append": "", "option": "debian13_stock"},
    "debian12-sig": {"image": "debian12", "lan_base": 30, "append": "module.sig_enforce=1", "option": "debian12_sig"},
    "debian13-bpo-sig": {"image": "debian13-bpo", "lan_base": 40, "append": "module.sig_enforce=1",
                         "option": "debian13_sig"},
    # UEFI Secure Boot (shim, signed GRUB and kernel; the kernel locks itself down and loads only
    # signed modules): secureboot_image.py makes its disk, `python3 -m tests.lab.secureboot` the proof.
    "debian12-sb": {"image": "debian12-sb", "lan_base": 50, "append": "", "option": "debian12_sb",
                    "firmware": "uefi"},
}
MAX_VMS_PER_PLATFORM = 9
VM_SSH_DEADLINE = 300         # TCG boots take 30-60 s alone, more when the machine is busy
CONTAINER_SSH_DEADLINE = 60


def ssh_deadline(vm):
    """UEFI firmware, shim and GRUB add minutes to a TCG boot."""
    return VM_SSH_DEADLINE * 2 if vm.get("firmware") == "uefi" else VM_SSH_DEADLINE


class Timings:
    def __init__(self):
        self.rows = []

    def add(self, label, seconds, note=""):
        self.rows.append((label, seconds, note))

    def print(self):
        for label, seconds, note in self.rows:
            print("  %-34s %7.1f s  %s" % (label, seconds, note))


# ---------------------------------------------------------------- images

def cmd_images(args):
    machine.ensure_packages()
    lab_state.ensure_ssh_key()
    unknown = sorted(set(args.names) - set(images.RECIPES))
    if unknown:
        raise LabError("no image recipe %s; there are %s" % (", ".join(unknown), ", ".join(images.RECIPES)))
    for name in args.names or list(images.RECIPES):
        seconds = images.ensure_image(name)[1]
        facts = images.manifest(name)
        how = "built now" if seconds else "cached, built in %.0f s" % facts["build_seconds"]
        print("%-13s %-7.1f %s\n              %s\n              %s" % (
            name, seconds, how, images.image_dir(name), images.describe(facts)))
        if images.RECIPES[name].get("boot") == "uefi":
            disk, seconds = secureboot_image.ensure_disk(images.image_dir(name), images.RECIPES[name]["suite"])
            print("              Secure Boot disk %s (%s)" % (disk, "made now" if seconds else "cached"))
        if name == "container":
            print("              podman image %s" % containers.ensure_image(images.image_dir(name)))
    return 0


# ---------------------------------------------------------------- up

def cmd_up(args):
    began = time.monotonic()
    timings = Timings()
    machine.ensure_packages()
    key = lab_state.ensure_ssh_key()
    wanted = _wanted_vms(args)
    platforms = sorted({PLATFORMS[platform]["image"] for platform in wanted.values()})
    for name in platforms + (["container"] if args.containers else []):
        seconds = images.ensure_image(name)[1]
        facts = images.manifest(name)
        timings.add("image " + name, seconds,
                    "built now" if seconds else "cached (built in %.0f s)" % facts["build_seconds"])
        if images.RECIPES[name].get("boot") == "uefi":
            seconds = secureboot_image.ensure_disk(images.image_dir(name), images.RECIPES[name]["suite"])[1]
            timings.add("Secure Boot disk " + name, seconds, "made now" if seconds else "cached")
    state = lab_state.load()
    for line in _remove_unwanted(state, wanted, args.containers):
        log(line)
    started_vms = _start_vms(state, wanted, key)
    lab_state.save(state)
    _start_containers(state, args.containers, key, timings)
    lab_state.save(state)
    _wait_for_all(state, started_vms, timings)

    state["tunnels"] = brownfield.plan(state["vms"], state["containers"])
    brownfield.ensure_certificates(state["tunnels"])
    hosts = lab_state.all_hosts(state)
    changes = brownfield.deploy(state["tunnels"], hosts, systemd_hosts=set(state["vms"]))
    log("OpenVPN: %d hosts changed, %d unchanged" % (
        sum(v == "changed" for v in changes.values()), sum(v == "unchanged" for v in changes.values())))
    results = brownfield.check(state["tunnels"], hosts)
    lab_state.save(state)
    inventory.write(state)

    _print_summary(state, timings, results, time.monotonic() - began)
    brownfield.require_all_passed(results)
    return 0


def _wanted_vms(args):
    wanted = {}
    for platform, facts in PLATFORMS.items():
        count = getattr(args, facts["option"])
        if not 0 <= count <= MAX_VMS_PER_PLATFORM:
            raise LabError("--%s wants 0 to %d VMs" % (facts["option"].replace("_", "-"), MAX_VMS_PER_PLATFORM))
        for number in range(1, count + 1):
            wanted["%s-%d" % (platform, number)] = platform
    return wanted


def _remove_unwanted(state, wanted_vms, container_count):
    """Make the lab match this `up`: stop VMs and containers beyond the wanted counts."""
    lines = []
    for name in sorted(set(state["vms"]) - set(wanted_vms)):
        removed = vms.stop(state["vms"].pop(name))
        lines.append("not wanted any more, removed %s: %s" % (name, ", ".join(removed)))
    wanted_containers = {"ct%02d" % n for n in range(1, container_count + 1)}
    for name in sorted(set(state["containers"]) - wanted_containers):
        container = state["containers"].pop(name)
        containers.remove([container["container"]])
        lines.append("not wanted any more, removed container %s" % container["container"])
    return lines


def _start_vms(state, wanted, key):
    """Start each wanted VM that does not run; the names started now."""
    started = []
    taken = {vm["port"] for vm in state["vms"].values()}
    segment = state.setdefault("lan_segment", vms.lan_segment(state["lab_id"]))
    for name, platform in sorted(wanted.items()):
        image = vm_image_dir(platform)
        vm = state["vms"].get(name)
        if vm and vms.alive(vm):
            if vm["image"] != image:
                log("%s runs on an older %s image; `down` then `up` to move to the new one"
                    % (name, platform))
            continue
        number = PLATFORMS[platform]["lan_base"] + int(name.rsplit("-", 1)[1])
        if vm and vms.port_is_free(vm["port"]):
            port = vm["port"]  # a VM that stopped comes back where it was
        else:
            port = vms.free_ssh_port(taken)
        taken.add(port)
        vm = {"name": name, "platform": platform, "append": PLATFORMS[platform]["append"],
              "firmware": PLATFORMS[platform].get("firmware", "direct"),
              "address": "127.0.0.1", "port": port,
              "lan_ip": vms.lan_ip(number), "identity_file": key}
        state["vms"][name] = vms.start(vm, image, segment, lab_state.authorized_keys())
        log("started %s (qemu pid %s, ssh 127.0.0.1:%d, lan %s)" % (name, vms.pid(vm), port, vm["lan_ip"]))
        started.append(name)
    return started


def vm_image_dir(platform):
    """What a VM of platform boots: the image's directory, or its Secure Boot disk's."""
    image = images.image_dir(PLATFORMS[platform]["image"])
    if PLATFORMS[platform].get("firmware") == "uefi":
        return secureboot_image.disk_dir(image)
    return image


def _start_containers(state, count, key, timings):
    if not count:
        return
    tag = containers.ensure_image(images.image_dir("container"))
    network = containers.ensure_network(state["lab_id"], STATE_DIR)
    started = time.monotonic()
    names = ["ct%02d" % n for n in range(1, count + 1)]
    already = set(containers.lab_containers(STATE_DIR))
    keys = lab_state.authorized_keys()
    results = in_parallel(lambda name: containers.start(name, tag, state["lab_id"], STATE_DIR, key, keys),
                          names, workers=4)
    for container in results:
        if container["image"] != tag and container["container"] in already:
            log("%s runs an older image; `down` then `up` to move to the new one" % container["name"])
        state["containers"][container["name"]] = container
    fresh = len([c for c in results if c["container"] not in already])
    timings.add("containers started", time.monotonic() - started,
                "%d new, %d reused, network %s" % (fresh, count - fresh, network))


def _wait_for_all(state, started_vms, timings):
    """SSH on every host, all polled at once; boot-to-SSH per VM started by this `up`."""
    hosts = lab_state.all_hosts(state)
    began = time.monotonic()

    segment = state.setdefault("lan_segment", vms.lan_segment(state["lab_id"]))

    def one(name):
        if name in started_vms:
            vms.wait_booted(state["vms"][name], segment, lab_state.authorized_keys(),
                            ssh_deadline(state["vms"][name]))
        else:
            deadline = VM_SSH_DEADLINE if name in state["vms"] else CONTAINER_SSH_DEADLINE
            try:
                wait_for_ssh(hosts[name], deadline)
            except LabError as error:
                console = hosts[name].get("console")
                raise LabError("%s%s" % (error, "; its console: " + console if console else "")) from error
        if name in started_vms:
            return time.time() - hosts[name]["started_at"]
        return time.monotonic() - began

    seconds = dict(zip(sorted(hosts), in_parallel(one, sorted(hosts), workers=len(hosts) or 1)))
    for name in sorted(state["vms"]):
        timings.add("boot to SSH " + name, seconds[name],
                    "booted now" if name in started_vms else "was running (reused)")
    if state["containers"]:
        timings.add("SSH on all %d containers" % len(state["containers"]),
                    max(seconds[n] for n in state["containers"]))


def _print_summary(state, timings, results, total):
    print("lab %s up in %.0f s (%s)" % (state["lab_id"], total, STATE_DIR))
    timings.print()
    for name, vm in sorted(state["vms"].items()):
        print("  vm %-15s ssh 127.0.0.1:%-5d lan %-11s python3 -m tests.lab ssh %s"
              % (name, vm["port"], vm["lan_ip"], name))
    if state["containers"]:
        first, last = min(state["containers"]), max(state["containers"])
        print("  containers %s..%s on podman network %s, ssh on port 22 of their addresses"
              % (first, last, containers.network_name(state["lab_id"])))
    passed = [r for r in results if r["ok"]]
    print("  tunnels: %d of %d pass traffic (ping through the tunnel)" % (len(passed), len(results)))
    print("  inventory: %s" % lab_state.INVENTORY)


# ---------------------------------------------------------------- down, status, wait

def cmd_down(_args):
    state = lab_state.load()
    removed = []
    for name, vm in sorted(state["vms"].items()):
        removed += ["%s: %s" % (name, what) for what in vms.stop(vm)]
    ours = set(containers.lab_containers(STATE_DIR))
    ours |= {c["container"] for c in state["containers"].values()
             if containers.running(c["container"]) or c["container"] in ours}
    removed += ["container " + name for name in containers.remove(sorted(ours))]
    removed += ["podman network %s (and its bridge)" % n for n in containers.remove_network(state["lab_id"])]
    removed += _remove_leftover_run_files()
    if os.path.exists(lab_state.INVENTORY):
        os.unlink(lab_state.INVENTORY)
        removed.append(lab_state.INVENTORY)
    lab_state.save(lab_state.empty())
    for line in removed:
        print("removed " + line)
    print("lab %s is down: no qemu, container or podman network of it left%s"
          % (state["lab_id"], "" if removed else " (nothing was running)"))
    return 0


def _remove_leftover_run_files():
    """Files of VMs the state forgot (a crash between start and save): their qemu too."""
    removed = []
    if not os.path.isdir(RUN_DIR):
        return removed
    for entry in sorted(os.listdir(RUN_DIR)):
        if entry.endswith(".qcow2"):
            name = entry[:-len(".qcow2")]
            stray = {"name": name, "overlay": os.path.join(RUN_DIR, entry),
                     "pidfile": os.path.join(RUN_DIR, name + ".pid"),
                     "console": os.path.join(RUN_DIR, name + ".console"),
                     "efi_vars": os.path.join(RUN_DIR, name + ".vars.fd")}
            removed += ["%s: %s" % (name, what) for what in vms.stop(stray)]
    return removed


def cmd_status(_args):
    state = lab_state.load()
    if not state["vms"] and not state["containers"]:
        print("lab %s is down (%s)" % (state["lab_id"], STATE_DIR))
        return 0
    print("lab %s (%s)" % (state["lab_id"], STATE_DIR))
    for name, vm in sorted(state["vms"].items()):
        pid = vms.pid(vm)
        print("  vm        %-15s %-12s %-16s ssh 127.0.0.1:%-5d lan %s" % (
            name, vm["platform"], "running pid %d" % pid if pid else "NOT RUNNING", vm["port"],
            vm["lan_ip"]))
    present = set(containers.lab_containers(STATE_DIR))
    for name, container in sorted(state["containers"].items()):
        condition = ("running" if containers.running(container["container"]) else "stopped") \
            if container["container"] in present else "GONE"
        print("  container %-15s %-12s %-16s ssh %s:22  (podman %s)" % (
            name, "debian12", condition, container["address"], container["container"]))
    for tunnel in state.get("tunnels", []):
        print("  tunnel    %-15s -> %-15s %s" % (tunnel["client"], tunnel["server"], tunnel["gateway"]))
    print("  inventory %s" % lab_state.INVENTORY)
    return 0


def cmd_wait(args):
    state = lab_state.load()
    hosts = lab_state.all_hosts(state)
    if not hosts:
        raise LabError("the lab is down: `python3 -m tests.lab up` first")
    seconds = in_parallel(lambda name: wait_for_ssh(hosts[name], args.timeout), sorted(hosts),
                          workers=len(hosts))
    for name, waited in zip(sorted(hosts), seconds):
        print("  %-15s SSH after %.1f s" % (name, waited))
    return 0


# ---------------------------------------------------------------- ssh, reboot

def cmd_ssh(args):
    host = lab_state.all_hosts(lab_state.load()).get(args.name)
    if host is None:
        raise LabError("no lab host %s; `python3 -m tests.lab status` lists them" % args.name)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    tty = ["-t"] if not command and sys.stdin.isatty() else []
    os.execvp("ssh", ssh_argv(host) + tty + command)
    return 1  # not reached


def cmd_reboot(args):
    state = lab_state.load()
    vm = state["vms"].get(args.name)
    if vm is None:
        raise LabError("no lab VM %s; `python3 -m tests.lab status` lists them" % args.name)
    # A UEFI VM boots whatever its own GRUB boots (/vmlinuz): nothing to copy out.
    release = vms.copy_newest_kernel_out(vm) if vm.get("firmware") != "uefi" else None
    vms.power_off(vm)
    started = time.monotonic()
    vms.start(vm, vm["image"], state.setdefault("lan_segment", vms.lan_segment(state["lab_id"])),
              lab_state.authorized_keys())
    lab_state.save(state)
    vms.wait_booted(vm, state["lan_segment"], lab_state.authorized_keys(), ssh_deadline(vm))
    release = release or ssh(vm, "uname -r").stdout.strip()
    print("%s booted %s; SSH after %.0f s" % (args.name, release, time.monotonic() - started))
    return 0


# ---------------------------------------------------------------- main

def parser():
    top = argparse.ArgumentParser(prog="python3 -m tests.lab", description=__doc__)
    sub = top.add_subparsers(dest="command", required=True)
    images_parser = sub.add_parser("images", help="build the images the cache lacks, list them")
    images_parser.add_argument("names", nargs="*", metavar="NAME",
                               help="images to build: %s (default: all)" % ", ".join(images.RECIPES))
    images_parser.set_defaults(func=cmd_images)
    up = sub.add_parser("up", help="start the fleet (reusing what runs), write .lab/inventory.yml")
    up.add_argument("--debian12", type=int, default=1, help="Debian 12 VMs (default 1)")
    up.add_argument("--debian13", type=int, default=1,
                    help="Debian 13 + trixie-backports kernel VMs (default 1)")
    up.add_argument("--debian13-stock", type=int, default=0,
                    help="Debian 13 VMs on trixie's own kernel (6.12) and OpenVPN 2.6 (default 0)")
    up.add_argument("--debian12-sig", type=int, default=0,
                    help="Debian 12 VMs booted with module.sig_enforce=1 (default 0)")
    up.add_argument("--debian13-sig", type=int, default=0,
                    help="Debian 13 + backports kernel VMs booted with module.sig_enforce=1 (default 0)")
    up.add_argument("--debian12-sb", type=int, default=0,
                    help="Debian 12 VMs booted with UEFI Secure Boot: shim, signed GRUB and kernel, "
                         "lockdown (default 0)")
    up.add_argument("--containers", type=int, default=20, help="light container hosts (default 20)")
    up.set_defaults(func=cmd_up)
    sub.add_parser("down", help="stop and remove all this lab started").set_defaults(func=cmd_down)
    sub.add_parser("status", help="what this lab runs").set_defaults(func=cmd_status)
    wait = sub.add_parser("wait", help="wait until every lab host answers SSH")
    wait.add_argument("--timeout", type=int, default=VM_SSH_DEADLINE, help="seconds (default %(default)s)")
    wait.set_defaults(func=cmd_wait)
    ssh_parser = sub.add_parser("ssh", help="a shell, or a command after --, on a lab host")
    ssh_parser.add_argument("name")
    ssh_parser.add_argument("command", nargs=argparse.REMAINDER)
    ssh_parser.set_defaults(func=cmd_ssh)
    reboot = sub.add_parser("reboot", help="reboot a VM into the newest kernel installed in it")
    reboot.add_argument("name")
    reboot.set_defaults(func=cmd_reboot)
    return top


def main(argv=None):
    args = parser().parse_args(argv)
    try:
        machine.require_root()
        return args.func(args)
    except LabError as error:
        log("error: %s" % error)
        return 1
    except BrokenPipeError:  # stdout piped into head
        return 0
    except KeyboardInterrupt:
        log("interrupted; `python3 -m tests.lab status` shows what runs")
        return 130
