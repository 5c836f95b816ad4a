# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""host_info replayed against hosts recorded in tests/unit/fixtures/host_info/."""

from __future__ import annotations

import os

import pytest
import yaml

from ansible_collections.ovpnfleet.dco.plugins.modules import host_info
from ansible_collections.ovpnfleet.dco.tests.unit.host_probes import ReplayProbe, load_fixture, without_access_server

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "host_info")

# What a person reading each recorded host would conclude; the fixtures hold only raw answers.
EXPECTED = {
    "build-machine": {
        "kernel.release": "6.18.44-fc-v769",
        "kernel.modules_loadable": False,
        "openvpn.installed": False,
        "container": "docker",
        "recommendation.status": "unsupported",
        "recommendation.flavour": "ovpn-dco-v2",
        "recommendation.method": None,
    },
    "debian12-fresh": {
        "kernel.release": "6.1.0-56-amd64",
        "kernel.modules_loadable": True,
        "openvpn.version": "2.6.14",
        "openvpn.dco_built": True,
        "kernel_modules.ovpn-dco-v2.loaded": False,
        "headers.installed": False,
        "headers.installable": True,
        "container": None,
        "lockdown": "none",
        "recommendation.status": "actionable",
        "recommendation.flavour": "ovpn-dco-v2",
        "recommendation.method": "package",
        "recommendation.package": "openvpn-dco-dkms",
        "recommendation.build": "dkms",
    },
    # The lab VM booted with module.sig_enforce=1: DKMS (the package) signs with its own key, so
    # host_info still recommends it, with the MOK enrolment among the notes.
    "debian12-sig-enforced": {
        "kernel.release": "6.1.0-57-amd64",
        "kernel.modules_loadable": True,
        "module_signatures_enforced": True,
        "openvpn.version": "2.6.14",
        "kernel_modules.ovpn-dco-v2.loaded": False,
        "recommendation.status": "actionable",
        "recommendation.flavour": "ovpn-dco-v2",
        "recommendation.method": "package",
    },
    # Constructed, not recorded (see its note): what host_info says without the table of sources.
    "debian13-stock-constructed": {
        "kernel.release": "6.12.118+deb13-amd64",
        "openvpn.version": "2.6.14",
        "kernel_modules.ovpn.filename": None,
        "kernel_modules.ovpn-dco-v2.filename": None,
        "recommendation.status": "actionable",
        "recommendation.flavour": "ovpn-dco-v2",
        "recommendation.method": "package",
        "recommendation.package": "openvpn-dco-dkms",
        "recommendation.source": None,
        "recommendation.build": "dkms",
    },
    # The generation move on the lab's stock Debian 13 VM (tests/lab/generation_move.py), in order.
    "debian13-stock-dco": {
        "kernel.release": "6.12.118+deb13-amd64",
        "openvpn.version": "2.6.14",
        "kernel_modules.ovpn-dco-v2.loaded": True,
        "kernel_modules.ovpn-dco-v2.origin": "updates",
        "pending_reboot_kernel": None,
        "pending_reboot_kernel_modules": None,
        "recommendation.status": "ready",
        "recommendation.flavour": "ovpn-dco-v2",
    },
    "debian13-stock-kernel-pending": {
        "kernel.release": "6.12.118+deb13-amd64",
        "openvpn.version": "2.6.14",
        "pending_reboot_kernel": "7.3.4+deb13-amd64",
        "pending_reboot_kernel_modules.ovpn.origin": "in-tree",
        "pending_reboot_kernel_modules.ovpn-dco-v2.filename": None,
        "recommendation.status": "ready",
        "recommendation.flavour": "ovpn-dco-v2",
    },
    "debian13-stock-openvpn27": {
        "kernel.release": "6.12.118+deb13-amd64",
        "openvpn.version": "2.7.8",
        "kernel_modules.ovpn-dco-v2.loaded": True,
        "kernel_modules.ovpn.filename": None,
        # Without the table of sources host_info cannot know that none builds ovpn for 6.12.
        "recommendation.status": "actionable",
        "recommendation.flavour": "ovpn",
        "recommendation.method": "dkms",
    },
    "debian13-stock-openvpn27-kernel-pending": {
        "kernel.release": "6.12.118+deb13-amd64",
        "openvpn.version": "2.7.8",
        "pending_reboot_kernel": "7.3.4+deb13-amd64",
        "pending_reboot_kernel_modules.ovpn.origin": "in-tree",
        "pending_reboot_kernel_modules.ovpn-dco-v2.filename": None,
        "recommendation.status": "unsupported",
        "recommendation.flavour": "ovpn",
        "recommendation.method": None,
    },
    "debian13-stock-moved-rebooted": {
        "kernel.release": "7.3.4+deb13-amd64",
        "openvpn.version": "2.7.8",
        "kernel_modules.ovpn.loaded": False,
        "kernel_modules.ovpn.origin": "in-tree",
        "kernel_modules.ovpn-dco-v2.loaded": False,
        "recommendation.status": "actionable",
        "recommendation.flavour": "ovpn",
        "recommendation.method": "inkernel",
    },
    "debian13-bpo-fresh": {
        "kernel.release": "7.3.4+deb13-amd64",
        "openvpn.version": "2.7.8",
        "openvpn.dco_built": True,
        "kernel_modules.ovpn.origin": "in-tree",
        "kernel_modules.ovpn.kconfig": "m",
        "kernel_modules.ovpn.loaded": False,
        "kernel_modules.ovpn-dco-v2.filename": None,
        "recommendation.status": "actionable",
        "recommendation.flavour": "ovpn",
        "recommendation.method": "inkernel",
        "recommendation.build": None,
    },
}


