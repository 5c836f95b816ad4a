# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The config module on real files: check mode, backup, idempotence, refusals, redacted diffs."""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat

import pytest
from ansible.module_utils import basic

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
    assert [(edit["option"], edit["rule"]) for edit in result["edits"]] == [("disable-dco", None)]
    failed, result = run(run_module, path, backup=False)
    assert not failed and result["dco_compatible"] is True
    assert [(edit["option"], edit["rule"]) for edit in result["edits"]] == [("disable-dco", "dco-disabled")]


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


SERVER = "port 1194\ndev tun\nserver 10.8.0.0 255.255.255.0\ncomp-lzo\nca ca.crt\ncert s.crt\nkey s.key\ndh none\n"


@pytest.mark.parametrize("check_mode", [False, True])
def test_symlinked_config_is_edited_through_the_link(run_module, tmp_path, check_mode):
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "lab.conf"
    target.write_text(SERVER)
    link = tmp_path / "lab.conf"
    os.symlink(os.path.join("real", "lab.conf"), link)
    failed, result = run(run_module, link, check_mode=check_mode)
    assert not failed and result["changed"], result
    assert os.path.islink(link) and os.readlink(link) == os.path.join("real", "lab.conf")
    assert sorted(os.listdir(tmp_path)) == ["lab.conf", "real"]
    if check_mode:
        assert target.read_text() == SERVER and os.listdir(tmp_path / "real") == ["lab.conf"]
    else:
        assert "compress migrate" in target.read_text()
        with open(result["backup_file"], "rb") as handle:
            assert handle.read() == SERVER.encode()
        assert os.path.dirname(result["backup_file"]) == str(tmp_path / "real")


@pytest.mark.parametrize("check_mode", [False, True])
def test_hard_linked_config_is_refused_with_the_reason(run_module, tmp_path, check_mode):
    path, other = tmp_path / "lab.conf", tmp_path / "copy.conf"
    path.write_text(SERVER)
    os.link(path, other)
    failed, result = run(run_module, path, check_mode=check_mode)
    assert failed and "has 2 hard links" in result["msg"] and "make it a file of its own" in result["msg"]
    assert path.read_text() == SERVER and sorted(os.listdir(tmp_path)) == ["copy.conf", "lab.conf"]


def test_crlf_config_stays_crlf_and_edit_lines_match_the_file(run_module, tmp_path):
    path = tmp_path / "lab.conf"
    path.write_bytes(SERVER.replace("\n", "\r\n").encode())
    failed, result = run(run_module, path, backup=False)
    assert not failed and result["changed"], result
    data = path.read_bytes()
    assert data.replace(b"\r\n", b"").count(b"\n") == 0
    lines = data.decode().split("\r\n")
    assert [(edit["option"], lines[edit["line"] - 1]) for edit in result["edits"]] == [
        ("comp-lzo", "compress migrate"), ("topology", "topology subnet")]


def test_failed_write_leaves_no_backup(run_module, tmp_path, monkeypatch):
    path = copy(tmp_path)
    before = path.read_bytes()

    def no_space(self, src, dest, unsafe_writes=False):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(basic.AnsibleModule, "atomic_move", no_space)
    failed, result = run(run_module, path)
    assert failed and result["msg"] == "write %s: No space left on device" % path
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["lab.conf"]


def test_refusal_names_places_only_where_there_are_places(run_module, tmp_path):
    path = tmp_path / "bad.conf"
    path.write_text("client\nremote 192.0.2.1 1194\nca ca.crt\ncert c.crt\nkey c.key\nno-such-option 1\n")
    failed, result = run(run_module, path)
    assert failed and "None" not in result["msg"], result["msg"]
    assert "%s:6: " % path in result["msg"] and "You must define TUN/TAP device (--dev)" in result["msg"]
    assert result["msg"].endswith("then run again")


@pytest.mark.parametrize("block", ["<key>\nSECRETKEYLINE\n</key>\n", "<key >\nSECRETKEYLINE\n</key>\n",
                                   "<KEY>\nSECRETKEYLINE\n</KEY>\n", "<key>\nSECRETKEYLINE\n"])
def test_refusal_never_shows_key_material(run_module, tmp_path, block):
    path = tmp_path / "bad.conf"
    path.write_text("client\nremote 192.0.2.1 1194\nca ca.crt\ncert c.crt\n" + block)
    failed, result = run(run_module, path)
    assert failed and "SECRETKEYLINE" not in json.dumps(result)


@pytest.mark.parametrize("make, message", [
    (lambda p: p.mkdir(), "is a directory, not a regular file"),
    (os.mkfifo, "is a named pipe, not a regular file"),
    (lambda p: p.write_bytes(b"# padding\n" * 110000), "is larger than 1048576 bytes"),
])
def test_what_is_not_a_config_is_refused_without_reading_it_all(run_module, tmp_path, make, message):
    path = tmp_path / "lab.conf"
    make(path)
    signal.signal(signal.SIGALRM, _timeout)
    signal.alarm(5)
    try:
        failed, result = run(run_module, path)
    finally:
        signal.alarm(0)
    assert failed and result["msg"].startswith("read %s: " % path) and message in result["msg"]


def _timeout(signum, frame):
    raise AssertionError("config opened a FIFO and waited")


def test_bytes_that_are_not_utf8_survive_an_edit(run_module, tmp_path):
    path = tmp_path / "lab.conf"
    path.write_bytes(SERVER.encode() + b"setenv GREETING gr\xfc\xdf\n")
    failed, result = run(run_module, path, backup=False)
    assert not failed and result["changed"], result
    json.dumps(result)
    assert path.read_bytes().endswith(b"setenv GREETING gr\xfc\xdf\n")
    assert "gr\\xfc\\xdf" in result["diff"]["after"]


def test_edits_and_blockers_left_name_their_rule(run_module, tmp_path):
    path = tmp_path / "laptop.conf"
    path.write_text("client\ndev tun\nremote 192.0.2.1\nca ca.crt\ncert c.crt\nkey c.key\ncomp-lzo\nfragment 1300\n")
    failed, result = run(run_module, path, check_mode=True)
    assert not failed, result
    assert [(edit["option"], edit["rule"]) for edit in result["edits"]] == [("comp-lzo", "dco-compression")]
    assert [(item["option"], item["line"], item["rule"]) for item in result["not_edited"]] == [("fragment", 8, "dco-fragment")]
    assert [blocker["rule"] for blocker in result["blockers"]] == ["dco-fragment"]
