# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The kmod decision: which steps a host needs, from its state. Pure, so tables suffice."""

from __future__ import annotations

import pytest

from ansible_collections.ovpnfleet.dco.plugins.module_utils._generations import OVPN, OVPN_DCO_V2
from ansible_collections.ovpnfleet.dco.plugins.module_utils.kmod._plan import (
    BLOCK_PATH,
    PERSIST_PATH,
    KmodError,
    block_content,
    check_signing,
    persist_content,
    plan_kmod,
    decide,
    target_kernels,
    vermagic_release,
)

K1 = "6.1.0-50-amd64"
K2 = "6.1.0-56-amd64"
SHA = "8e84e1a7091a55b970019bfa3f5398965a2d18f45091b5ba9263a54b71ccd0a6"
DKMS_KO = "/lib/modules/%s/updates/dkms/ovpn-dco-v2.ko"
# What the kmod module wrote for ovpn-dco-v2 before it stopped blacklisting the newer ovpn.
LEGACY_V2_BLOCK = "# Managed by ovpnfleet.dco: this host's OpenVPN talks to ovpn_dco_v2 only.\nblacklist ovpn\n"


def request(**overrides):
    base = {"state": "present", "flavour": "ovpn-dco-v2", "method": "dkms", "src": "/x.deb",
            "src_sha256": SHA, "src_version": "0.0+git20231103", "artifact": None,
            "artifact_sha256": None, "package": "openvpn-dco-dkms", "kernels": None, "load": True,
            "persist": True, "block_other_flavour": True}
    base.update(overrides)
    return base


def state(flavour=OVPN_DCO_V2, kernels=(K1,), files=None, dkms=(), loaded=False,
          loaded_srcversion=None, record=None, persisted=True):
    files = files or {}
    return {
        "loaded": loaded, "loaded_srcversion": loaded_srcversion, "refcnt": 0,
        "kernels": {k: {"filename": files.get(k, (None, None))[0], "srcversion": files.get(k, (None, None))[1],
                        "sha256": "sha-of-" + str(files.get(k, (None, None))[1]),
                        "vermagic": None, "signer": None, "build_dir_exists": True} for k in kernels},
        "dkms": list(dkms), "dkms_available": True, "record": record or {},
        "persist": persist_content(flavour) if persisted else None,
        "block": block_content(flavour) if persisted else None,
    }


def installed(kernel, version="0.0+git20231103"):
    return {"name": "ovpn-dco", "version": version, "kernel": kernel, "arch": "x86_64",
            "state": "installed", "detail": "installed"}


def actions(steps):
    return [step["action"] for step in steps]


def test_fresh_dkms_host_registers_builds_loads_and_persists():
    steps = plan_kmod(request(), OVPN_DCO_V2, "dkms", [K1], state(persisted=False), K1)
    assert actions(steps) == ["dkms_register", "dkms_install", "modprobe", "write_file"]
    assert [s["path"] for s in steps if s["action"] == "write_file"] == [PERSIST_PATH]


def test_fresh_ovpn_host_blacklists_the_older_flavour():
    steps = plan_kmod(request(flavour="ovpn", method="inkernel"), OVPN, "inkernel", [K1],
                      dict(state(OVPN, files={K1: ("/lib/modules/%s/kernel/drivers/net/ovpn/ovpn.ko.xz" % K1, "X")}),
                           persist=None, block=None), K1)
    assert [(s["action"], s.get("path")) for s in steps] == [
        ("modprobe", None), ("write_file", PERSIST_PATH), ("write_file", BLOCK_PATH)]


def test_converged_dkms_host_plans_nothing():
    st = state(files={K1: (DKMS_KO % K1, "ABC")}, dkms=[installed(K1)], loaded=True,
               loaded_srcversion="ABC")
    assert plan_kmod(request(), OVPN_DCO_V2, "dkms", [K1], st, K1) == []


def test_other_dkms_version_is_rebuilt():
    st = state(files={K1: (DKMS_KO % K1, "ABC")}, dkms=[installed(K1, "0.0+git20230324")],
               loaded=True, loaded_srcversion="ABC")
    assert actions(plan_kmod(request(), OVPN_DCO_V2, "dkms", [K1], st, K1)) == [
        "dkms_register", "dkms_install", "reload"]


