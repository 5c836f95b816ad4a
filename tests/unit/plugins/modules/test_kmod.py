# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""kmod in check mode, replayed against hosts recorded in tests/unit/fixtures/host_info/."""

from __future__ import annotations

import hashlib
import os

import pytest
import yaml

from ansible_collections.ovpnfleet.dco.plugins.module_utils._generations import OVPN_DCO_V2
from ansible_collections.ovpnfleet.dco.plugins.module_utils.kmod import _plan as _kmod
from ansible_collections.ovpnfleet.dco.plugins.module_utils.kmod import _service as _kmod_service
from ansible_collections.ovpnfleet.dco.plugins.modules import kmod
from ansible_collections.ovpnfleet.dco.tests.unit.plugins.modules.test_host_info_access_server import with_access_server
from ansible_collections.ovpnfleet.dco.tests.unit.host_probes import ReplayProbe, load_fixture, without_access_server

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "host_info")
SHA = "8e84e1a7091a55b970019bfa3f5398965a2d18f45091b5ba9263a54b71ccd0a6"


def replay(run_module, monkeypatch, name, args):
    record = without_access_server(load_fixture(os.path.join(FIXTURES, name + ".json"))["probe"])
    # Recorded before state absent asked for the role's staged modules: none were staged there.
    record.setdefault("listdir", {}).setdefault("/var/lib/ovpnfleet-dco/artifacts", None)
    probe = ReplayProbe(record)
    monkeypatch.setattr(_kmod_service, "ModuleProbe", lambda module: probe)
    return run_module(kmod.main, args, check_mode=True)


def test_kernel_without_module_support_is_refused_with_the_reason(run_module, monkeypatch):
    failed, result = replay(run_module, monkeypatch, "build-machine", {})
    assert failed
    assert result["msg"].startswith("install a DCO kernel module: ")
    assert "CONFIG_MODULES is not set" in result["msg"]


@pytest.mark.parametrize("args, message", [
    ({"method": "dkms"}, "method is dkms but any of the following are missing: src, sources"),
    ({"method": "artifact"}, "method is artifact but all of the following are missing: artifact"),
    ({"src": "/tmp/x.tar.gz"}, "parameters are required together: src, src_sha256"),
    ({"signing_key": "/k"}, "parameters are required together: signing_key, signing_cert"),
    ({"flavour": "ovpn-dco-v3"}, "value of flavour must be one of"),
])
def test_bad_arguments_are_refused_before_anything_is_read(run_module, args, message):
    failed, result = run_module(kmod.main, args, check_mode=True)
    assert failed
    assert message in result["msg"]


def test_src_without_version_is_refused():
    request = dict({key: None for key in kmod.ARGUMENT_SPEC},
                   flavour="ovpn-dco-v2", method="dkms", src="/x.deb", src_sha256=SHA)
    with pytest.raises(_kmod_service.KmodError, match="set src_version"):
        _kmod_service._complete_request(request, OVPN_DCO_V2, "dkms", {"package": None})


def _artifact_request(path):
    return dict({key: None for key in kmod.ARGUMENT_SPEC}, flavour="ovpn-dco-v2", method="artifact", artifact=path)


def test_missing_artifact_is_refused_when_it_would_be_installed(tmp_path):
    with pytest.raises(_kmod_service.KmodError, match="no such file on the host"):
        _kmod_service._complete_request(_artifact_request(str(tmp_path / "none.ko")), OVPN_DCO_V2, "artifact", {})


def test_missing_artifact_in_check_mode_plans_its_install(tmp_path):
    # The role copies the artifact in check mode too, so the file is not there yet.
    request = _artifact_request(str(tmp_path / "none.ko"))
    _kmod_service._complete_request(request, OVPN_DCO_V2, "artifact", {}, check_mode=True)
    assert request["artifact_sha256"] is None
    state = {"kernels": {"6.1.0-56-amd64": {"filename": "/lib/modules/6.1.0-56-amd64/updates/ovpnfleet-dco/ovpn-dco-v2.ko",
                                            "sha256": "ab" * 32}}}
    assert not _kmod.kernel_is_satisfied("artifact", OVPN_DCO_V2, "6.1.0-56-amd64", state, request)


