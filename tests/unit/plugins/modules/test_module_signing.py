# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import os

from ansible_collections.ovpnfleet.dco.plugins.modules import module_signing


def test_generates_on_a_controller_without_mokutil(run_module, tmp_path):
    args = {"key": str(tmp_path / "key.pem"), "cert": str(tmp_path / "cert.der"), "generate": True, "mok": "ignore"}
    failed, result = run_module(module_signing.main, args)
    assert not failed and result["changed"] and result["generated"]
    assert len(result["fingerprint_sha256"]) == 64 and result["mok_state"] is None
    with open(args["key"], "rb") as handle:
        assert handle.read()[:10] not in repr(result).encode()  # never the key in the result
    assert os.stat(args["key"]).st_mode & 0o777 == 0o600
    failed, again = run_module(module_signing.main, args)
    assert not failed and not again["changed"] and again["fingerprint_sha256"] == result["fingerprint_sha256"]


def test_enroll_needs_the_password(run_module, tmp_path):
    failed, result = run_module(module_signing.main, {"key": str(tmp_path / "k"), "cert": str(tmp_path / "c"),
                                                      "mok": "enroll"})
    assert failed and "mok_password" in result["msg"]


def test_missing_pair_without_generate_says_what_to_do(run_module, tmp_path):
    failed, result = run_module(module_signing.main, {"key": str(tmp_path / "k"), "cert": str(tmp_path / "c"),
                                                      "mok": "ignore"})
    assert failed and "are missing; give both files, or neither with generate=true" in result["msg"]
