# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import os
import signal
import stat

import pytest
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from ansible_collections.ovpnfleet.dco.plugins.module_utils._files import FileWriteError, remove_file, write_file


def make_module(check_mode=False):
    args = {"_ansible_check_mode": check_mode}
    with patch_module_args(args):
        return basic.AnsibleModule(argument_spec={}, supports_check_mode=True)


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_new_secret_is_0600_and_reported(tmp_path):
    path = tmp_path / "sub" / "key.pem"
    result = write_file(make_module(), str(path), "secret\n", mode=0o600)
    assert result["changed"] is True
    assert path.read_text() == "secret\n"
    assert mode_of(path) == 0o600
    assert result["diff"]["before"] == "" and result["diff"]["after"] == "secret\n"


def test_same_content_and_mode_is_unchanged(tmp_path):
    path = tmp_path / "f.conf"
    path.write_text("a\n")
    os.chmod(path, 0o644)
    assert write_file(make_module(), str(path), "a\n")["changed"] is False


def test_mode_change_alone_is_a_change(tmp_path):
    path = tmp_path / "f.conf"
    path.write_text("a\n")
    os.chmod(path, 0o644)
    assert write_file(make_module(), str(path), "a\n", mode=0o600)["changed"] is True
    assert mode_of(path) == 0o600


def test_check_mode_touches_nothing(tmp_path):
    path = tmp_path / "f.conf"
    path.write_text("old\n")
    result = write_file(make_module(check_mode=True), str(path), "new\n")
    assert result["changed"] is True
    assert path.read_text() == "old\n"
    assert result["diff"]["after"] == "new\n"
    assert not (tmp_path / "new").exists()
    assert sorted(os.listdir(tmp_path)) == ["f.conf"]


def test_backup_keeps_the_old_content(tmp_path):
    path = tmp_path / "f.conf"
    path.write_text("old\n")
    result = write_file(make_module(), str(path), "new\n", backup=True)
    assert open(result["backup_file"]).read() == "old\n"
    assert path.read_text() == "new\n"


@pytest.mark.parametrize("exists", [True, False])
def test_remove_file(tmp_path, exists):
    path = tmp_path / "f.conf"
    if exists:
        path.write_text("x\n")
    assert remove_file(make_module(), str(path))["changed"] is exists
    assert not path.exists()


def test_symlink_is_kept_and_its_target_written(tmp_path):
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "f.conf"
    target.write_text("old\n")
    os.chmod(target, 0o640)
    link = tmp_path / "f.conf"
    os.symlink(os.path.join("real", "f.conf"), link)
    result = write_file(make_module(), str(link), "new\n", mode=0o640, backup=True)
    assert result["changed"] is True
    assert os.path.islink(link) and os.readlink(link) == os.path.join("real", "f.conf")
    assert target.read_text() == "new\n" and mode_of(target) == 0o640
    # The backup and the temp file belong next to the file that was written.
    assert os.path.dirname(result["backup_file"]) == str(tmp_path / "real")
    assert open(result["backup_file"]).read() == "old\n"
    assert sorted(os.listdir(tmp_path)) == ["f.conf", "real"]


@pytest.mark.parametrize("make, message", [
    (lambda p: os.symlink("missing.conf", p), "is a symlink to"),
    (lambda p: os.symlink(p.name, p), "a symlink loop"),
    (lambda p: p.mkdir(), "is a directory, not a file"),
    (os.mkfifo, "is a named pipe, not a file"),
])
@pytest.mark.parametrize("check_mode", [False, True])
def test_what_is_not_a_file_is_refused_before_anything_is_read(tmp_path, make, message, check_mode):
    path = tmp_path / "f.conf"
    make(path)
    # A FIFO must be refused, not opened: opening it would wait for a writer forever.
    signal.signal(signal.SIGALRM, _timeout)
    signal.alarm(5)
    try:
        with pytest.raises(FileWriteError, match=message):
            write_file(make_module(check_mode), str(path), "new\n", backup=True)
    finally:
        signal.alarm(0)
    assert sorted(os.listdir(tmp_path)) == ["f.conf"]


def _timeout(signum, frame):
    raise AssertionError("the write opened a FIFO and waited")


@pytest.mark.parametrize("check_mode", [False, True])
def test_hard_linked_file_is_refused_with_the_reason(tmp_path, check_mode):
    path, other = tmp_path / "f.conf", tmp_path / "other.conf"
    path.write_text("old\n")
    os.link(path, other)
    with pytest.raises(FileWriteError, match="has 2 hard links.*make it a file of its own"):
        write_file(make_module(check_mode), str(path), "new\n", backup=True)
    assert other.read_text() == "old\n" and os.stat(path).st_ino == os.stat(other).st_ino
    assert sorted(os.listdir(tmp_path)) == ["f.conf", "other.conf"]
    # Nothing to write, nothing refused.
    assert write_file(make_module(check_mode), str(path), "old\n")["changed"] is False


def _fail_with_oserror(src, dest, unsafe_writes=False):
    raise OSError(28, "No space left on device")


def _fail_like_ansible(src, dest, unsafe_writes=False):
    # AnsibleModule.atomic_move calls fail_json, which exits.
    raise SystemExit(1)


@pytest.mark.parametrize("atomic_move, raised", [(_fail_with_oserror, FileWriteError), (_fail_like_ansible, SystemExit)])
def test_failed_write_leaves_the_file_and_no_backup(tmp_path, atomic_move, raised):
    path = tmp_path / "f.conf"
    path.write_text("old\n")
    os.chmod(path, 0o640)
    module = make_module()
    module.atomic_move = atomic_move
    with pytest.raises(raised):
        write_file(module, str(path), "new\n", mode=0o600, backup=True)
    assert path.read_text() == "old\n" and mode_of(path) == 0o640
    assert sorted(os.listdir(tmp_path)) == ["f.conf"]


def test_remove_takes_the_link_not_its_target_and_refuses_a_directory(tmp_path):
    target, link = tmp_path / "t.conf", tmp_path / "l.conf"
    target.write_text("x\n")
    os.symlink("t.conf", link)
    assert remove_file(make_module(), str(link))["changed"] is True
    assert not os.path.lexists(link) and target.read_text() == "x\n"
    (tmp_path / "d").mkdir()
    with pytest.raises(FileWriteError, match="is a directory"):
        remove_file(make_module(), str(tmp_path / "d"))