def test_pending_kernel_gets_a_build_but_no_load():
    st = state(kernels=(K1, K2), files={K1: (DKMS_KO % K1, "ABC")}, dkms=[installed(K1)],
               loaded=True, loaded_srcversion="ABC")
    steps = plan_kmod(request(), OVPN_DCO_V2, "dkms", [K1, K2], st, K1)
    assert actions(steps) == ["dkms_register", "dkms_install"]
    assert steps[1]["kernel"] == K2


def test_loaded_module_differs_from_installed_file_is_reloaded():
    st = state(files={K1: (DKMS_KO % K1, "NEW")}, dkms=[installed(K1)], loaded=True,
               loaded_srcversion="OLD")
    assert actions(plan_kmod(request(), OVPN_DCO_V2, "dkms", [K1], st, K1)) == ["reload"]


def test_load_false_never_touches_the_loaded_module():
    st = state(files={K1: (DKMS_KO % K1, "NEW")}, dkms=[installed(K1)], loaded=True,
               loaded_srcversion="OLD")
    assert plan_kmod(request(load=False), OVPN_DCO_V2, "dkms", [K1], st, K1) == []


def test_package_method_installs_headers_for_each_missing_kernel():
    st = state(kernels=(K1, K2), persisted=True)
    steps = plan_kmod(request(method="package", src=None), OVPN_DCO_V2, "package", [K1, K2], st, K1)
    assert steps[0]["packages"] == ["dkms", "linux-headers-%s" % K1, "linux-headers-%s" % K2,
                                    "openvpn-dco-dkms"]
    assert actions(steps) == ["install_packages", "dkms_install", "dkms_install", "modprobe"]


def test_inkernel_present_and_loaded_is_converged():
    ko = "/lib/modules/7.3.4+deb13-amd64/kernel/drivers/net/ovpn/ovpn.ko.xz"
    st = state(flavour=OVPN, kernels=("7.3.4+deb13-amd64",), files={"7.3.4+deb13-amd64": (ko, None)},
               loaded=True)
    assert plan_kmod(request(flavour="ovpn", method="inkernel"), OVPN, "inkernel",
                     ["7.3.4+deb13-amd64"], st, "7.3.4+deb13-amd64") == []


def test_inkernel_missing_is_a_clear_error():
    with pytest.raises(KmodError, match="does not ship it"):
        plan_kmod(request(flavour="ovpn", method="inkernel"), OVPN, "inkernel", [K1],
                  state(flavour=OVPN), K1)


def test_source_install_is_recognised_from_the_record():
    path = "/lib/modules/%s/updates/ovpnfleet-dco/ovpn-dco-v2.ko" % K1
    record = {"kernels": {K1: {"path": path, "origin_sha256": SHA, "sha256": "sha-of-S1"}}}
    st = state(files={K1: (path, "S1")}, loaded=True, loaded_srcversion="S1", record=record)
    assert plan_kmod(request(method="source"), OVPN_DCO_V2, "source", [K1], st, K1) == []
    other = request(method="source", src_sha256="0" * 64)
    assert actions(plan_kmod(other, OVPN_DCO_V2, "source", [K1], st, K1)) == ["make_install", "reload"]


def test_source_file_changed_behind_our_back_is_rebuilt():
    path = "/lib/modules/%s/updates/ovpnfleet-dco/ovpn-dco-v2.ko" % K1
    record = {"kernels": {K1: {"path": path, "origin_sha256": SHA, "sha256": "sha-of-OLD"}}}
    st = state(files={K1: (path, "S1")}, loaded=True, loaded_srcversion="S1", record=record)
    assert actions(plan_kmod(request(method="source"), OVPN_DCO_V2, "source", [K1], st, K1)) == [
        "make_install", "reload"]


@pytest.mark.parametrize("installed_sha, expected", [("sha-of-S1", []), ("other", ["artifact_install", "reload"])])
def test_artifact_is_judged_by_the_bytes_installed(installed_sha, expected):
    path = "/lib/modules/%s/updates/ovpnfleet-dco/ovpn-dco-v2.ko" % K1
    st = state(files={K1: (path, "S1")}, loaded=True, loaded_srcversion="S1")
    req = request(method="artifact", src=None, artifact="/var/lib/x.ko", artifact_sha256=installed_sha)
    assert actions(plan_kmod(req, OVPN_DCO_V2, "artifact", [K1], st, K1)) == expected