def dig(result, dotted):
    for key in dotted.split("."):
        result = result[key]
    return result


def replay(run_module, monkeypatch, name, check_mode=False, args=None):
    probe = ReplayProbe(without_access_server(load_fixture(os.path.join(FIXTURES, name + ".json"))["probe"]))
    monkeypatch.setattr(host_info, "ModuleProbe", lambda module: probe)
    return run_module(host_info.main, args, check_mode=check_mode)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_recorded_host(run_module, monkeypatch, name):
    failed, result = replay(run_module, monkeypatch, name)
    assert not failed, result
    assert result["changed"] is False
    got = {key: dig(result, key) for key in EXPECTED[name]}
    assert got == EXPECTED[name]


def test_every_fixture_has_expectations():
    recorded = {name[:-5] for name in os.listdir(FIXTURES) if name.endswith(".json")}
    assert recorded == set(EXPECTED)


def test_build_machine_says_modules_cannot_be_loaded(run_module, monkeypatch):
    failed, result = replay(run_module, monkeypatch, "build-machine", check_mode=True)
    assert not failed
    (reason,) = result["recommendation"]["reasons"]
    assert "CONFIG_MODULES is not set" in reason
    assert "OpenVPN is not installed" in result["recommendation"]["notes"][0]


SOURCES_FILE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "kmod", "sources.yml")


@pytest.mark.parametrize("name, method, source", [
    ("debian12-fresh", "source", "ovpn-dco-v2-debian-0.0+git20241121"),
    ("debian13-stock-constructed", "source", "ovpn-dco-v2-debian-0.0+git20241121"),
    ("debian13-bpo-fresh", "inkernel", None),
])
def test_with_the_pinned_sources_it_recommends_what_the_kmod_role_builds(run_module, monkeypatch, name, method, source):
    # One decision: the same source the kmod module's decide_only picks (test_kmod_decide.py).
    with open(SOURCES_FILE) as handle:
        sources = yaml.safe_load(handle)["ovpn_dco_sources"]
    failed, result = replay(run_module, monkeypatch, name, args={"sources": sources})
    assert not failed, result
    rec = result["recommendation"]
    assert (rec["status"], rec["method"], rec["source"]) == ("actionable", method, source)
    if source:
        assert rec["why"].startswith("%s is the newest pinned ovpn-dco-v2 source tested on " % source)
        assert rec["build"] == "make"
