# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The config module on real files: check mode, backup, idempotence, refusals, redacted diffs."""

from __future__ import annotations

import os
import shutil
import stat

from ansible_collections.ovpnfleet.dco.plugins.modules import config

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "config_fix")


def copy(tmp_path, name="brownfield-server.conf"):
    target = tmp_path / "lab.conf"
    shutil.copy(os.path.join(FIXTURES, name), target)
    os.chmod(target, 0o640)
    return target


def run(run_module, path, check_mode=False, **args):
    return run_module(config.main, dict({"path": str(path), "openvpn_version": "2.6.14"}, **args), check_mode=check_mode)


def test_check_mode_reports_and_writes_nothing(run_module, tmp_path):
    path = copy(tmp_path)
    before = path.read_bytes()
    failed, result = run(run_module, path, check_mode=True)
    assert not failed, result
    assert result["changed"] and result["dco_compatible"] and result["dco_compatible_before"] is False
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["lab.conf"]


def test_apply_keeps_mode_backs_up_and_is_idempotent(run_module, tmp_path):
    path = copy(tmp_path)
    before = path.read_bytes()
    failed, result = run(run_module, path)
    assert not failed and result["changed"]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    with open(result["backup_file"], "rb") as handle:
        assert handle.read() == before
    assert "compress migrate" in result["diff"]["after"]
    failed, again = run(run_module, path)
    assert not failed and again["changed"] is False and again["edits"] == []


def test_disable_then_enable(run_module, tmp_path):
    path = copy(tmp_path, "brownfield-client.conf")
    run(run_module, path)
    failed, result = run(run_module, path, dco="disabled", backup=False)
    assert not failed and result["changed"] and result["dco_compatible"] is False
    assert result["blockers"][0]["option"] == "disable-dco"
    failed, result = run(run_module, path, backup=False)
    assert not failed and result["dco_compatible"] is True


def test_refused_config_fails_and_writes_nothing(run_module, tmp_path):
    path = tmp_path / "bad.conf"
    path.write_text("client\ndev tun\nremote 192.0.2.1\ncomp-lzo\nno-such-option 1\n")
    failed, result = run(run_module, path)
    assert failed and "would refuse this config, nothing was written" in result["msg"]
    assert path.read_text().endswith("no-such-option 1\n") and os.listdir(tmp_path) == ["bad.conf"]


def test_unreadable_file_fails_with_the_path(run_module, tmp_path):
    failed, result = run(run_module, tmp_path / "missing.conf")
    assert failed and "read %s" % (tmp_path / "missing.conf") in result["msg"]


def test_diff_never_shows_inline_keys(run_module, tmp_path):
    path = tmp_path / "c.conf"
    path.write_text("client\ndev tun\nremote 192.0.2.1 1194\ncomp-lzo\n<ca>\nPUBLIC\n</ca>\n<key>\nTOPSECRET\n</key>\n<cert>\nC\n</cert>\n")
    failed, result = run(run_module, path, backup=False)
    assert not failed and result["changed"], result
    assert "TOPSECRET" not in result["diff"]["before"] + result["diff"]["after"]
    assert "TOPSECRET" in path.read_text()