def test_present_artifact_is_hashed(tmp_path):
    path = tmp_path / "ovpn-dco-v2.ko"
    path.write_bytes(b"module bytes")
    request = _artifact_request(str(path))
    _kmod_service._complete_request(request, OVPN_DCO_V2, "artifact", {}, check_mode=True)
    assert request["artifact_sha256"] == hashlib.sha256(b"module bytes").hexdigest()


@pytest.mark.parametrize("args, param", [
    ({"src_version": "0.0+git20231103/../../../home"}, "src_version"),
    ({"src_version": "-v"}, "src_version"),
    ({"src_version": "1.0", "kernels": ["6.1.0-56-amd64", "../../../etc"]}, "kernels"),
    ({"src_version": "1.0", "src_subdir": "../../etc"}, "src_subdir"),
])
def test_value_that_would_become_a_path_elsewhere_fails_before_anything_is_read(run_module, monkeypatch, args, param):
    base = {"flavour": "ovpn-dco-v2", "method": "dkms", "src": "/var/tmp/x.deb", "src_sha256": SHA}
    failed, result = replay(run_module, monkeypatch, "debian12-fresh", dict(base, **args))
    assert failed
    assert result["msg"].startswith("check %s: " % param)
    assert "use only letters, digits and . _ + ~ -" in result["msg"]


def test_unreadable_artifact_is_an_error_not_a_traceback(tmp_path):
    # A directory passes os.path.exists, and reading it fails.
    with pytest.raises(_kmod_service.KmodError, match=r"^read %s: Is a directory" % tmp_path):
        _kmod_service._complete_request(_artifact_request(str(tmp_path)), OVPN_DCO_V2, "artifact", {})


RETURNED = set(yaml.safe_load(kmod.RETURN)) | {"changed", "diff"}


@pytest.mark.parametrize("fixture", ["debian12-fresh", "debian13-bpo-fresh"])
@pytest.mark.parametrize("args", [
    {}, {"state": "absent"}, {"flavour": "ovpn-dco-v2", "method": "package"},
    {"flavour": "ovpn-dco-v2", "method": "artifact", "artifact": "/var/lib/ovpnfleet-dco/none.ko"},
])
def test_results_hold_only_documented_keys(run_module, monkeypatch, fixture, args):
    # Ansible reads skipped, failed, msg, warnings, results... itself: none may slip in.
    failed, result = replay(run_module, monkeypatch, fixture, dict(args, _ansible_diff=True))
    if failed:
        assert set(result) <= {"msg", "cmd", "rc", "stdout", "stderr"}
        assert isinstance(result["msg"], str) and "None" not in result["msg"]
    else:
        assert set(result) <= RETURNED
        assert isinstance(result["changed"], bool)
        assert set(result["diff"]) == {"before", "after"}


def test_auto_on_an_access_server_host_follows_access_servers_openvpn(run_module, monkeypatch):
    # The host's own OpenVPN is 2.7.8 (ovpn); Access Server 2.14 speaks only to ovpn-dco-v2, and
    # its daemons are the tunnels: "auto" must pick AS's module, as host_info recommends.
    # Constructed AS answers (tests/unit/fixtures/access_server/README.md says why).
    record = with_access_server("debian13-bpo-fresh", "2.14.3-d2b0d4b4-Debian12", "configquery-dco-false.json",
                                "vpnsummary-dco-not-loaded.json", "ip-link-tun.json")
    probe = ReplayProbe(record)
    monkeypatch.setattr(_kmod_service, "ModuleProbe", lambda module: probe)
    failed, result = run_module(kmod.main, {"decide_only": True}, check_mode=True)
    assert not failed, result
    assert result["flavour"] == "ovpn-dco-v2", result
