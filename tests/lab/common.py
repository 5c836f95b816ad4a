# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Paths, running commands, SSH and small helpers shared by the lab tool."""

from __future__ import annotations

import concurrent.futures
import io
import os
import subprocess
import sys
import tarfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CACHE = "/var/cache/ovpnfleet-lab"           # shared by every work tree: images only
MIRROR = "http://deb.debian.org/debian"     # the one registry this lab may reach
SECURITY_MIRROR = "http://deb.debian.org/debian-security"


class LabError(Exception):
    """A failure the user can act on; the message says what happened and what to do."""


def log(message):
    """Progress goes to stderr so stdout stays the command's result."""
    sys.stderr.write("lab: %s\n" % message)
    sys.stderr.flush()


def tail(text, lines=15):
    return "\n".join(text.strip().splitlines()[-lines:])


def run(argv, check=True, data=None, timeout=600, env=None):
    """Run argv (bytes in, text out); raise LabError with the output's tail when it fails."""
    try:
        done = subprocess.run(argv, input=data, capture_output=True, timeout=timeout, env=env,
                              check=False)
    except FileNotFoundError as error:
        raise LabError("%s is not installed: `python3 -m tests.lab up` installs what "
                       "tests/lab/apt-packages.txt lists" % argv[0]) from error
    except subprocess.TimeoutExpired as error:
        raise LabError("`%s` did not finish within %d s" % (" ".join(argv[:3]), timeout)) from error
    result = subprocess.CompletedProcess(argv, done.returncode,
                                         done.stdout.decode(errors="replace"),
                                         done.stderr.decode(errors="replace"))
    if check and result.returncode != 0:
        raise LabError("`%s` exited %d:\n%s" % (
            " ".join(argv[:5]), result.returncode, tail(result.stdout + result.stderr)))
    return result


def in_parallel(function, items, workers=6):
    """function(item) for every item, a few at a time; results in the order of items."""
    items = list(items)
    if not items:
        return []
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(workers, len(items))) as pool:
        return list(pool.map(function, items))


def ssh_argv(host):
    """ssh to a lab host as root with the lab key; lab hosts are recreated, so no known_hosts."""
    return ["ssh", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=5", "-o", "BatchMode=yes",
            "-o", "IdentitiesOnly=yes", "-i", host["identity_file"],
            "-p", str(host["port"]), "root@%s" % host["address"]]


def ssh(host, command, check=True, data=None, timeout=300):
    result = run(ssh_argv(host) + [command], check=False, data=data, timeout=timeout)
    if check and result.returncode != 0:
        raise LabError("on %s, `%s` exited %d:\n%s" % (
            host["name"], command[:80], result.returncode, tail(result.stdout + result.stderr)))
    return result


def wait_for_ssh(host, deadline_seconds):
    """Seconds until `ssh host true` works, polling once a second; LabError at the deadline."""
    started = time.monotonic()
    while time.monotonic() - started < deadline_seconds:
        try:
            if ssh(host, "true", check=False, timeout=15).returncode == 0:
                return time.monotonic() - started
        except LabError:
            pass  # the 15 s timeout of one attempt; the loop's deadline decides
        time.sleep(1)
    raise LabError("no SSH from %s on %s:%s after %d s" % (
        host["name"], host["address"], host["port"], deadline_seconds))


def tar_of(files):
    """A tar stream of ``{path: (text, mode)}``: files reach a host through one SSH call."""
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        for path, (text, mode) in sorted(files.items()):
            data = text.encode()
            info = tarfile.TarInfo(path.lstrip("/"))
            info.size, info.mode, info.mtime = len(data), mode, int(time.time())
            tar.addfile(info, io.BytesIO(data))
    return archive.getvalue()
