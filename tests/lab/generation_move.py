# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""python3 -m tests.lab.generation_move: the move from ovpn-dco-v2 + OpenVPN 2.6 to the in-tree
ovpn + OpenVPN 2.7 on two stock Debian 13 VMs, every step checked.

Not part of `make test` (two TCG VMs, two backports kernels, three reboots: 30-45 minutes).
A is debian13-1, B is debian13-2; each serves the other's client (the lab ring).
  1. `up` with two stock Debian 13 VMs (kernel 6.12, OpenVPN 2.6, trixie-backports in the
     sources) and nothing else; `enable_dco` with its defaults: both in DCO on ovpn-dco-v2.
  2. A meets OpenVPN 2.7 first: `apt-get install -t trixie-backports openvpn`, as the
     debian13-bpo image recipe takes 2.7.8. host_info says the old processes stay in DCO until
     they restart; the tunnels are still ovpn-dco devices.
  3. Then the backports kernel (not rebooted): host_info says reboot into it (it ships ovpn);
     upgrade_kmod leaves A alone with that reason and changes nothing.
  4. Reboot A: OpenVPN 2.7 loads the kernel's ovpn by itself (no blacklist of ours stops it);
     upgrade_kmod persists ovpn and removes what the collection installed of ovpn-dco-v2; A's
     tunnels are ovpn devices, B's still ovpn-dco, every tunnel answers ping.
  5. B meets the kernel first: host_info's notes give the order of the move; then OpenVPN 2.7,
     reboot, upgrade_kmod: both hosts on ovpn. check_health passes.
  6. `down` (unless --keep): no VM of this lab is left running, whatever happened.
Exits 0 when every check passed, 1 at the first failed check. Logs: .lab/generation-move/.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import time

from tests.lab import cli, machine
from tests.lab import state as lab_state
from tests.lab.common import TOP, LabError, log, run, ssh

A, B = "debian13-1", "debian13-2"
STOCK_PREFIX = "6.12."
LOGS = os.path.join(lab_state.STATE_DIR, "generation-move")
APT = ("DEBIAN_FRONTEND=noninteractive apt-get -y -q --no-install-recommends "
       "-o Dpkg::Options::=--force-unsafe-io install -t trixie-backports ")
V2_FILES = "/lib/modules/6.12.*/updates/ovpnfleet-dco/ovpn-dco-v2.ko /var/lib/ovpnfleet-dco/artifacts/*/ovpn-dco-v2.ko"


class Steps:
    def __init__(self):
        self.began = time.monotonic()
        self.timings = []

    def check(self, label, ok, detail=""):
        print("%s  %s%s" % ("PASS" if ok else "FAIL", label, (": " + detail) if detail else ""), flush=True)
        if not ok:
            raise LabError("check failed: %s" % label)

    def timed(self, label, function, *args):
        started = time.monotonic()
        try:
            return function(*args)
        finally:
            self.timings.append((label, time.monotonic() - started))


def env():
    link = os.path.join(TOP, ".tmp", "collections", "ansible_collections", "ovpnfleet", "dco")
    if not os.path.exists(link):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(TOP, link)
    return dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(TOP, ".tmp", "collections"),
                ANSIBLE_HOST_KEY_CHECKING="False", ANSIBLE_NOCOLOR="1")


def playbook(name, log_name, *extra):
    argv = [os.path.join(TOP, ".venv", "bin", "ansible-playbook"), "-i", lab_state.INVENTORY,
            os.path.join(TOP, "playbooks", name + ".yml")] + list(extra)
    done = subprocess.run(argv, env=env(), capture_output=True, text=True, check=False)
    with open(os.path.join(LOGS, log_name + ".log"), "w") as handle:
        handle.write(done.stdout + done.stderr)
    return done.returncode, done.stdout


def recap(out, host):
    """``{"ok": n, "changed": n, ...}`` of one host in a PLAY RECAP."""
    match = re.search(r"^%s\s*:\s*(.*)$" % re.escape(host), out.split("PLAY RECAP")[-1], re.M)
    return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", match.group(1))} if match else {}


