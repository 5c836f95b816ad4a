# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""python3 -m tests.lab.secureboot: the collection on a UEFI Secure Boot VM, every step checked.

Not part of `make test` (one TCG UEFI VM and a module compile take 15-25 minutes). Steps:
  1. `up` with one debian12-sb VM (and nothing else of this work tree's lab); the VM says
     SecureBoot enabled and lockdown [integrity].
  2. host_info and the kmod decision predict the refusal of an unsigned ovpn-dco-v2 (playbook
     phase predict).
  3. the kmod role with a key the collection generates and kmod_mok_enroll: built, signed,
     installed, persisted, not loaded; mokutil --import requested; the plan line says what the
     console needs (phase enrol). The kernel refuses the module now: its key is not trusted yet.
  4. the console confirmation, by a STAND-IN: the VM is powered off and virt-fw-vars writes the
     certificate into the MOK list of the VM's UEFI variable store and deletes the pending
     request, which is what MokManager does when a person confirms it at the console. Then the
     VM boots again. With --console the real MokManager is answered over the serial console
     instead (secureboot_console.py).
  5. the module loaded at boot, signed by our key (modinfo -F signer); the kmod role again with
     the key enrolled; the lab tunnel switched to DCO with the config module (phase after); the
     tunnel's devices are ovpn-dco and OpenVPN logs DCO.
  6. `down`: no VM of this lab is left running, whatever happened.
Exits 0 when every check passed, 1 at the first failed check.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time

from tests.lab import cli, machine, secureboot_console, vms
from tests.lab import state as lab_state
from tests.lab.common import CACHE, TOP, LabError, log, run, ssh

VM = "debian12-sb-1"
VIRT_FIRMWARE = os.path.join(CACHE, "tools", "virt-firmware")
# shim's own vendor GUID, the owner MokManager records for keys it enrols.
SHIM_GUID = "605dab50-e046-4300-abb6-3dd810dd8b23"
SIGNING_DIR = os.path.join(lab_state.STATE_DIR, "signing")
KMOD_CACHE = os.path.join(lab_state.STATE_DIR, "kmod-cache")
PLAYBOOK = os.path.join(TOP, "tests", "lab", "secureboot.yml")
SIGNER = "ovpnfleet.dco module signing key"
MOK_PASSWORD = "lab-mok-password"  # tests/lab/secureboot.yml's sb_password


class Steps:
    def __init__(self):
        self.rows = []
        self.began = time.monotonic()

    def check(self, label, ok, detail=""):
        self.rows.append((label, ok, detail))
        print("%s  %s%s" % ("PASS" if ok else "FAIL", label, (": " + detail) if detail else ""), flush=True)
        if not ok:
            raise LabError("check failed: %s" % label)


def ensure_virt_firmware():
    """virt-fw-vars from PyPI (virt-firmware) in a venv of the lab cache, made once."""
    tool = os.path.join(VIRT_FIRMWARE, "bin", "virt-fw-vars")
    if not os.path.exists(tool):
        log("installing virt-firmware from PyPI into %s" % VIRT_FIRMWARE)
        run(["/usr/bin/python3", "-m", "venv", VIRT_FIRMWARE])
        run([os.path.join(VIRT_FIRMWARE, "bin", "pip"), "install", "-q", "virt-firmware"], timeout=600)
    return tool


def ansible_playbook():
    """The work tree's venv (make unit builds it), else LAB_ANSIBLE_PLAYBOOK, else the PATH's."""
    for candidate in (os.environ.get("LAB_ANSIBLE_PLAYBOOK"), os.path.join(TOP, ".venv", "bin", "ansible-playbook"),
                      shutil.which("ansible-playbook")):
        if candidate and os.path.exists(candidate):
            return candidate
    raise LabError("no ansible-playbook: run `make unit` once (it builds .venv) or set LAB_ANSIBLE_PLAYBOOK")


def playbook(phase):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(TOP, ".tmp", "collections"),
               ANSIBLE_HOST_KEY_CHECKING="False", ANSIBLE_NOCOLOR="1")
    link = os.path.join(TOP, ".tmp", "collections", "ansible_collections", "ovpnfleet", "dco")
    if not os.path.exists(link):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(TOP, link)
    argv = [ansible_playbook(), "-i", lab_state.INVENTORY, PLAYBOOK,
            "-e", "sb_phase=" + phase, "-e", "sb_signing_dir=" + SIGNING_DIR, "-e", "sb_cache_dir=" + KMOD_CACHE]
    started = time.monotonic()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    with open(os.path.join(lab_state.STATE_DIR, "secureboot-%s.log" % phase), "w") as handle:
        handle.write(done.stdout + done.stderr)
    return done.returncode, done.stdout + done.stderr, time.monotonic() - started


def vm_state():
    return lab_state.load()["vms"][VM]


def confirm_at_console_stand_in(vm, tool):
    """What MokManager does on 'Enroll MOK' + password at the console, done on the powered-off VM's
    variable store instead: the certificate joins MokList, the pending request goes."""
    vms.power_off(vm)
    cert = os.path.join(SIGNING_DIR, "cert.der")
    store = vm["efi_vars"]
    run([tool, "-i", store, "-o", store + ".new", "--add-mok", SHIM_GUID, cert,
         "-d", "MokNew", "-d", "MokAuth"])
    os.replace(store + ".new", store)
    state = lab_state.load()
    vms.start(vm, vm["image"], state["lan_segment"], lab_state.authorized_keys())
    state["vms"][VM] = vm
    lab_state.save(state)
    return vms.wait_booted(vm, state["lan_segment"], lab_state.authorized_keys(), cli.ssh_deadline(vm))


