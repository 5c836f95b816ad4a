# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Paths, names and running commands for tests/awx."""

from __future__ import annotations

import os
import subprocess
import sys

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CACHE = "/var/cache/ovpnfleet-ee"
MIRROR = "http://deb.debian.org/debian"
SECURITY_MIRROR = "http://deb.debian.org/debian-security"
BASE_IMAGE = "localhost/ovpnfleet-ee-base:bookworm"
EE_IMAGE = "localhost/ovpnfleet-ee:latest"
KEY_LABEL = "ovpnfleet.ee.key"
# podman reads this instead of /etc/containers/containers.conf when CONTAINERS_CONF names it:
# crun fails on this machine ("cgroups in hybrid mode not supported") and the default rlimits
# cannot be set ("setrlimit RLIMIT_NOFILE: Operation not permitted"), both seen by the lab.
# A file of our own reaches every podman that ansible-builder and ansible-runner start.
CONTAINERS_CONF = """\
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]

[engine]
runtime = "runc"
"""


class AwxError(Exception):
    """A failure the user can act on; the message says what happened and what to do."""


def log(message):
    sys.stderr.write("awx: %s\n" % message)
    sys.stderr.flush()


def tail(text, lines=20):
    return "\n".join(text.strip().splitlines()[-lines:])


def podman_env():
    """The environment for podman and the tools that start it, with our containers.conf."""
    path = os.path.join(CACHE, "containers.conf")
    os.makedirs(CACHE, exist_ok=True)
    current = None
    if os.path.exists(path):
        with open(path) as handle:
            current = handle.read()
    if current != CONTAINERS_CONF:
        with open(path, "w") as handle:
            handle.write(CONTAINERS_CONF)
    env = dict(os.environ)
    env["CONTAINERS_CONF"] = path
    return env


def run(argv, check=True, timeout=1800, env=None, cwd=None, stdin=None, stream=False):
    """Run argv, text out; with stream, output goes to our stderr as it comes (long builds)."""
    try:
        streams = {"stdout": sys.stderr} if stream else {"capture_output": True}
        done = subprocess.run(argv, timeout=timeout, env=env, cwd=cwd, stdin=stdin, check=False,
                              **streams)
    except FileNotFoundError as error:
        raise AwxError("%s is not installed: apt-get install %s" % (argv[0], argv[0])) from error
    except subprocess.TimeoutExpired as error:
        raise AwxError("`%s` did not finish within %d s" % (" ".join(argv[:3]), timeout)) from error
    out = (done.stdout or b"").decode(errors="replace")
    err = (done.stderr or b"").decode(errors="replace")
    if check and done.returncode != 0:
        raise AwxError("`%s` exited %d:\n%s" % (" ".join(argv[:6]), done.returncode, tail(out + err)))
    return subprocess.CompletedProcess(argv, done.returncode, out, err)
