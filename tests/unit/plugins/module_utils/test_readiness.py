# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The readiness decision, on facts of recorded hosts with one thing changed at a time."""

from __future__ import annotations

import copy
import os

import pytest

from ansible_collections.ovpnfleet.dco.plugins.module_utils._host_facts import gather_host_facts
from ansible_collections.ovpnfleet.dco.plugins.module_utils._readiness import recommend
from ansible_collections.ovpnfleet.dco.tests.unit.host_probes import ReplayProbe, load_fixture

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "host_info")


def facts_of(name):
    probe = ReplayProbe(load_fixture(os.path.join(FIXTURES, name + ".json"))["probe"])
    return gather_host_facts(probe)


@pytest.fixture(scope="module")
def debian12():
    return facts_of("debian12-fresh")


@pytest.fixture(scope="module")
def debian13():
    return facts_of("debian13-bpo-fresh")


def changed(facts, **paths):
    facts = copy.deepcopy(facts)
    for dotted, value in paths.items():
        target = facts
        keys = dotted.split("__")
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value
    return facts


def test_openvpn_without_dco_build(debian12):
    rec = recommend(changed(debian12, openvpn__dco_built=False))
    assert rec["status"] == "unsupported"
    assert "built without DCO support" in rec["reasons"][0]


@pytest.mark.parametrize("version, text", [
    ("2.5.11", "has no data channel offload: upgrade OpenVPN to 2.6.2 or newer"),
    ("2.6.1", "first ovpn-dco API, whose kernel module is obsolete: upgrade OpenVPN to 2.6.2"),
])
def test_openvpn_too_old(debian12, version, text):
    rec = recommend(changed(debian12, openvpn__version=version))
    assert rec["status"] == "unsupported"
    assert text in rec["reasons"][0]


def test_headers_neither_installed_nor_offered(debian12):
    rec = recommend(changed(debian12, headers__installable=False))
    assert rec["status"] == "unsupported"
    assert "linux-headers-6.1.0-56-amd64 is not in the configured repositories" in rec["reasons"][0]


def test_no_distro_package_falls_back_to_dkms_source(debian12):
    facts = changed(debian12)
    facts["packages"]["packages"]["openvpn-dco-dkms"]["candidate"] = None
    rec = recommend(facts)
    assert (rec["status"], rec["method"], rec["build"]) == ("actionable", "dkms", "dkms")


def test_pending_kernel_is_noted_for_builds(debian12):
    rec = recommend(changed(debian12, pending_reboot_kernel="6.12.95+bpo-amd64"))
    assert any("6.12.95+bpo-amd64 is installed and waits for a reboot" in note for note in rec["notes"])


@pytest.mark.parametrize("change", [
    {"secure_boot__enabled": True},
    {"lockdown": "integrity"},
    {"module_signatures_enforced": True},
])
def test_signed_modules_required_is_noted(debian12, change):
    rec = recommend(changed(debian12, **change))
    assert rec["status"] == "actionable"
    assert any("only loads signed modules" in note for note in rec["notes"])


def test_in_tree_module_needs_no_signing_note(debian13):
    rec = recommend(changed(debian13, secure_boot__enabled=True))
    assert rec["method"] == "inkernel"
    assert not any("signed" in note for note in rec["notes"])


def test_wrong_flavour_loaded_is_noted_and_does_not_count(debian13):
    facts = changed(debian13)
    facts["kernel_modules"]["ovpn-dco-v2"]["loaded"] = True
    rec = recommend(facts)
    assert rec["status"] == "actionable"
    assert "ovpn_dco_v2 is loaded but OpenVPN 2.7.8 talks only to ovpn" in rec["notes"][0]


def test_loaded_in_tree_module_is_ready(debian13):
    facts = changed(debian13)
    facts["kernel_modules"]["ovpn"]["loaded"] = True
    rec = recommend(facts)
    assert (rec["status"], rec["method"], rec["steps"]) == ("ready", "inkernel", [])


def test_container_gets_the_container_fix(debian12):
    facts = changed(debian12, container="podman", kernel__modules_loadable=False,
                    kernel__modules_not_loadable_reason="the host is a podman container")
    rec = recommend(facts)
    assert rec["status"] == "unsupported"
    assert "load ovpn_dco_v2 on the container's host" in rec["reasons"][0]
