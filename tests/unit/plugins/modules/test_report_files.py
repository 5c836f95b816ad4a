# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""report_files: every file written in one call, check mode writes nothing, bad names refused."""

from __future__ import annotations

import os
import stat

import pytest

from ansible_collections.ovpnfleet.dco.plugins.modules import report_files

FILES = {"fleet.md": "# fleet\n", "fleet.json": "{}\n", "junit.xml": "<testsuites/>\n"}


def test_every_file_is_written_with_its_mode_and_the_directory_made(run_module, tmp_path):
    target = tmp_path / "reports" / "dco"
    failed, result = run_module(report_files.main, {"path": str(target), "files": FILES})
    assert not failed
    assert sorted(os.listdir(target)) == sorted(FILES)
    for name, content in FILES.items():
        assert (target / name).read_text() == content
        assert stat.S_IMODE(os.stat(target / name).st_mode) == 0o644
    assert result["changed"] is True
    assert [entry["path"] for entry in result["files"]] == [str(target / name) for name in sorted(FILES)]
    # Nothing of the content comes back.
    assert "# fleet" not in repr(result)


def test_the_same_files_again_change_nothing_and_a_new_content_changes_one(run_module, tmp_path):
    run_module(report_files.main, {"path": str(tmp_path), "files": FILES})
    _failed, again = run_module(report_files.main, {"path": str(tmp_path), "files": FILES})
    assert again["changed"] is False
    _failed, edited = run_module(report_files.main, {"path": str(tmp_path), "files": dict(FILES, **{"fleet.md": "# new\n"})})
    assert [entry["path"] for entry in edited["files"] if entry["changed"]] == [str(tmp_path / "fleet.md")]
    assert (tmp_path / "fleet.md").read_text() == "# new\n"


def test_check_mode_writes_nothing_and_creates_no_directory(run_module, tmp_path):
    target = tmp_path / "missing"
    failed, result = run_module(report_files.main, {"path": str(target), "files": FILES}, check_mode=True)
    assert not failed and result["changed"] is True
    assert not target.exists()
    (tmp_path / "fleet.md").write_text("# old\n")
    _failed, result = run_module(report_files.main, {"path": str(tmp_path), "files": FILES}, check_mode=True)
    assert (tmp_path / "fleet.md").read_text() == "# old\n"
    assert all(entry["changed"] for entry in result["files"])


@pytest.mark.parametrize("name", ["../escape", "a/b", ".", "..", ""])
def test_a_name_that_is_not_a_plain_file_name_is_refused_before_any_write(run_module, tmp_path, name):
    failed, result = run_module(report_files.main, {"path": str(tmp_path / "out"), "files": dict(FILES, **{name: "x"})})
    assert failed
    assert "is not a plain file name" in result["msg"]
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "escape").exists()


def test_a_path_that_is_a_file_is_refused_with_what_to_do(run_module, tmp_path):
    (tmp_path / "report").write_text("not a directory")
    failed, result = run_module(report_files.main, {"path": str(tmp_path / "report"), "files": FILES})
    assert failed and "is not a directory; choose another path" in result["msg"]


@pytest.mark.parametrize("mode, expected", [("0600", 0o600), (0o640, 0o640)])
def test_mode_is_taken_as_ansible_takes_it(run_module, tmp_path, mode, expected):
    run_module(report_files.main, {"path": str(tmp_path), "files": FILES, "mode": mode})
    assert stat.S_IMODE(os.stat(tmp_path / "fleet.json").st_mode) == expected


def test_a_mode_that_is_not_octal_is_refused(run_module, tmp_path):
    failed, result = run_module(report_files.main, {"path": str(tmp_path), "files": FILES, "mode": "rw-r--r--"})
    assert failed and "is not an octal number" in result["msg"]