def host_info(host, log_name):
    """host_info with the collection's table of sources, as the kmod role asks it."""
    # YAML through the venv's Python: the lab itself runs on the standard library only.
    sources = run([os.path.join(TOP, ".venv", "bin", "python"), "-c",
                   "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))['ovpn_dco_sources']))",
                   os.path.join(TOP, "kmod", "sources.yml")]).stdout
    argv = [os.path.join(TOP, ".venv", "bin", "ansible"), host, "-i", lab_state.INVENTORY, "-o",
            "-m", "ovpnfleet.dco.host_info", "-a", '{"sources": %s}' % sources.strip()]
    done = run(argv, env=env(), timeout=300)
    result = json.loads(done.stdout[done.stdout.index("=>") + 2:])
    with open(os.path.join(LOGS, log_name + ".json"), "w") as handle:
        json.dump(result, handle, indent=1)
    return result


def vm(name):
    return lab_state.load()["vms"][name]


def kinds(name):
    """Link kind of each tun* device: ovpn-dco, ovpn, or tun (userspace)."""
    links = json.loads(ssh(vm(name), "ip -d -j link show").stdout)
    return {link["ifname"]: (link.get("linkinfo") or {}).get("info_kind", "tun")
            for link in links if link["ifname"].startswith("tun")}


def wait_kinds(name, kind, seconds=180):
    """The tunnel devices come back some seconds after a restart (the peer's ping-restart)."""
    deadline = time.monotonic() + seconds
    while True:
        found = kinds(name)
        if (found and set(found.values()) == {kind}) or time.monotonic() > deadline:
            return found
        time.sleep(5)


def modules(name):
    out = ssh(vm(name), "lsmod").stdout
    return sorted(line.split()[0] for line in out.splitlines()[1:] if line.startswith("ovpn"))


def pings():
    """Each tunnel's client pings its server's tunnel address: {client->server: ok}."""
    results = {}
    for tunnel in lab_state.load()["tunnels"]:
        done = ssh(vm(tunnel["client"]), "ping -c 3 -W 2 %s" % tunnel["gateway"], check=False)
        results["%s->%s" % (tunnel["client"], tunnel["server"])] = done.returncode == 0
    return results


def wait_pings(seconds=240):
    deadline = time.monotonic() + seconds
    while True:
        found = pings()
        if all(found.values()) or time.monotonic() > deadline:
            return found
        time.sleep(10)


def apt(name, what):
    return ssh(vm(name), APT + what, timeout=1200)


def reboot(name):
    if cli.main(["reboot", name]):
        raise LabError("reboot %s failed" % name)
    return ssh(vm(name), "uname -r").stdout.strip()


