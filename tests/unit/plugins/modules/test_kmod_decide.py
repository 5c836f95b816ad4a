# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""kmod decide_only, the call the kmod role's preflight makes, on recorded hosts.

Which pinned source or package each host's build group gets, why, and what the plan warns of,
with the collection's own kmod/sources.yml. The Debian 13 stock host is a constructed fixture
(see its note); the other variants change one recorded answer each, named in the test.
"""

from __future__ import annotations

import copy
import json
import os

import pytest
import yaml

from ansible_collections.ovpnfleet.dco.plugins.module_utils.kmod import _service as _kmod_service
from ansible_collections.ovpnfleet.dco.plugins.modules import kmod
from ansible_collections.ovpnfleet.dco.tests.unit.host_probes import ReplayProbe, load_fixture, without_access_server

HERE = os.path.dirname(__file__)
FIXTURES = os.path.join(HERE, "..", "..", "fixtures", "host_info")
with open(os.path.join(HERE, "..", "..", "..", "..", "kmod", "sources.yml")) as handle:
    SOURCES = yaml.safe_load(handle)["ovpn_dco_sources"]
NEW = "ovpn-dco-v2-debian-0.0+git20241121"
OLD = "ovpn-dco-v2-debian-0.0+git20231103"


def probe_of(name):
    return load_fixture(os.path.join(FIXTURES, name + ".json"))["probe"]


def with_openvpn_26(probe):
    """The trixie-backports host (kernel 7.3) with trixie's OpenVPN 2.6.14 instead of 2.7.8."""
    probe = copy.deepcopy(probe)
    probe["run"]["openvpn --version"] = probe_of("debian13-stock-constructed")["run"]["openvpn --version"]
    return probe


def renamed_kernel(probe, old, new):
    return json.loads(json.dumps(probe).replace(old, new))


def without_package(probe, package="openvpn-dco-dkms"):
    probe = copy.deepcopy(probe)
    for key, (rc, out, err) in probe["run"].items():
        if key.startswith("apt-cache policy "):
            kept, skipping = [], False
            for line in out.splitlines(True):
                if not line.startswith(" "):
                    skipping = line.startswith(package + ":")
                if not skipping:
                    kept.append(line)
            probe["run"][key] = [rc, "".join(kept), err]
    return probe


def unknown_kernel_620():
    """Debian 13 stock, booted into a 6.20 kernel no pinned source lists, and no package offered."""
    return without_package(renamed_kernel(probe_of("debian13-stock-constructed"),
                                          "6.12.118+deb13-amd64", "6.20.1+deb13-amd64"))


def decide(run_module, monkeypatch, probe, **args):
    replay = ReplayProbe(without_access_server(probe))
    monkeypatch.setattr(_kmod_service, "ModuleProbe", lambda module: replay)
    return run_module(kmod.main, dict({"decide_only": True, "sources": SOURCES}, **args), check_mode=True)


def test_debian12_builds_the_newest_source_tested_on_61(run_module, monkeypatch):
    failed, result = decide(run_module, monkeypatch, probe_of("debian12-fresh"))
    assert not failed, result
    decision = result["decision"]
    assert (decision["flavour"], decision["method"], decision["source"]) == ("ovpn-dco-v2", "source", NEW)
    assert decision["why"] == ("%s is the newest pinned ovpn-dco-v2 source tested on 6.1 (tested on 6.1, 6.12)" % NEW)
    assert decision["warnings"] == []
    assert decision["build_key"] == NEW + "_6.1.0-56-amd64_x86_64"
    assert decision["summary"] == "ovpn-dco-v2 by method source from 0.0+git20241121"


def test_debian13_stock_gets_a_source_tested_on_612_not_the_61_one(run_module, monkeypatch):
    # Issue 18: the role built 0.0+git20231103 (tested on 6.1 only) for 6.12 and the compile
    # failed with 'NETIF_F_LLTX' undeclared.
    failed, result = decide(run_module, monkeypatch, probe_of("debian13-stock-constructed"))
    assert not failed, result
    decision = result["decision"]
    assert (decision["method"], decision["source"], decision["version"]) == ("source", NEW, "0.0+git20241121")
    assert decision["kernels"] == ["6.12.118+deb13-amd64"]
    assert "tested on 6.12" in decision["why"]
    assert decision["warnings"] == []