def test_absent_unloads_and_removes_what_we_installed():
    path = "/lib/modules/%s/updates/ovpnfleet-dco/ovpn-dco-v2.ko" % K1
    st = dict(state(loaded=True, record={"kernels": {K1: {"path": path}}}, dkms=[installed(K1)]),
              block=LEGACY_V2_BLOCK)
    assert actions(plan_kmod(request(state="absent"), OVPN_DCO_V2, "dkms", [K1], st, K1)) == [
        "unload", "remove_ko", "dkms_remove", "remove_file", "remove_file"]


def test_absent_removes_the_roles_staged_copies():
    staged = "/var/lib/ovpnfleet-dco/artifacts/%s/ovpn-dco-v2.ko" % K1
    steps = plan_kmod(request(state="absent"), OVPN_DCO_V2, "dkms", [K1],
                      dict(state(persisted=False), staged=[staged]), K1)
    assert [(s["action"], s["path"]) for s in steps] == [("remove_file", staged)]


def test_absent_leaves_the_files_of_the_other_flavour():
    # After a move to the in-tree ovpn the shared files persist ovpn: removing ovpn-dco-v2 keeps them.
    st = dict(state(persisted=False), persist=persist_content(OVPN), block=block_content(OVPN))
    assert plan_kmod(request(state="absent"), OVPN_DCO_V2, "dkms", [K1], st, K1) == []


def test_absent_on_a_clean_host_plans_nothing():
    assert plan_kmod(request(state="absent"), OVPN_DCO_V2, "dkms", [K1],
                     state(persisted=False), K1) == []


def test_block_file_blacklists_only_an_older_flavour():
    assert block_content(OVPN) == ("# Managed by ovpnfleet.dco: this host's OpenVPN talks to ovpn only.\n"
                                   "blacklist ovpn_dco_v2\n")
    # OpenVPN 2.7 loads ovpn by its alias when it starts: a blacklist kept it in userspace after
    # the reboot into Debian's backports kernel (lab, tests/lab/generation_move.py).
    assert block_content(OVPN_DCO_V2) is None


def test_ovpn_dco_v2_host_drops_the_blacklist_of_ovpn_an_earlier_run_wrote():
    st = dict(state(files={K1: (DKMS_KO % K1, "ABC")}, dkms=[installed(K1)], loaded=True,
                    loaded_srcversion="ABC"), block=LEGACY_V2_BLOCK)
    steps = plan_kmod(request(), OVPN_DCO_V2, "dkms", [K1], st, K1)
    assert [(s["action"], s.get("path")) for s in steps] == [("remove_file", BLOCK_PATH)]
    # Only a file of ours: an operator's own file there is left alone.
    st["block"] = "blacklist ovpn\n"
    assert plan_kmod(request(), OVPN_DCO_V2, "dkms", [K1], st, K1) == []


def resolve(req, rec, kernels=(K1,), packages=None):
    decision = decide(req, rec, list(kernels), packages)
    return decision["flavour"], decision["method"]


@pytest.mark.parametrize("req, rec, expected", [
    (request(flavour="auto", method="auto", src=None), {"flavour": "ovpn", "method": "inkernel", "reasons": []},
     ("ovpn", "inkernel")),
    (request(flavour="auto", method="auto"), {"flavour": "ovpn-dco-v2", "method": "package", "reasons": []},
     ("ovpn-dco-v2", "dkms")),
    (request(flavour="ovpn-dco-v2", method="auto", src=None, artifact="/tmp/x.ko"),
     {"flavour": None, "method": None, "reasons": ["x"]}, ("ovpn-dco-v2", "artifact")),
])
def test_resolve_auto(req, rec, expected):
    flavour, method = resolve(req, rec)
    assert (flavour.name, method) == expected


def test_resolve_auto_without_a_way_says_why():
    rec = {"flavour": None, "method": None,
           "reasons": ["OpenVPN 2.5.1 has no data channel offload: upgrade OpenVPN to 2.6.2 or newer."]}
    with pytest.raises(KmodError, match="upgrade OpenVPN to 2.6.2"):
        resolve(request(flavour="auto", method="auto", src=None), rec)