def moved(steps, name, peer):
    """After upgrade_kmod: the host on ovpn and nothing of ovpn-dco-v2, the peer as it was."""
    steps.check("%s: lsmod has ovpn, not ovpn_dco_v2" % name, "ovpn" in modules(name) and
                "ovpn_dco_v2" not in modules(name), ", ".join(modules(name)))
    found = wait_kinds(name, "ovpn")
    steps.check("%s: its tunnel devices are ovpn (DCO)" % name, set(found.values()) == {"ovpn"}, str(found))
    files = ssh(vm(name), "cat /etc/modules-load.d/ovpnfleet-dco.conf /etc/modprobe.d/ovpnfleet-dco.conf; "
                          "ls %s 2>/dev/null | sed 's/^/V2_FILE_LEFT /'; dkms status 2>/dev/null" % V2_FILES,
                check=False).stdout
    steps.check("%s: persists ovpn, blacklists ovpn_dco_v2, no ovpn-dco-v2 file (installed or staged) "
                "or DKMS entry left" % name,
                "\novpn\n" in files and "blacklist ovpn_dco_v2" in files and "V2_FILE_LEFT" not in files
                and "ovpn-dco" not in files, files.replace("\n", " | ")[:200])
    if peer:
        steps.check("%s (peer, still OpenVPN 2.6): tunnel devices ovpn-dco" % peer,
                    set(wait_kinds(peer, "ovpn-dco").values()) == {"ovpn-dco"}, str(kinds(peer)))
    found = wait_pings()
    steps.check("every tunnel answers ping", all(found.values()), str(found))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python3 -m tests.lab.generation_move", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", action="store_true", help="leave the VMs running at the end")
    args = parser.parse_args(argv)
    machine.require_root()
    os.makedirs(LOGS, exist_ok=True)
    steps = Steps()
    try:
        if steps.timed("up (2 stock Debian 13 VMs)", cli.main,
                       ["up", "--debian12", "0", "--debian13", "0", "--debian13-stock", "2", "--containers", "0"]):
            raise LabError("`up` failed")
        rc, out = steps.timed("enable_dco, defaults", playbook, "enable_dco", "enable_dco",
                              "-e", "dco_report_dir=" + os.path.join(LOGS, "report"))
        steps.check("enable_dco rc 0", rc == 0, "see .lab/generation-move/enable_dco.log")
        for name in (A, B):
            steps.check("%s: ovpn_dco_v2 loaded, tunnels ovpn-dco" % name,
                        "ovpn_dco_v2" in modules(name) and set(wait_kinds(name, "ovpn-dco").values()) == {"ovpn-dco"},
                        str(kinds(name)))

        # A: OpenVPN 2.7 first, on the stock kernel.
        steps.timed("A: apt-get install -t trixie-backports openvpn", apt, A, "openvpn")
        info = host_info(A, "a-openvpn27")
        rec = info["recommendation"]
        steps.check("A: host_info sees 2.7 needing ovpn, says the old processes keep DCO until restarted",
                    info["openvpn"]["version"].startswith("2.7") and rec["flavour"] == "ovpn"
                    and any("started before the upgrade stay on ovpn_dco_v2" in note for note in rec["notes"]),
                    "; ".join(rec["reasons"] + rec["notes"])[:300])
        steps.check("A: tunnels still ovpn-dco (no unit restarted)", set(kinds(A).values()) == {"ovpn-dco"}, str(kinds(A)))

        # A: then the backports kernel, not rebooted.
        steps.timed("A: apt-get install -t trixie-backports linux-image-amd64", apt, A, "linux-image-amd64")
        info = host_info(A, "a-kernel-pending")
        pending = info["pending_reboot_kernel"] or ""
        reasons = " ".join(info["recommendation"]["reasons"])
        steps.check("A: host_info says reboot into the waiting kernel, which ships ovpn",
                    bool(pending) and ("reboot into %s" % pending) in reasons, reasons[:300])
        rc, out = steps.timed("A: upgrade_kmod before the reboot", playbook, "upgrade_kmod", "a-upgrade-before-reboot",
                              "-e", "dco_hosts=" + A)
        steps.check("A: upgrade_kmod before the reboot leaves A alone with the reason (rc 0, changed 0)",
                    rc == 0 and recap(out, A).get("changed") == 0 and ("reboot into %s" % pending) in out,
                    str(recap(out, A)))

        release = steps.timed("A: reboot", reboot, A)
        steps.check("A: runs the backports kernel", release == pending, release)
        found = wait_kinds(A, "ovpn")
        steps.check("A: after the reboot OpenVPN 2.7 is in DCO on the kernel's ovpn already", set(found.values()) == {"ovpn"},
                    str(found))
        rc, out = steps.timed("A: upgrade_kmod", playbook, "upgrade_kmod", "a-upgrade", "-e", "dco_hosts=" + A)
        steps.check("A: upgrade_kmod rc 0", rc == 0, str(recap(out, A)))
        moved(steps, A, B)

        # B: the kernel first, then OpenVPN 2.7.
        steps.timed("B: apt-get install -t trixie-backports linux-image-amd64", apt, B, "linux-image-amd64")
        info = host_info(B, "b-kernel-pending")
        notes = " ".join(info["recommendation"]["notes"])
        steps.check("B: host_info (OpenVPN 2.6) gives the order of the move",
                    info["recommendation"]["status"] == "ready" and "ships ovpn, which OpenVPN 2.7" in notes, notes[:300])
        steps.timed("B: apt-get install -t trixie-backports openvpn", apt, B, "openvpn")
        release = steps.timed("B: reboot", reboot, B)
        steps.check("B: runs the backports kernel", not release.startswith(STOCK_PREFIX), release)
        rc, out = steps.timed("B: upgrade_kmod", playbook, "upgrade_kmod", "b-upgrade", "-e", "dco_hosts=" + B)
        steps.check("B: upgrade_kmod rc 0", rc == 0, str(recap(out, B)))
        moved(steps, B, None)
        moved(steps, A, None)

        rc, out = steps.timed("check_health", playbook, "check_health", "check_health",
                              "-e", "health_report_dir=" + os.path.join(LOGS, "report-health"))
        steps.check("check_health rc 0", rc == 0, "see .lab/generation-move/check_health.log")
        return 0
    except LabError as error:
        log("error: %s" % error)
        return 1
    finally:
        if not args.keep:
            cli.main(["down"])
        for label, seconds in steps.timings:
            print("  %-60s %6.0f s" % (label, seconds))
        print("  total %.0f s" % (time.monotonic() - steps.began))


if __name__ == "__main__":
    raise SystemExit(main())
