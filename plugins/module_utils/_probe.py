# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one seam through which read-only fact gathering touches a host.

Fact gathering asks a probe to run commands and read files; it never calls subprocess or
open() itself. Modules pass a ``ModuleProbe``; unit tests replay probes recorded on real
hosts (``tests/unit/fixtures/host_info/``), so a test sees exactly what a real host answered.
"""

from __future__ import annotations

import errno
import gzip
import io
import os
import stat
from collections import namedtuple

CommandResult = namedtuple("CommandResult", ["rc", "stdout", "stderr"])

# rc a probe reports when the program is not installed, as a shell would.
RC_NOT_FOUND = 127

# Where system tools live on hosts whose PATH for the Ansible user lacks the sbin dirs.
SYSTEM_BIN_DIRS = ["/usr/local/sbin", "/usr/sbin", "/sbin"]

# The most any read takes: far above a config, a kernel module or a status file of thousands of
# clients, far below what hurts a host.
MAX_READ_BYTES = 32 * 1024 * 1024
# One read() asks for at most this much: Linux refuses a /proc/sys read whose count reaches
# KMALLOC_MAX_SIZE (4 MiB on x86_64) with ENOMEM, so one read of MAX_READ_BYTES + 1 made
# /proc/sys/kernel/osrelease and modules_disabled unreadable (fs/proc/proc_sysctl.c).
READ_CHUNK_BYTES = 256 * 1024


class FileProbe:
    """File access shared by every probe: plain reads, never writes.

    Only regular files are read, opened without blocking and up to ``MAX_READ_BYTES``: a FIFO
    named in a config or on a command line would hang the module, and /dev/zero would fill its
    memory. Files under /proc and /sys are regular files to stat(), so they read as before.
    """

    def read(self, path):
        """Text of a file (gzip transparently for ``*.gz``), or None when it cannot be read."""
        data = self.read_bytes(path)
        if data is None:
            return None
        if path.endswith(".gz"):
            try:
                with gzip.GzipFile(fileobj=io.BytesIO(data)) as handle:
                    data = handle.read(MAX_READ_BYTES + 1)
            except (OSError, EOFError):
                return None
            if len(data) > MAX_READ_BYTES:
                return None
        return data.decode("utf-8", "replace")

    def read_bytes(self, path):
        """Bytes of a regular file, or None when it cannot be read or is larger than the cap."""
        data, error = _read_regular(path, MAX_READ_BYTES, tail=False)
        return None if error else data

    def read_tail(self, path, limit):
        """``[text, None]`` of the last ``limit`` bytes of a regular file, or ``[None, why]``.

        ``why`` says why nothing was read ("it does not exist", "permission denied", "not a
        regular file"), so a caller can tell an unreadable log from one that said nothing.
        """
        data, error = _read_regular(path, limit, tail=True)
        if error:
            return [None, error]
        text = data.decode("utf-8", "replace")
        return [text, None]

    def read_link(self, path):
        try:
            return os.readlink(path)
        except OSError:
            return None

    def file_id(self, path):
        """``"device:inode"`` of what ``path`` leads to, or None: tells whether two processes
        share their root directory (``/proc/PID/root``) without reading anything inside it."""
        try:
            found = os.stat(path)
        except OSError:
            return None
        return "%d:%d" % (found.st_dev, found.st_ino)

    def exists(self, path):
        return os.path.exists(path)

    def uname(self):
        """The kernel's uname(2) answer (``release``, ``machine``...): what ``uname -r`` and
        ``uname -m`` print, without running them."""
        return os.uname()

    def listdir(self, path):
        try:
            return sorted(os.listdir(path))
        except OSError:
            return None


def _read_regular(path, limit, tail):
    """(bytes, None) of a regular file - its last ``limit`` bytes when ``tail``, else all of it
    unless it is larger than ``limit`` - or (None, why)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as error:
        return None, _why(error)
    try:
        found = os.fstat(fd)
        if not stat.S_ISREG(found.st_mode):
            os.close(fd)
            return None, "not a regular file"
        with os.fdopen(fd, "rb") as handle:
            started_inside = tail and found.st_size > limit
            if started_inside:
                handle.seek(found.st_size - limit)
            # /proc and /sys files stat as size 0 or 4096: the size is no bound, the read is.
            data = _read_at_most(handle, limit + 1)
    except OSError as error:
        return None, _why(error)
    if len(data) > limit:
        if not tail:
            return None, "larger than %d bytes" % limit
        data, started_inside = data[-limit:], True
    if started_inside:
        # The first line is cut: keep whole lines only.
        data = data[data.find(b"\n") + 1:]
    return data, None


def _read_at_most(handle, count):
    chunks, left = [], count
    while left > 0:
        chunk = handle.read(min(left, READ_CHUNK_BYTES))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _why(error):
    if error.errno == errno.ENOENT:
        return "it does not exist"
    if error.errno in (errno.EACCES, errno.EPERM):
        return "permission denied (is the play run with become?)"
    return error.strerror or "cannot be read"


class ModuleProbe(FileProbe):
    """Runs commands through AnsibleModule.run_command, in the C locale so output parses."""

    def __init__(self, module):
        self._module = module

    def run(self, argv):
        binary = self._module.get_bin_path(argv[0], opt_dirs=SYSTEM_BIN_DIRS)
        if binary is None:
            return CommandResult(RC_NOT_FOUND, "", "%s: command not found" % argv[0])
        rc, stdout, stderr = self._module.run_command(
            [binary] + list(argv[1:]),
            environ_update={"LC_ALL": "C", "LANG": "C"},
        )
        return CommandResult(rc, stdout, stderr)