def test_backports_kernel_with_openvpn_26_falls_back_to_the_package_and_warns(run_module, monkeypatch):
    failed, result = decide(run_module, monkeypatch, with_openvpn_26(probe_of("debian13-bpo-fresh")))
    assert not failed, result
    decision = result["decision"]
    assert (decision["flavour"], decision["method"], decision["package"]) == ("ovpn-dco-v2", "package", "openvpn-dco-dkms")
    assert decision["source"] is None and decision["build_key"] is None
    assert decision["why"] == ("no pinned ovpn-dco-v2 source is tested on 7.3, and apt offers openvpn-dco-dkms "
                               "0.0+git20241121-1+deb13u1, which DKMS builds on each host")
    # The package carries the tree of a pinned source whose tests stop at 6.12.
    assert decision["warnings"] == [
        "kernel 7.3.4+deb13-amd64: openvpn-dco-dkms 0.0+git20241121-1+deb13u1 carries ovpn-dco-v2 "
        "0.0+git20241121, which is tested on 6.1, 6.12 only; its DKMS build may fail."]
    assert decision["summary"] == "ovpn-dco-v2 by method package (openvpn-dco-dkms)"


def test_unknown_kernel_without_package_is_a_plan_time_warning(run_module, monkeypatch):
    failed, result = decide(run_module, monkeypatch, unknown_kernel_620())
    assert not failed, result
    decision = result["decision"]
    assert (decision["method"], decision["source"]) == ("source", NEW)
    assert decision["why"].startswith("no pinned ovpn-dco-v2 source is tested on 6.20 and apt offers no "
                                      "openvpn-dco-dkms: trying the newest, %s" % NEW)
    (warning,) = decision["warnings"]
    assert warning.startswith("kernel 6.20.1+deb13-amd64: no pinned ovpn-dco-v2 source is known to build for "
                              "6.20 and apt offers no openvpn-dco-dkms, so %s may fail to compile" % NEW)


def test_in_tree_ovpn_needs_no_source(run_module, monkeypatch):
    failed, result = decide(run_module, monkeypatch, probe_of("debian13-bpo-fresh"))
    assert not failed, result
    decision = result["decision"]
    assert (decision["flavour"], decision["method"], decision["source"]) == ("ovpn", "inkernel", None)
    assert decision["why"] == "kernel 7.3.4+deb13-amd64 ships ovpn"
    assert decision["module_file"] == "ovpn.ko"


def test_operator_source_is_honoured_and_warned_about_where_untested(run_module, monkeypatch):
    failed, result = decide(run_module, monkeypatch, probe_of("debian13-stock-constructed"), source=OLD)
    assert not failed, result
    decision = result["decision"]
    assert (decision["method"], decision["source"]) == ("source", OLD)
    assert decision["why"] == "kmod_source %s was set by the operator" % OLD
    assert decision["warnings"] == [
        "kernel 6.12.118+deb13-amd64: kmod_source %s is not known to build for 6.12 (tested on 6.1); "
        "the build may fail." % OLD]


def test_operator_src_version_is_warned_about_where_untested(run_module, monkeypatch):
    entry = SOURCES[OLD]
    failed, result = decide(run_module, monkeypatch, probe_of("debian13-stock-constructed"),
                            method="dkms", src=entry["url"], src_sha256=entry["sha256"], src_version=entry["version"])
    assert not failed, result
    assert result["decision"]["method"] == "dkms"
    assert result["decision"]["warnings"] == [
        "kernel 6.12.118+deb13-amd64: src_version 0.0+git20231103 is not known to build for 6.12 (tested on "
        "6.1); the build may fail."]


@pytest.mark.parametrize("source, message", [
    ("ovpn-dco-v2-nowhere", "kmod_source ovpn-dco-v2-nowhere is not in kmod/sources.yml"),
])
def test_unknown_operator_source_fails_the_plan(run_module, monkeypatch, source, message):
    failed, result = decide(run_module, monkeypatch, probe_of("debian12-fresh"), source=source)
    assert failed
    assert result["msg"].startswith("choose a method for ovpn-dco-v2: " + message)


def test_operator_source_of_the_other_flavour_fails_the_plan(run_module, monkeypatch):
    sources = dict(SOURCES, backports={"flavour": "ovpn", "version": "1", "url": "https://example.invalid/x.tar.gz",
                                       "sha256": "0" * 64, "format": "tar", "tested_kernels": ["6.1"]})
    failed, result = decide(run_module, monkeypatch, probe_of("debian12-fresh"), sources=sources, source="backports")
    assert failed
    assert "kmod_source backports builds ovpn, and this host needs ovpn-dco-v2" in result["msg"]


def test_openvpn_27_on_612_without_any_way_fails_the_plan_with_what_to_do(run_module, monkeypatch):
    probe = probe_of("debian13-stock-constructed")
    probe["run"]["openvpn --version"] = probe_of("debian13-bpo-fresh")["run"]["openvpn --version"]
    failed, result = decide(run_module, monkeypatch, probe)
    assert failed
    assert result["msg"] == ("choose a method for ovpn: kmod/sources.yml pins no ovpn source and apt offers no "
                             "ovpn-dkms: pin one, or boot a kernel >= 6.16, which ships ovpn.")


