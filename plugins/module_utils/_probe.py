# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one seam through which read-only fact gathering touches a host.

Fact gathering asks a probe to run commands and read files; it never calls subprocess or
open() itself. Modules pass a ``ModuleProbe``; unit tests replay probes recorded on real
hosts (``tests/unit/fixtures/host_info/``), so a test sees exactly what a real host answered.
"""

from __future__ import annotations

import gzip
import os
from collections import namedtuple

CommandResult = namedtuple("CommandResult", ["rc", "stdout", "stderr"])

# rc a probe reports when the program is not installed, as a shell would.
RC_NOT_FOUND = 127

# Where system tools live on hosts whose PATH for the Ansible user lacks the sbin dirs.
SYSTEM_BIN_DIRS = ["/usr/local/sbin", "/usr/sbin", "/sbin"]


class FileProbe:
    """File access shared by every probe: plain reads, never writes."""

    def read(self, path):
        """Text of a file (gzip transparently for ``*.gz``), or None when it cannot be read."""
        try:
            if path.endswith(".gz"):
                with gzip.open(path, "rt", encoding="utf-8", errors="replace") as handle:
                    return handle.read()
            with open(path, "r", encoding="utf-8", errors="replace") as handle:
                return handle.read()
        except (OSError, EOFError):
            return None

    def read_bytes(self, path):
        try:
            with open(path, "rb") as handle:
                return handle.read()
        except OSError:
            return None

    def read_link(self, path):
        try:
            return os.readlink(path)
        except OSError:
            return None

    def exists(self, path):
        return os.path.exists(path)

    def listdir(self, path):
        try:
            return sorted(os.listdir(path))
        except OSError:
            return None


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
