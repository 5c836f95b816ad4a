# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Source tarballs: a hostile member refuses the whole archive before anything is written.

Every case runs twice: with tarfile's "data" filter, and with it taken away, which is what
Debian 12's Python 3.11.2 has (the filters came in 3.11.4).
"""

from __future__ import annotations

import io
import os
import stat
import tarfile

import pytest

from ansible_collections.ovpnfleet.dco.plugins.module_utils.kmod import _runner as _kmod_runner
from ansible_collections.ovpnfleet.dco.plugins.module_utils.kmod._plan import KmodError


@pytest.fixture(params=["data filter", "no extraction filter (Python < 3.11.4)"])
def filters(request, monkeypatch):
    if request.param.startswith("no "):
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
    return request.param


def member(kind, name, data=b"", link="", mode=0o644):
    info = tarfile.TarInfo(name)
    info.mode = mode
    info.type = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "sym": tarfile.SYMTYPE,
                 "hard": tarfile.LNKTYPE, "chr": tarfile.CHRTYPE, "blk": tarfile.BLKTYPE,
                 "fifo": tarfile.FIFOTYPE}[kind]
    info.linkname = link
    info.size = len(data) if kind == "file" else 0
    return info, (io.BytesIO(data) if kind == "file" else None)


def build(path, members):
    """A gzipped tarball of ``members``, each the arguments of ``member`` (built afresh each time)."""
    with tarfile.open(path, "w:gz") as tar:
        for args in members:
            tar.addfile(*member(*args))
    return str(path)


@pytest.fixture
def site(tmp_path):
    """An empty destination two levels down, and a directory beside it to escape into."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim").write_bytes(b"original\n")
    dest = tmp_path / "scratch" / "src"
    dest.mkdir(parents=True)
    return tmp_path, dest, outside


HOSTILE = {
    # ../../outside from scratch/src/pkg: a relative link the old fallback let through.
    "relative symlink out, then a file written through it": [
        ("sym", "pkg/x", b"", "../../../outside"),
        ("file", "pkg/x/pwned", b"through the link\n")],
    "hard link to a file outside, then a file of that name": [
        ("hard", "pkg/h", b"", "../../outside/victim"),
        ("file", "pkg/h", b"overwritten\n")],
    "hard link to a file outside": [("hard", "pkg/h", b"", "../../outside/victim")],
    "hard link to an absolute path": [("hard", "pkg/h", b"", "/etc/passwd")],
    "hard link to a name not in the archive": [("hard", "pkg/h", b"", "pkg/nothing")],
    "absolute symlink": [("sym", "pkg/etc", b"", "/etc")],
    "symlink climbing out": [("sym", "pkg/up", b"", "../../x")],
    # Inside by names, outside on disk: pkg/here is the top, so pkg/here/.. is above it.
    "'..' after a symlink": [("sym", "pkg/here", b"", ".."),
                             ("sym", "esc", b"", "pkg/here/..")],
    "file through a symlink that stays inside": [("dir", "pkg/d"), ("sym", "pkg/l", b"", "d"),
                                                 ("file", "pkg/l/x", b"x")],
    "file replacing a symlink": [("sym", "pkg/s", b"", "Makefile"), ("file", "pkg/s", b"x")],
    "symlink replacing a directory": [("dir", "pkg/d"), ("sym", "pkg/d", b"", ".")],
    "absolute member name": [("file", "/tmp/ovpnfleet-kmod-test-absolute", b"x")],
    "'..' in a member name": [("file", "pkg/../../evil", b"x")],
    "character device": [("chr", "pkg/mem")],
    "block device": [("blk", "pkg/sda")],
    "FIFO": [("fifo", "pkg/pipe")],
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_member_refuses_the_archive_before_anything_is_written(site, filters, case):
    base, dest, outside = site
    # A harmless first member: a check that stops halfway would already have written it.
    archive = build(base / "src.tar.gz", [("file", "pkg/Makefile", b"all:\n")] + HOSTILE[case])
    with pytest.raises(KmodError, match=r"^unpack .*src\.tar\.gz: .*nothing was unpacked"):
        _kmod_runner._extract_tar(archive, str(dest))
    assert os.listdir(dest) == []
    assert sorted(os.listdir(outside)) == ["victim"]
    assert (outside / "victim").read_bytes() == b"original\n"
    assert not os.path.exists("/tmp/ovpnfleet-kmod-test-absolute")


def test_ordinary_source_tarball_is_unpacked(site, filters):
    base, dest, _outside = site
    archive = build(base / "src.tar.gz", [
        ("dir", "./"),
        ("dir", "./pkg/", b"", "", 0o775),
        ("file", "./pkg/Makefile", b"all:\n"),
        ("dir", "./pkg/compat/linux"),
        ("file", "./pkg/compat/linux/net.h", b"/* compat */\n"),
        ("dir", "pkg/include"),
        ("sym", "pkg/include/linux", b"", "../compat/linux"),
        ("sym", "pkg/dangling-but-inside", b"", "generated/version.h"),
        ("hard", "pkg/Kbuild", b"", "pkg/Makefile"),
        ("file", "pkg/setup.sh", b"#!/bin/sh\n", "", 0o6777),
        ("dir", "pkg/compat"),
    ])
    _kmod_runner._extract_tar(archive, str(dest))
    assert (dest / "pkg" / "include" / "linux" / "net.h").read_bytes() == b"/* compat */\n"
    assert (dest / "pkg" / "Kbuild").read_bytes() == b"all:\n"
    # No set-id bits and nothing writable by others, whatever the archive says.
    assert stat.S_IMODE((dest / "pkg" / "setup.sh").stat().st_mode) == 0o755


@pytest.mark.parametrize("content", [b"", b"not a tarball at all\n" * 10, "truncated"])
def test_broken_archive_is_an_error_not_a_traceback(site, filters, content):
    base, dest, _outside = site
    path = base / "src.tar.gz"
    if content == "truncated":
        build(path, [("file", "pkg/Makefile", os.urandom(100000))])
        path.write_bytes(path.read_bytes()[:50000])
    else:
        path.write_bytes(content)
    with pytest.raises(KmodError, match=r"^unpack .*src\.tar\.gz: .*(fetch|Fetch) it again") as error:
        _kmod_runner._extract_tar(str(path), str(dest))
    assert "None" not in str(error.value)