def test_removing_the_other_flavour_needs_no_method():
    # A host moved to the in-tree ovpn: host_info recommends ovpn, and ovpn-dco-v2 goes away.
    rec = {"flavour": "ovpn", "method": "inkernel", "reasons": []}
    flavour, method = resolve(request(state="absent", method="auto", src=None), rec)
    assert (flavour.name, method) == ("ovpn-dco-v2", None)
    # Without the table of pinned sources or a package, nothing says what to build.
    with pytest.raises(KmodError, match="choose a source for ovpn-dco-v2: apt offers no openvpn-dco-dkms"):
        resolve(request(method="auto", src=None), rec)


def test_target_kernels_adds_the_pending_one():
    facts = {"kernel": {"release": K1}, "pending_reboot_kernel": K2}
    assert target_kernels(request(), facts) == [K1, K2]
    assert target_kernels(request(kernels=[K2]), facts) == [K2]


def test_vermagic_release():
    assert vermagic_release("6.1.0-50-amd64 SMP preempt mod_unload modversions ") == K1
    assert vermagic_release(None) is None


@pytest.mark.parametrize("offered, text", [
    ({K1: "6.1.192-2"}, "linux-headers-%s is offered as 6.1.192-2" % K1),
    ({}, "linux-headers-%s is not in the configured repositories" % K1),
])
def test_build_without_headers_names_the_kernel_and_the_offer(offered, text):
    st = state(persisted=False)
    st["kernels"][K1]["build_dir_exists"] = False
    with pytest.raises(KmodError, match="build ovpn-dco-v2 for %s: no kernel headers" % K1) as error:
        plan_kmod(request(method="source"), OVPN_DCO_V2, "source", [K1], st, K1, offered)
    assert text in str(error.value)


def test_moving_from_a_source_build_to_the_package_removes_our_file_first():
    path = "/lib/modules/%s/updates/ovpnfleet-dco/ovpn-dco-v2.ko" % K1
    record = {"kernels": {K1: {"path": path, "origin_sha256": SHA, "sha256": "sha-of-S1"}}}
    st = state(files={K1: (path, "S1")}, loaded=True, loaded_srcversion="S1", record=record)
    steps = plan_kmod(request(method="package", src=None), OVPN_DCO_V2, "package", [K1], st, K1)
    # Removed before the package: its postinst would otherwise find our file and install nothing.
    assert actions(steps) == ["remove_ko", "install_packages", "dkms_install", "reload"]
    assert steps[0]["path"] == path


def facts_with(secure_boot=False, lockdown="none", enforced=False):
    return {"secure_boot": {"enabled": secure_boot}, "lockdown": lockdown,
            "module_signatures_enforced": enforced}


@pytest.mark.parametrize("facts, why", [
    (facts_with(secure_boot=True), "Secure Boot is on"),
    (facts_with(lockdown="integrity"), "kernel lockdown is integrity"),
    (facts_with(enforced=True), "module.sig_enforce is set"),
])
@pytest.mark.parametrize("method", ["source", "artifact"])
def test_unsigned_build_refused_where_signatures_are_required(facts, why, method):
    with pytest.raises(KmodError, match="only loads signed modules \\(%s\\)" % why):
        check_signing(facts, method, request(method=method))


@pytest.mark.parametrize("facts, method, req", [
    (facts_with(secure_boot=True), "source", request(method="source", signing_key="/k", signing_cert="/c")),
    (facts_with(secure_boot=True), "dkms", request()),
    (facts_with(secure_boot=True), "inkernel", request(method="inkernel")),
    (facts_with(), "source", request(method="source")),
])
def test_signing_not_in_the_way(facts, method, req):
    assert check_signing(facts, method, req) is None


def test_signed_artifact_from_the_builder_is_not_refused(tmp_path):
    """The kmod role installs members from the builder's signed module without the key: a
    module that carries a signature is the MOK list's question, not an unsigned install."""
    signed = tmp_path / "ovpn-dco-v2.ko"
    signed.write_bytes(b"\x7fELF...module...signature...~Module signature appended~\n")
    req = request(method="artifact", artifact=str(signed))
    assert check_signing(facts_with(secure_boot=True, lockdown="integrity"), "artifact", req) is None


def test_unsigned_artifact_file_is_still_refused(tmp_path):
    unsigned = tmp_path / "ovpn-dco-v2.ko"
    unsigned.write_bytes(b"\x7fELF...module without a signature")
    with pytest.raises(KmodError, match="install an unsigned ovpn-dco-v2"):
        check_signing(facts_with(secure_boot=True), "artifact", request(method="artifact", artifact=str(unsigned)))
