# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The readiness decision, on facts of recorded hosts with one thing changed at a time."""

from __future__ import annotations

import copy
import os

import pytest

from ansible_collections.ovpnfleet.dco.plugins.module_utils._generations import OVPN_DCO_V2
from ansible_collections.ovpnfleet.dco.plugins.module_utils.host._facts import gather_host_facts
from ansible_collections.ovpnfleet.dco.plugins.module_utils.kmod._readiness import (
    choose_source,
    kernel_series,
    recommend,
)
from ansible_collections.ovpnfleet.dco.tests.unit.host_probes import ReplayProbe, load_fixture

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "fixtures", "host_info")


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


# choose_source: the one rule for which pinned source or package a build uses.

TABLE = {
    "old": {"flavour": "ovpn-dco-v2", "version": "0.0+git20231103", "tested_kernels": ["6.1"]},
    "new": {"flavour": "ovpn-dco-v2", "version": "0.0+git20241121", "tested_kernels": ["6.1", "6.12"]},
    "other": {"flavour": "ovpn", "version": "9.9", "tested_kernels": ["6.12", "7.3"]},
}
OFFERED = {"packages": {"openvpn-dco-dkms": {"installed": None, "candidate": "0.0+git20241121-1+deb13u1"}}}


@pytest.mark.parametrize("release, series", [
    ("6.1.0-56-amd64", "6.1"), ("6.12.118+deb13-amd64", "6.12"), ("7.3.4+deb13-amd64", "7.3"), ("weird", None),
])
def test_kernel_series(release, series):
    assert kernel_series(release) == series


@pytest.mark.parametrize("kernels, packages, expected", [
    (["6.1.0-56-amd64"], OFFERED, ("source", "new", None)),
    (["6.12.118+deb13-amd64"], None, ("source", "new", None)),
    # The group needs a source tested on every kernel: the pending 7.3 one has none.
    (["6.12.118+deb13-amd64", "7.3.4+deb13-amd64"], OFFERED, ("package", None, "openvpn-dco-dkms")),
    (["7.3.4+deb13-amd64"], None, ("source", "new", None)),
])
def test_choose_source_rule(kernels, packages, expected):
    choice = choose_source(OVPN_DCO_V2, kernels, TABLE, packages)
    assert (choice["method"], choice["source"], choice["package"]) == expected
    assert choice["why"]


def test_without_a_table_the_package_comes_first_and_nothing_is_warned(debian12):
    rec = recommend(debian12)
    assert (rec["method"], rec["package"], rec["source"]) == ("package", "openvpn-dco-dkms", None)
    assert rec["why"].startswith("no table of pinned sources was given, and apt offers openvpn-dco-dkms")


def test_with_the_table_a_tested_source_comes_before_the_package(debian12):
    rec = recommend(debian12, TABLE)
    assert (rec["status"], rec["method"], rec["source"], rec["build"]) == ("actionable", "source", "new", "make")
    assert rec["steps"][1] == "compile the pinned source new once per build group"


def test_explicit_dkms_method_takes_the_tested_source_not_the_package():
    choice = choose_source(OVPN_DCO_V2, ["6.12.1"], TABLE, OFFERED, method="dkms")
    assert (choice["method"], choice["source"]) == ("dkms", "new")
