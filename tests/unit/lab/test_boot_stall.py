# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab's boot watchdog (tests/lab/vms.py): a VM whose console goes silent before SSH answers
is started again, a booting one is left alone, and the attempts are bounded. qemu, SSH and the
clock are replaced; the console is a real file."""

from __future__ import annotations

import subprocess
import sys
import os

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", ".."))
from tests.lab import vms  # noqa: E402  pylint: disable=wrong-import-position
from tests.lab.common import LabError  # noqa: E402  pylint: disable=wrong-import-position


class Clock:
    def __init__(self):
        self.now = 0.0

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


@pytest.fixture
def lab(tmp_path, monkeypatch):
    clock = Clock()
    monkeypatch.setattr(vms.time, "monotonic", clock.monotonic)
    monkeypatch.setattr(vms.time, "sleep", clock.sleep)
    vm = {"name": "debian13-bpo-1", "address": "127.0.0.1", "port": 2302, "image": str(tmp_path),
          "console": str(tmp_path / "debian13-bpo-1.console"), "pidfile": str(tmp_path / "pid"),
          "overlay": str(tmp_path / "o.qcow2"), "lan_ip": "192.0.2.21"}
    state = {"starts": 0, "kills": 0, "ssh_from": None, "grows": True}
    with open(vm["console"], "w") as handle:
        handle.write("[    1.345111] hpet0: 3 comparators, 64-bit 100.000000 MHz counter\n")

    def ssh(_vm, _command, check=False, timeout=15):
        # A booting console grows every second; SSH answers once ssh_from has passed.
        if state["grows"]:
            with open(vm["console"], "a") as handle:
                handle.write("[ %f] booting\n" % clock.now)
        ok = state["ssh_from"] is not None and clock.now >= state["ssh_from"]
        return subprocess.CompletedProcess([], 0 if ok else 255, "", "")

    def start(argv, timeout=60):
        state["starts"] += 1
        open(vm["console"], "w").close()
        return subprocess.CompletedProcess(argv, 0, "", "")

    monkeypatch.setattr(vms, "ssh", ssh)
    monkeypatch.setattr(vms, "run", start)
    monkeypatch.setattr(vms, "_kill", lambda _vm: state.__setitem__("kills", state["kills"] + 1))
    monkeypatch.setattr(vms, "boot_files", lambda name, image: ("vmlinuz", "initrd.img"))
    return vm, state, clock


def test_a_slow_but_busy_boot_is_never_restarted(lab):
    vm, state, _clock = lab
    state["ssh_from"] = 250  # slow, but its console keeps growing
    assert vms.wait_booted(vm, "230.0.0.1:41000", "keys", 300) >= 250
    assert (state["kills"], state["starts"]) == (0, 0)


def test_a_stalled_boot_is_started_again_and_its_console_kept(lab):
    vm, state, clock = lab
    state["grows"] = False
    state["ssh_from"] = None
    original_start = vms.run

    def start_and_boot(argv, timeout=60):
        state["grows"], state["ssh_from"] = True, clock.now + 40
        return original_start(argv, timeout)

    vms.run = start_and_boot
    try:
        waited = vms.wait_booted(vm, "230.0.0.1:41000", "keys", 300)
    finally:
        vms.run = original_start
    assert (state["kills"], state["starts"]) == (1, 1)
    assert vms.BOOT_STALL_SECONDS < waited < 300
    with open(vm["console"] + ".stalled-1") as handle:
        assert "hpet0: 3 comparators" in handle.read()


def test_the_attempts_are_bounded_and_the_deadline_still_fails(lab):
    vm, state, _clock = lab
    state["grows"] = False
    with pytest.raises(LabError, match=r"no SSH from debian13-bpo-1 .* after 600 s \(3 boot attempt\(s\)\)"):
        vms.wait_booted(vm, "230.0.0.1:41000", "keys", 600)
    assert (state["kills"], state["starts"]) == (vms.BOOT_ATTEMPTS - 1, vms.BOOT_ATTEMPTS - 1)
