# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one way the collection writes a file on a host.

Content goes to a temporary file in the target's own directory and replaces the target with
``AnsibleModule.atomic_move``, so a reader never sees half a file and a failure leaves the old
one. A write reports a diff of the real file, honours check mode (nothing touches the disk),
and can keep a backup, made only for a write that then succeeds.

A symlink is kept: the file it points to is written, next to itself. A file with more than one
hard link is refused, because replacing it would leave the other names with the old content.
Directories, FIFOs and devices are refused before anything reads them.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile

from ansible_collections.ovpnfleet.dco.plugins.module_utils._errors import DcoError


class FileWriteError(DcoError):
    pass


class FileReadError(DcoError):
    """A file could not be read; ``cause`` is the reason without the path, ``kind`` says which
    refusal it was (``missing``/``unreadable``, ``not_regular``, ``too_large``), so a caller can
    word it for its own kind of file."""

    def __init__(self, message, cause, kind):
        super().__init__(message)
        self.cause = cause
        self.kind = kind


def read_bytes_or_none(path):
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def read_regular_file(path, max_bytes):
    """The bytes of the regular file at ``path`` (a symlink is followed), at most ``max_bytes``.

    Raises ``FileReadError`` for a missing or unreadable file, anything that is not a regular
    file (a FIFO would block the read forever, /dev/zero never ends) and a larger file.
    """
    # O_NONBLOCK: opening a FIFO without a writer returns at once; the type then comes from the
    # open descriptor, so the file cannot be swapped between a check and the read.
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except (OSError, ValueError) as error:  # ValueError: a NUL in the path
        raise _unreadable(path, error)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            cause = "it is %s, not a regular file" % _kind(info.st_mode)
            raise FileReadError("read %s: %s; give the path of the file itself" % (path, cause), cause, "not_regular")
        chunks, size = [], 0
        while size <= max_bytes:
            chunk = os.read(fd, max_bytes + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as error:
        raise _unreadable(path, error)
    finally:
        os.close(fd)
    if size > max_bytes:
        cause = "it is larger than %d bytes" % max_bytes
        raise FileReadError("read %s: %s, more than a file of this kind holds; check the path" % (path, cause),
                            cause, "too_large")
    return b"".join(chunks)


def _unreadable(path, error):
    cause = getattr(error, "strerror", None) or str(error)
    return FileReadError("read %s: %s" % (path, cause), cause,
                         "missing" if isinstance(error, FileNotFoundError) else "unreadable")


def _kind(mode):
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a named pipe"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device")):
        if test(mode):
            return name
    return "not a regular file"


def _where_to_write(path):
    """The file a write to ``path`` must replace (a symlink's target), and its stat or None."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            raise FileWriteError("write %s: it is a symlink to %s, which does not exist; create that file or "
                                 "remove the link, then run again" % (path, os.path.realpath(path)))
        return path, None
    except OSError as error:
        cause = "a symlink loop" if error.errno == errno.ELOOP else error.strerror or str(error)
        raise FileWriteError("write %s: %s; fix the path, then run again" % (path, cause))
    target = os.path.realpath(path)
    if not stat.S_ISREG(info.st_mode):
        raise FileWriteError("write %s: %s is %s, not a file; remove it or choose another path" % (path, target, _kind(info.st_mode)))
    return target, info


def write_file(module, path, content, mode=0o644, backup=False):
    """Make ``path`` hold ``content`` (str or bytes) with ``mode``.

    Returns ``{"changed", "diff", "backup_file"}``; in check mode it only says what would change.
    Raises ``FileWriteError`` for what it refuses to replace and for a write that failed; then the
    file is as it was and no backup is left.
    """
    data = content.encode("utf-8") if isinstance(content, str) else content
    target, info = _where_to_write(path)
    try:
        before = read_bytes_or_none(target) if info is not None else None
    except OSError as error:
        raise FileWriteError("read %s: %s" % (target, error.strerror or error))
    current_mode = stat.S_IMODE(info.st_mode) if info is not None else None
    changed = before != data or current_mode != mode
    diff = {
        "before_header": path,
        "after_header": path,
        "before": _printable(before),
        "after": _printable(data),
    }
    result = {"changed": changed, "diff": diff, "backup_file": None}
    if changed and info is not None and info.st_nlink > 1:
        raise FileWriteError("write %s: %s has %d hard links, and replacing it would leave the other names with the "
                             "old content; make it a file of its own (or a symlink), then run again" % (path, target, info.st_nlink))
    if not changed or module.check_mode:
        return result
    try:
        result["backup_file"] = _replace(module, target, data, mode, before is not None and backup, current_mode)
    except OSError as error:
        raise FileWriteError("write %s: %s" % (path, error.strerror or error))
    return result


def _replace(module, target, data, mode, backup, current_mode):
    """Put ``data`` in ``target``; the backup's path, or None. On failure nothing is left behind."""
    directory = os.path.dirname(target) or "."
    os.makedirs(directory, mode=0o755, exist_ok=True)
    handle, temp_path = tempfile.mkstemp(dir=directory, prefix=".ovpnfleet-")
    backup_file, done = None, False
    try:
        with os.fdopen(handle, "wb") as temp:
            temp.write(data)
        os.chmod(temp_path, mode)
        if current_mode is None:
            # atomic_move gives a new file 0666 & ~umask for a moment; a key must never be
            # readable, so a new file is the prepared temp file, renamed in its directory.
            os.rename(temp_path, target)
        else:
            if backup:
                backup_file = module.backup_local(target)
            # atomic_move copies the old file's mode onto the new content: set it first.
            os.chmod(target, mode)
            module.atomic_move(temp_path, target, unsafe_writes=False)
        done = True
    finally:
        # Also on SystemExit: atomic_move fails the module itself when it cannot replace the file.
        if os.path.exists(temp_path):
            os.unlink(temp_path)
        if not done:
            if current_mode is not None and os.path.exists(target):
                os.chmod(target, current_mode)
            if backup_file and os.path.exists(backup_file):
                os.unlink(backup_file)
    return backup_file


def remove_file(module, path):
    """Remove ``path`` (a symlink: the link) if it exists; returns ``{"changed", "diff"}``, honouring check mode."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        info = None
    except OSError as error:
        raise FileWriteError("remove %s: %s" % (path, error.strerror or error))
    if info is not None and not (stat.S_ISREG(info.st_mode) or stat.S_ISLNK(info.st_mode)):
        raise FileWriteError("remove %s: it is %s, not a file; remove it by hand if it should go" % (path, _kind(info.st_mode)))
    try:
        before = read_bytes_or_none(path) if info is not None and os.path.isfile(path) else None
    except OSError as error:
        raise FileWriteError("remove %s: %s" % (path, error.strerror or error))
    result = {"changed": info is not None,
              "diff": {"before_header": path, "after_header": path,
                       "before": _printable(before), "after": ""}}
    if info is not None and not module.check_mode:
        try:
            os.unlink(path)
        except OSError as error:
            raise FileWriteError("remove %s: %s" % (path, error.strerror or error))
    return result


def _printable(data):
    if data is None:
        return ""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return "(binary, %d bytes)\n" % len(data)
