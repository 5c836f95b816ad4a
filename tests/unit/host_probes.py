# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Record what a real host answers to fact gathering, and replay it in unit tests.

Recording runs the collection's own ``gather_host_facts`` on the target through a probe that
writes down every question and answer, so a fixture holds exactly what the code asked a real
host. Replaying answers only recorded questions: a question the host was never asked fails
the test, so fixtures cannot drift from the code silently.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from collections import namedtuple

from ansible_collections.ovpnfleet.dco.plugins.module_utils._probe import (
    RC_NOT_FOUND,
    SYSTEM_BIN_DIRS,
    CommandResult,
    FileProbe,
)
from ansible_collections.ovpnfleet.dco.plugins.module_utils.access_server._server import SACLI

# The two fields of os.uname() fact gathering reads.
Uname = namedtuple("Uname", ["release", "machine"])


class LocalProbe(FileProbe):
    """Runs commands with subprocess, as ModuleProbe does through run_command."""

    def run(self, argv):
        path = os.environ.get("PATH", "") + os.pathsep + os.pathsep.join(SYSTEM_BIN_DIRS)
        binary = shutil.which(argv[0], path=path)
        if binary is None:
            return CommandResult(RC_NOT_FOUND, "", "%s: command not found" % argv[0])
        env = dict(os.environ, LC_ALL="C", LANG="C")
        done = subprocess.run([binary] + list(argv[1:]), capture_output=True, text=True,
                              env=env, check=False)
        return CommandResult(done.returncode, done.stdout, done.stderr)


class RecordingProbe:
    def __init__(self, inner):
        self._inner = inner
        self.record = {"run": {}, "read": {}, "read_bytes": {}, "exists": {}, "listdir": {}, "read_link": {},
                       "read_tail": {}, "file_id": {}}

    def run(self, argv):
        result = self._inner.run(argv)
        self.record["run"][" ".join(argv)] = list(result)
        return result

    def read(self, path):
        self.record["read"][path] = value = self._inner.read(path)
        return value

    def read_bytes(self, path):
        value = self._inner.read_bytes(path)
        self.record["read_bytes"][path] = None if value is None else base64.b64encode(value).decode()
        return value

    def exists(self, path):
        self.record["exists"][path] = value = self._inner.exists(path)
        return value

    def listdir(self, path):
        self.record["listdir"][path] = value = self._inner.listdir(path)
        return value

    def uname(self):
        value = self._inner.uname()
        self.record["uname"] = {"release": value.release, "machine": value.machine}
        return value

    def read_link(self, path):
        self.record["read_link"][path] = value = self._inner.read_link(path)
        return value

    def read_tail(self, path, limit):
        self.record["read_tail"]["%s %d" % (path, limit)] = value = list(self._inner.read_tail(path, limit))
        return value

    def file_id(self, path):
        self.record["file_id"][path] = value = self._inner.file_id(path)
        return value


class ReplayProbe:
    def __init__(self, record):
        self._record = record

    def _answer(self, kind, key):
        try:
            return self._record[kind][key]
        except KeyError:
            raise AssertionError("the recorded host was never asked %s(%r)" % (kind, key))

    def run(self, argv):
        return CommandResult(*self._answer("run", " ".join(argv)))

    def read(self, path):
        return self._answer("read", path)

    def read_bytes(self, path):
        value = self._answer("read_bytes", path)
        return None if value is None else base64.b64decode(value)

    def exists(self, path):
        return self._answer("exists", path)

    def listdir(self, path):
        return self._answer("listdir", path)

    def uname(self):
        """The recorded uname(2) answer; recordings made before the probe had one answer with
        what the host printed for ``/proc/sys/kernel/osrelease``, ``uname -r`` and ``uname -m``."""
        if "uname" in self._record:
            found = self._record["uname"]
            return Uname(found["release"], found["machine"])
        release = self._record["read"].get("/proc/sys/kernel/osrelease") or self._answer("run", "uname -r")[1]
        return Uname(release.strip(), self._answer("run", "uname -m")[1].strip())

    def read_link(self, path):
        return self._answer("read_link", path)

    def read_tail(self, path, limit):
        return self._answer("read_tail", "%s %d" % (path, limit))

    def file_id(self, path):
        return self._answer("file_id", path)


def without_access_server(record):
    """A recording made before the modules asked for Access Server, answered as it is: no lab host
    has Access Server (it cannot be fetched here), so sacli is missing and the probe says so
    without running anything (rc 127), as ModuleProbe does for a program that is not there."""
    record["run"].setdefault("%s status" % SACLI, [RC_NOT_FOUND, "", "%s: command not found" % SACLI])
    return record


def load_fixture(path):
    with open(path, "r", encoding="utf-8") as handle:
        return json.load(handle)


def main():
    """``python3 -m ... NOTE``: print a fixture for this host as JSON.

    Asks what host_info asks, and what kmod asks about both flavours for the kernels it would
    target, so both modules can be replayed against the recording.
    """
    from ansible_collections.ovpnfleet.dco.plugins.module_utils._generations import GENERATIONS
    from ansible_collections.ovpnfleet.dco.plugins.module_utils.host._facts import gather_host_facts
    from ansible_collections.ovpnfleet.dco.plugins.module_utils.kmod._plan import (
        read_kmod_state,
        read_staged,
        target_kernels,
    )

    probe = RecordingProbe(LocalProbe())
    facts = gather_host_facts(probe)
    kernels = target_kernels({}, facts)
    for flavour in GENERATIONS.values():
        read_kmod_state(probe, flavour, kernels, flavour.dkms_name)
        read_staged(probe, flavour)
    json.dump({"note": " ".join(sys.argv[1:]), "probe": probe.record}, sys.stdout,
              indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