def test_build_groups_split_when_kernels_pick_different_sources(run_module, monkeypatch):
    # A newer source tested on 6.1 only: Debian 12 takes it, Debian 13 (6.12) keeps the older one.
    sources = dict(SOURCES, **{"ovpn-dco-v2-new-61": dict(SOURCES[OLD], version="0.0+git20250101",
                                                          tested_kernels=["6.1"])})
    keys = {}
    for name in ("debian12-fresh", "debian13-stock-constructed"):
        failed, result = decide(run_module, monkeypatch, probe_of(name), sources=sources)
        assert not failed, result
        keys[name] = (result["decision"]["source"], result["decision"]["build_key"])
    assert keys["debian12-fresh"] == ("ovpn-dco-v2-new-61", "ovpn-dco-v2-new-61_6.1.0-56-amd64_x86_64")
    assert keys["debian13-stock-constructed"] == (NEW, NEW + "_6.12.118+deb13-amd64_x86_64")


def test_same_kernel_but_a_pending_one_is_another_group(run_module, monkeypatch):
    # A 6.12 kernel waiting for a reboot on the Debian 12 host: the group needs a source tested on both.
    sources = dict(SOURCES, **{"ovpn-dco-v2-new-61": dict(SOURCES[OLD], version="0.0+git20250101",
                                                          tested_kernels=["6.1"])})
    probe = copy.deepcopy(probe_of("debian12-fresh"))
    probe["listdir"]["/boot"].append("vmlinuz-6.12.95+bpo-amd64")
    probe["listdir"]["/lib/modules"].append("6.12.95+bpo-amd64")
    for name in ("ovpn-dco-v2", "ovpn"):
        probe["run"]["modinfo -k 6.12.95+bpo-amd64 %s" % name] = [
            1, "", "modinfo: ERROR: Module %s not found.\n" % name]
    failed, result = decide(run_module, monkeypatch, probe, sources=sources)
    assert not failed, result
    assert result["decision"]["kernels"] == ["6.1.0-56-amd64", "6.12.95+bpo-amd64"]
    assert result["decision"]["source"] == NEW


@pytest.mark.parametrize("where, value, param", [
    ("release", "../../../../etc", "kernel release"),
    ("release", "6.1.0-56-amd64 $(reboot)", "kernel release"),
    ("arch", "x86_64/../../../home", "architecture"),
    ("arch", ".hidden", "architecture"),
])
def test_hostile_release_or_arch_fails_the_plan_before_any_path_is_made(run_module, monkeypatch, where, value, param):
    probe = probe_of("debian12-fresh")
    if where == "release":
        probe = renamed_kernel(probe, "6.1.0-56-amd64", value)
    else:
        probe["run"]["uname -m"] = [0, value + "\n", ""]
    failed, result = decide(run_module, monkeypatch, probe)
    assert failed
    assert result["msg"].startswith("check %s: " % param)
    assert "cannot be part of a path" in result["msg"]


def test_host_that_cannot_run_dco_is_reported_not_failed(run_module, monkeypatch):
    failed, result = decide(run_module, monkeypatch, probe_of("build-machine"))
    assert not failed, result
    decision = result["decision"]
    assert decision["skip"] is True and decision["method"] is None and decision["build_key"] is None
    assert any("CONFIG_MODULES is not set" in reason for reason in decision["reasons"])


def test_unsigned_build_on_a_kernel_that_only_loads_signed_modules_is_left_alone_before_any_build(run_module, monkeypatch):
    # Recorded on the lab VM booted with module.sig_enforce=1, where the build went ahead and
    # the install was refused only at the switch: 'Key was rejected by service' is what loading
    # the unsigned module would have given (seen there with insmod).
    failed, result = decide(run_module, monkeypatch, probe_of("debian12-sig-enforced"))
    assert not failed, result
    decision = result["decision"]
    assert decision["skip"] is True and decision["build_key"] is None
    assert decision["why"].startswith("install an unsigned ovpn-dco-v2: the kernel only loads signed modules "
                                      "(module.sig_enforce is set); pass signing_key and signing_cert")
    assert decision["reasons"] == [decision["why"]]


def test_a_signing_key_lets_the_build_go_ahead_on_such_a_kernel(run_module, monkeypatch):
    failed, result = decide(run_module, monkeypatch, probe_of("debian12-sig-enforced"),
                            signing_key="/etc/ovpnfleet/mok.key", signing_cert="/etc/ovpnfleet/mok.der")
    assert not failed, result
    decision = result["decision"]
    assert decision["skip"] is False and decision["method"] == "source" and decision["build_key"]
