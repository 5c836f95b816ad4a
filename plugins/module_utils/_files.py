# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one way the collection writes a file on a host.

Content goes to a temporary file in the target's own directory and replaces the target with
``AnsibleModule.atomic_move``, so a reader never sees half a file and a failure leaves the old
one. A write reports a diff of the real file, honours check mode (nothing touches the disk),
and can keep a backup.
"""

from __future__ import annotations

import os
import tempfile

from ansible_collections.ovpnfleet.dco.plugins.module_utils._errors import DcoError


class FileWriteError(DcoError):
    pass


def read_bytes_or_none(path):
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def write_file(module, path, content, mode=0o644, backup=False):
    """Make ``path`` hold ``content`` (str or bytes) with ``mode``.

    Returns ``{"changed", "diff", "backup_file"}``; in check mode it only says what would change.
    """
    data = content.encode("utf-8") if isinstance(content, str) else content
    before = read_bytes_or_none(path)
    current_mode = os.stat(path).st_mode & 0o7777 if before is not None else None
    changed = before != data or current_mode != mode
    diff = {
        "before_header": path,
        "after_header": path,
        "before": _printable(before),
        "after": _printable(data),
    }
    result = {"changed": changed, "diff": diff, "backup_file": None}
    if not changed or module.check_mode:
        return result
    directory = os.path.dirname(path) or "."
    try:
        os.makedirs(directory, mode=0o755, exist_ok=True)
        if backup and before is not None:
            result["backup_file"] = module.backup_local(path)
        handle, temp_path = tempfile.mkstemp(dir=directory, prefix=".ovpnfleet-")
        try:
            with os.fdopen(handle, "wb") as temp:
                temp.write(data)
            os.chmod(temp_path, mode)
            if before is None:
                # atomic_move gives a new file 0666 & ~umask for a moment; a key must never be
                # readable, so a new file is the prepared temp file, renamed in its directory.
                os.rename(temp_path, path)
            else:
                # atomic_move copies the old file's mode onto the new content: set it first.
                os.chmod(path, mode)
                module.atomic_move(temp_path, path, unsafe_writes=False)
        finally:
            if os.path.exists(temp_path):
                os.unlink(temp_path)
    except OSError as error:
        raise FileWriteError("write %s: %s" % (path, error))
    return result


def remove_file(module, path):
    """Remove ``path`` if it exists; returns ``{"changed", "diff"}``, honouring check mode."""
    before = read_bytes_or_none(path)
    result = {"changed": before is not None,
              "diff": {"before_header": path, "after_header": path,
                       "before": _printable(before), "after": ""}}
    if before is not None and not module.check_mode:
        try:
            os.unlink(path)
        except OSError as error:
            raise FileWriteError("remove %s: %s" % (path, error))
    return result


def _printable(data):
    if data is None:
        return ""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return "(binary, %d bytes)\n" % len(data)
