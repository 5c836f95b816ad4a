# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import os

import pytest

from ansible_collections.ovpnfleet.dco.plugins.module_utils.kmod import _signing_service
from ansible_collections.ovpnfleet.dco.plugins.module_utils.kmod._signing import SigningError

PASSWORD = "typed-at-the-console"


class FakeModule:
    """AnsibleModule's surface the flow uses; mokutil answers as the lab VM's mokutil 0.6.0 did."""

    def __init__(self, tmp_path, check_mode=False, mokutil=True, enrolled=False, **params):
        self.params = {"key": str(tmp_path / "s" / "key.pem"), "cert": str(tmp_path / "s" / "cert.der"),
                       "generate": True, "common_name": "test signing", "valid_days": 30,
                       "mok": "check", "mok_password": None}
        self.params.update(params)
        self.check_mode = check_mode
        self.tmpdir = str(tmp_path)
        self.mokutil = mokutil
        self.enrolled = enrolled
        self.requested = False
        self.calls = []

    def get_bin_path(self, name, opt_dirs=None):
        return "/usr/bin/mokutil" if name == "mokutil" and self.mokutil else None

    def run_command(self, argv, data=None, binary_data=False, environ_update=None):
        self.calls.append((list(argv), data))
        if argv[1] == "--test-key":
            if self.enrolled:
                return 1, "%s is already enrolled\n" % argv[2], ""
            if self.requested:
                return 1, "%s is already in the enrollment request\n" % argv[2], ""
            return 0, "%s is not enrolled\n" % argv[2], ""
        if argv[1] == "--list-new":
            return 1, "MokNew is empty\n", ""
        if argv[1] == "--import":
            self.requested = True
            return 0, "", ""
        raise AssertionError(argv)


@pytest.fixture(autouse=True)
def no_lockdown(monkeypatch):
    monkeypatch.setattr(_signing_service, "signatures_required", lambda probe: True)


def test_generates_once_with_a_private_key_mode(tmp_path):
    module = FakeModule(tmp_path, mok="ignore")
    first = _signing_service.manage_signing(module)
    assert first["generated"] and first["changed"]
    assert os.stat(module.params["key"]).st_mode & 0o777 == 0o600
    again = _signing_service.manage_signing(FakeModule(tmp_path, mok="ignore"))
    assert not again["generated"] and not again["changed"]
    assert again["fingerprint_sha256"] == first["fingerprint_sha256"]
    assert module.calls == []  # mok=ignore never runs mokutil (the controller has none)


def test_check_mode_writes_nothing(tmp_path):
    result = _signing_service.manage_signing(FakeModule(tmp_path, check_mode=True, mok="ignore"))
    assert result["changed"] and not os.path.exists(str(tmp_path / "s"))


def test_enrol_requests_with_the_password_on_stdin_and_says_what_the_console_needs(tmp_path):
    module = FakeModule(tmp_path, mok="enroll", mok_password=PASSWORD)
    result = _signing_service.manage_signing(module)
    assert result["mok_state"] == "pending" and result["enrollment_requested"] and result["changed"]
    imports = [call for call in module.calls if call[0][1] == "--import"]
    assert imports == [(["/usr/bin/mokutil", "--import", module.params["cert"]], "%s\n%s\n" % (PASSWORD, PASSWORD))]
    assert "at the next boot, at the console" in result["console_action"]
    assert PASSWORD not in repr(result)


def test_pending_request_is_not_made_twice(tmp_path):
    module = FakeModule(tmp_path, mok="enroll", mok_password=PASSWORD)
    _signing_service.manage_signing(module)
    module.calls = []
    second = _signing_service.manage_signing(module)
    assert second["mok_state"] == "pending" and not second["changed"]
    assert not [call for call in module.calls if call[0][1] == "--import"]


def test_check_only_reads_and_tells_how_to_enrol(tmp_path):
    _signing_service.manage_signing(FakeModule(tmp_path, mok="ignore"))
    module = FakeModule(tmp_path, mok="check")
    result = _signing_service.manage_signing(module)
    assert result["mok_state"] == "not_enrolled" and not result["changed"]
    assert "mokutil --import %s" % module.params["cert"] in result["console_action"]


def test_enrolled_key_needs_nothing(tmp_path):
    _signing_service.manage_signing(FakeModule(tmp_path, mok="ignore"))
    result = _signing_service.manage_signing(FakeModule(tmp_path, mok="enroll", mok_password=PASSWORD, enrolled=True))
    assert result["mok_state"] == "enrolled" and result["console_action"] == "" and not result["changed"]


def test_enrol_without_mokutil_says_to_install_it(tmp_path):
    with pytest.raises(SigningError, match="mokutil is not installed; install the mokutil package"):
        _signing_service.manage_signing(FakeModule(tmp_path, mok="enroll", mok_password=PASSWORD, mokutil=False))


def test_half_a_pair_is_refused(tmp_path):
    _signing_service.manage_signing(FakeModule(tmp_path, mok="ignore"))
    os.unlink(str(tmp_path / "s" / "cert.der"))
    with pytest.raises(SigningError, match="cert.der is missing"):
        _signing_service.manage_signing(FakeModule(tmp_path, mok="ignore"))


def test_key_of_another_certificate_is_refused(tmp_path):
    _signing_service.manage_signing(FakeModule(tmp_path, mok="ignore"))
    other = tmp_path / "o"
    _signing_service.manage_signing(FakeModule(tmp_path, mok="ignore", key=str(other / "key.pem"), cert=str(other / "cert.der")))
    with pytest.raises(SigningError, match="does not match the certificate"):
        _signing_service.manage_signing(FakeModule(tmp_path, mok="ignore", generate=False,
                                                   key=str(other / "key.pem")))