def confirm_at_mokmanager(vm):
    """The confirmation typed at MokManager over the serial console, as a person would."""
    vms.power_off(vm)
    state = lab_state.load()
    vm["serial_socket"] = secureboot_console.socket_path(lab_state.RUN_DIR, VM)
    vms.start(vm, vm["image"], state["lan_segment"], lab_state.authorized_keys())
    console = secureboot_console.SerialConsole(vm["serial_socket"], vm["console"]).connect()
    try:
        state["vms"][VM] = vm
        lab_state.save(state)
        seen = secureboot_console.enrol_at_mokmanager(console, MOK_PASSWORD)
        booted = vms.wait_booted(vm, state["lan_segment"], lab_state.authorized_keys(), cli.ssh_deadline(vm))
    finally:
        console.close()
    return booted, seen


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python3 -m tests.lab.secureboot", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", action="store_true", help="leave the VM running at the end")
    parser.add_argument("--reuse-key", action="store_true",
                        help="keep the last run's signing key (and so its module in the cache: no compile)")
    parser.add_argument("--console", action="store_true",
                        help="confirm the enrolment by typing at MokManager over the serial console "
                             "instead of the virt-fw-vars stand-in")
    args = parser.parse_args(argv)
    machine.require_root()
    steps = Steps()
    timings = []
    try:
        tool = ensure_virt_firmware()
        ansible_playbook()
        if not args.reuse_key:
            # A new key each run, so each run also proves a new key gets its own build.
            shutil.rmtree(SIGNING_DIR, ignore_errors=True)
        if lab_state.load()["vms"]:
            cli.main(["down"])
        started = time.monotonic()
        if cli.main(["up", "--debian12", "0", "--debian13", "0", "--debian12-sb", "1", "--containers", "0"]):
            raise LabError("`up` with one debian12-sb VM failed")
        timings.append(("up (image cached or built, UEFI boot, brownfield)", time.monotonic() - started))
        vm = vm_state()
        sb = ssh(vm, "mokutil --sb-state; cat /sys/kernel/security/lockdown", check=False).stdout
        steps.check("Secure Boot on, kernel locked down", "SecureBoot enabled" in sb and "[integrity]" in sb,
                    " / ".join(sb.split("\n")[:2]))

        rc, out, seconds = playbook("predict")
        timings.append(("playbook phase predict", seconds))
        steps.check("host_info and the kmod decision predict the unsigned ovpn-dco-v2 is refused", rc == 0,
                    "see .lab/secureboot-predict.log")

        rc, out, seconds = playbook("enrol")
        timings.append(("playbook phase enrol (build, sign, install, mokutil --import)", seconds))
        steps.check("kmod role built, signed and installed; enrolment requested; plan says console", rc == 0,
                    "see .lab/secureboot-enrol.log")
        new = ssh(vm, "mokutil --list-new | head -n 3; modinfo -F signer ovpn-dco-v2").stdout
        steps.check("mokutil --list-new holds our key; the installed module is signed by it",
                    SIGNER in new and "Fingerprint" in new, new.replace("\n", " | ")[:160])
        refused = ssh(vm, "modprobe ovpn-dco-v2 2>&1; dmesg | tail -n 3", check=False).stdout
        steps.check("before the enrolment the kernel refuses the module", "Key was rejected" in refused,
                    refused.strip().splitlines()[0][:120] if refused.strip() else "")

        started = time.monotonic()
        if args.console:
            booted, seen = confirm_at_mokmanager(vm)
            steps.check("MokManager answered over the serial console", len(seen) == 6, "; ".join(seen))
            timings.append(("MokManager over the serial console + UEFI boot to SSH", time.monotonic() - started))
        else:
            booted = confirm_at_console_stand_in(vm, tool)
            timings.append(("stand-in confirmation (virt-fw-vars) + UEFI boot to SSH", time.monotonic() - started))
        log("booted again, SSH after %.0f s" % booted)
        after = ssh(vm, "mokutil --test-key /var/lib/ovpnfleet-dco/signing/cert.der; "
                        "mokutil --list-new 2>&1 | head -n 1; lsmod | grep -c '^ovpn_dco_v2' || true; "
                        "modinfo -F signer ovpn-dco-v2", check=False).stdout
        steps.check("after the reboot the key is enrolled and the module loaded at boot",
                    "is already enrolled" in after and "\n1\n" in after and SIGNER in after,
                    after.replace("\n", " | ")[:200])

        rc, out, seconds = playbook("after")
        timings.append(("playbook phase after (kmod role, config to DCO, restart)", seconds))
        steps.check("kmod role sees the key enrolled; tunnel configs switched to DCO", rc == 0,
                    "see .lab/secureboot-after.log")
        time.sleep(15)
        dco = ssh(vm, "ip -d link show | grep -c 'ovpn-dco' ; journalctl -u openvpn-server@lab -u "
                      "openvpn-client@lab --since -3min | grep -c 'DCO device' ; "
                      "journalctl -u openvpn-client@lab --since -3min | grep -c 'Initialization Sequence Completed'",
                  check=False).stdout.split()
        steps.check("tunnel in DCO: ovpn-dco devices, OpenVPN opened DCO devices, client connected",
                    len(dco) == 3 and int(dco[0]) >= 2 and int(dco[1]) >= 2 and int(dco[2]) >= 1,
                    "ovpn-dco links %s, 'DCO device' log lines %s, client completions %s" % tuple(dco + ["?"] * 3)[:3])
        return 0
    except LabError as error:
        log("error: %s" % error)
        return 1
    finally:
        for label, seconds in timings:
            print("  %-60s %6.0f s" % (label, seconds))
        print("  total %.0f s" % (time.monotonic() - steps.began))
        if not args.keep:
            cli.main(["down"])


if __name__ == "__main__":
    sys.exit(main())
