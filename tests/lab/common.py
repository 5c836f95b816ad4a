# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Paths, command running and SSH shared by the lab tool."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STATE = os.path.join(TOP, ".lab")            # per work tree: inventory, PKI, run state
CACHE = "/var/cache/ovpnfleet-lab"           # shared: images, the SSH key
MIRROR = "http://deb.debian.org/debian"
LAN_PREFIX = "192.0.2."                      # TEST-NET-1, only inside the VMs' shared segment


class LabError(Exception):
    pass


def log(message):
    sys.stderr.write("lab: %s\n" % message)
    sys.stderr.flush()


def run(argv, quiet=False, check=True, env=None, input_text=None, timeout=1800):
    result = subprocess.run(argv, capture_output=True, text=True, env=env, input=input_text,
                            timeout=timeout, check=False)
    if check and result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-20:])
        raise LabError("%s exited %d:\n%s" % (" ".join(argv[:4]), result.returncode, tail))
    if not quiet and result.stdout.strip():
        sys.stderr.write(result.stdout)
    return result


def ssh_argv(host, key):
    return ["ssh", "-q", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "ConnectTimeout=5", "-o", "BatchMode=yes", "-i", key,
            "-p", str(host["port"]), "root@%s" % host["address"]]


def ssh(host, key, command, check=True, input_text=None, timeout=600):
    return run(ssh_argv(host, key) + [command], quiet=True, check=check, input_text=input_text,
               timeout=timeout)


def wait_for_ssh(host, key, deadline_seconds=300):
    started = time.monotonic()
    while time.monotonic() - started < deadline_seconds:
        if ssh(host, key, "true", check=False, timeout=15).returncode == 0:
            return time.monotonic() - started
        time.sleep(2)
    raise LabError("no SSH from %s after %ds (console log in .lab/run/)" % (host["name"], deadline_seconds))


def load_state():
    try:
        with open(os.path.join(STATE, "state.json")) as handle:
            return json.load(handle)
    except FileNotFoundError:
        return {"vms": {}, "containers": {}}


def save_state(state):
    os.makedirs(STATE, exist_ok=True)
    with open(os.path.join(STATE, "state.json"), "w") as handle:
        json.dump(state, handle, indent=1, sort_keys=True)


def pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except (OSError, TypeError):
        return False
