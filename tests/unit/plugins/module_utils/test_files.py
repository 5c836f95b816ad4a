# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import os
import stat

import pytest
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from ansible_collections.ovpnfleet.dco.plugins.module_utils._files import remove_file, write_file


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
