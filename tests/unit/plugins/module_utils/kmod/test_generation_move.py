# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The move from ovpn-dco-v2 with OpenVPN 2.6 to the in-tree ovpn with 2.7, on recorded hosts.

Every fixture was recorded on the lab's stock Debian 13 VMs during one run of the move
(tests/lab/generation_move.py): what host_info and the kmod role's decision say in the window
where OpenVPN and the kernel's module do not match, before anything is discovered by a tunnel
falling back to userspace.
"""

from __future__ import annotations

import copy
import os

import pytest
import yaml

from ansible_collections.ovpnfleet.dco.plugins.module_utils.host._facts import gather_host_facts
from ansible_collections.ovpnfleet.dco.plugins.module_utils.kmod import _service as _kmod_service
from ansible_collections.ovpnfleet.dco.plugins.module_utils.kmod._readiness import recommend
from ansible_collections.ovpnfleet.dco.plugins.modules import kmod
from ansible_collections.ovpnfleet.dco.tests.unit.host_probes import ReplayProbe, load_fixture, without_access_server

TOP = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "..")
FIXTURES = os.path.join(TOP, "tests", "unit", "fixtures", "host_info")
with open(os.path.join(TOP, "kmod", "sources.yml")) as handle:
    SOURCES = yaml.safe_load(handle)["ovpn_dco_sources"]
STOCK, BPO = "6.12.118+deb13-amd64", "7.3.4+deb13-amd64"


def probe_of(name):
    return without_access_server(load_fixture(os.path.join(FIXTURES, name + ".json"))["probe"])


def facts_of(name):
    facts = gather_host_facts(ReplayProbe(probe_of(name)))
    facts["access_server"] = None
    return facts


def decide(run_module, monkeypatch, name):
    replay = ReplayProbe(probe_of(name))
    monkeypatch.setattr(_kmod_service, "ModuleProbe", lambda module: replay)
    return run_module(kmod.main, {"decide_only": True, "sources": SOURCES}, check_mode=True)


# --- OpenVPN 2.7 arrived first, then the backports kernel, not rebooted yet ---------------------

def test_pending_kernel_that_ships_ovpn_is_read():
    facts = facts_of("debian13-stock-openvpn27-kernel-pending")
    assert facts["pending_reboot_kernel"] == BPO
    assert facts["pending_reboot_kernel_modules"]["ovpn"]["origin"] == "in-tree"
    assert facts["pending_reboot_kernel_modules"]["ovpn-dco-v2"] == {"filename": None, "origin": None}


def test_openvpn27_waiting_for_the_kernel_with_ovpn_is_told_to_reboot():
    rec = recommend(facts_of("debian13-stock-openvpn27-kernel-pending"), SOURCES)
    assert (rec["status"], rec["flavour"], rec["method"]) == ("unsupported", "ovpn", None)
    assert rec["reasons"] == [
        "kernel %s has no ovpn, which OpenVPN 2.7.8 needs, and kernel %s, installed and waiting for "
        "a reboot, ships it: reboot into %s, then run enable_dco or upgrade_kmod (they load ovpn, "
        "nothing is built); until the reboot an OpenVPN 2.7.8 started now runs in userspace." % (STOCK, BPO, BPO)]


def test_the_kmod_role_leaves_that_host_alone_with_the_reason(run_module, monkeypatch):
    # It failed the run before: "choose a method for ovpn: kmod/sources.yml pins no ovpn source ...
    # or boot a kernel >= 6.16", with that kernel installed and waiting.
    failed, result = decide(run_module, monkeypatch, "debian13-stock-openvpn27-kernel-pending")
    assert not failed, result
    assert result["decision"]["skip"] is True
    assert "reboot into %s" % BPO in result["decision"]["why"]


def test_openvpn27_alone_on_the_stock_kernel_still_needs_a_kernel_or_a_source():
    rec = recommend(facts_of("debian13-stock-openvpn27"), SOURCES)
    assert rec["status"] == "unsupported"
    assert "boot a kernel >= 6.16, which ships ovpn" in rec["reasons"][0]


def test_old_processes_keep_dco_on_the_old_module_until_they_restart():
    # Debian's openvpn upgrade restarted no unit: the tunnels stayed ovpn-dco devices (lab).
    rec = recommend(facts_of("debian13-stock-openvpn27"), SOURCES)
    assert rec["notes"][0] == (
        "ovpn_dco_v2 is loaded but OpenVPN 2.7.8 talks only to ovpn: tunnels of an OpenVPN started "
        "before the upgrade stay on ovpn_dco_v2 until they restart, then run in userspace unless ovpn is loaded.")


# --- the kernel arrived first, OpenVPN still 2.6 ---------------------------------------------------

def test_openvpn26_waiting_for_the_kernel_with_ovpn_gets_the_order_of_the_move():
    rec = recommend(facts_of("debian13-stock-kernel-pending"), SOURCES)
    assert (rec["status"], rec["flavour"]) == ("ready", "ovpn-dco-v2")
    assert rec["notes"] == [
        "kernel %s is installed and waits for a reboot: build ovpn-dco-v2 for it too, or DCO is lost "
        "after the reboot." % BPO,
        "kernel %s ships ovpn, which OpenVPN 2.7 and newer use instead of ovpn-dco-v2: install that "
        "OpenVPN before the reboot and run upgrade_kmod after it (it loads ovpn and removes what this "
        "collection installed of ovpn-dco-v2), or build ovpn-dco-v2 for %s to stay on this OpenVPN." % (BPO, BPO)]


def test_no_build_note_when_the_pending_kernel_already_has_the_module():
    facts = copy.deepcopy(facts_of("debian13-stock-kernel-pending"))
    facts["pending_reboot_kernel_modules"]["ovpn-dco-v2"] = {
        "filename": "/lib/modules/%s/updates/ovpnfleet-dco/ovpn-dco-v2.ko" % BPO, "origin": "updates"}
    notes = recommend(facts, SOURCES)["notes"]
    assert not any("build ovpn-dco-v2 for it too" in note for note in notes)
    assert any("ships ovpn" in note for note in notes)


@pytest.mark.parametrize("name", ["debian13-stock-dco", "debian13-stock-moved-rebooted"])
def test_no_pending_kernel_no_move_note(name):
    facts = facts_of(name)
    assert facts["pending_reboot_kernel_modules"] is None
    assert not any("waits for a reboot" in note or "ships ovpn" in note for note in recommend(facts, SOURCES)["notes"])


# --- after the reboot -----------------------------------------------------------------------------

def test_after_the_reboot_the_kernels_ovpn_is_a_modprobe():
    rec = recommend(facts_of("debian13-stock-moved-rebooted"), SOURCES)
    assert (rec["status"], rec["method"], rec["steps"][0]) == ("actionable", "inkernel", "modprobe ovpn")
