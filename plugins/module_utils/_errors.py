# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Exceptions raised by the collection's module_utils.

module_utils raise; a module's main() turns the exception into one fail_json call
(see ``fail_from_error``), so every failure reads ``<action> <object>: <cause>`` and
carries the command details when a command was involved.
"""

from __future__ import annotations


class DcoError(Exception):
    """Base of every error the collection raises on purpose."""

    def to_fail_kwargs(self):
        return {"msg": str(self)}


class CommandError(DcoError):
    """A command the collection ran failed; keeps what fail_json should show."""

    def __init__(self, msg, cmd, rc, stdout="", stderr=""):
        super().__init__(msg)
        self.cmd = list(cmd)
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr

    def to_fail_kwargs(self):
        return {
            "msg": str(self),
            "cmd": self.cmd,
            "rc": self.rc,
            "stdout": self.stdout,
            "stderr": self.stderr,
        }


class ConfigParseError(DcoError):
    """An OpenVPN config could not be read: a file is unreadable or includes loop."""

    def __init__(self, msg, path=None, line=None):
        super().__init__(msg)
        self.path = path
        self.line = line

    def to_fail_kwargs(self):
        return {"msg": str(self), "path": self.path, "line": self.line}


def fail_from_error(module, error):
    """Fail the module once, at the edge, from a DcoError."""
    module.fail_json(**error.to_fail_kwargs())
