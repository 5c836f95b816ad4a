# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bench's side of the lab: bring it up at a size, reach its hosts, run Ansible against it,
and read the CPU time of a VM's qemu process from this machine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# The lab belongs to one work tree (its id is a hash of that tree's .lab path). Running the
# playbooks from another clone against it must not start a second lab: BENCH_LAB_TOP names the
# tree whose lab to use.
LAB_TOP = os.environ.get("BENCH_LAB_TOP", TOP)
LAB_DIR = os.path.join(LAB_TOP, ".lab")
INVENTORY = os.path.join(LAB_DIR, "inventory.yml")
LAB_PYTHON = "/usr/bin/python3"


def state():
    with open(os.path.join(LAB_DIR, "state.json"), encoding="utf-8") as handle:
        return json.load(handle)


def ensure(containers=None, debian12=None, log=print):
    """Bring the lab up the way `make demo` does, or to CONTAINERS containers and DEBIAN12
    Debian 12 VMs (the other counts at `up`'s defaults); wait for SSH."""
    argv = [LAB_PYTHON, "-m", "tests.lab", "up"]
    if containers is not None:
        argv += ["--containers", str(containers)]
    if debian12 is not None:
        argv += ["--debian12", str(debian12)]
    start = time.monotonic()
    done = subprocess.run(argv, cwd=LAB_TOP, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError("bring up the lab (%s): exit %d: %s" % (
            " ".join(argv[2:]), done.returncode, (done.stdout + done.stderr)[-1500:]))
    subprocess.run([LAB_PYTHON, "-m", "tests.lab", "wait"], cwd=LAB_TOP, capture_output=True, check=True)
    log("lab up (%s containers) in %.0f s" % (containers if containers is not None else "default", time.monotonic() - start))


def running():
    """Whether the lab is up with every host running (then `up` would only re-check it)."""
    if not os.path.exists(os.path.join(LAB_DIR, "state.json")):
        return False
    done = subprocess.run([LAB_PYTHON, "-m", "tests.lab", "status"], cwd=LAB_TOP, capture_output=True, text=True, check=False)
    rows = [line.split() for line in done.stdout.splitlines() if line.strip().startswith(("vm ", "container "))]
    return done.returncode == 0 and bool(rows) and all(len(row) > 3 and row[3] == "running" for row in rows)


def host(name):
    lab = state()
    entry = lab["vms"].get(name) or lab["containers"].get(name)
    if entry is None:
        raise RuntimeError("find lab host %s: not in .lab/state.json; is the lab up with it?" % name)
    return entry


def ssh_argv(name):
    entry = host(name)
    return ["ssh", "-i", entry["identity_file"], "-p", str(entry["port"]), "-o", "BatchMode=yes",
            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
            "root@%s" % entry["address"]]


def ssh(name, command, stdin=None, timeout=900):
    done = subprocess.run(ssh_argv(name) + [command], input=stdin, capture_output=True, check=False, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError("run on %s: %s: exit %d: %s" % (name, command, done.returncode,
                                                           done.stderr.decode(errors="replace")[-1500:]))
    return done.stdout.decode(errors="replace")


def push_dir(name, local, remote):
    """Copy a local directory's files to REMOTE on the host (tar over SSH; no scp needed)."""
    tar = subprocess.run(["tar", "-C", local, "-cf", "-", "."], capture_output=True, check=True).stdout
    ssh(name, "rm -rf %s && mkdir -p %s && tar -C %s -xf -" % (remote, remote, remote), stdin=tar)


def qemu_cpu_seconds(name):
    """utime + stime of the VM's qemu process on this machine: the emulation's whole cost."""
    with open(host(name)["pidfile"], encoding="ascii") as handle:
        pid = handle.read().strip()
    with open("/proc/%s/stat" % pid, encoding="ascii") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def ansible_env(extra=None):
    venv = os.path.join(os.environ.get("BENCH_VENV", os.path.join(TOP, ".venv")), "bin")
    collections = os.path.join(TOP, ".tmp", "collections")
    env = dict(os.environ, PATH=venv + os.pathsep + os.environ.get("PATH", ""), ANSIBLE_PIPELINING="true",
               ANSIBLE_COLLECTIONS_PATH=collections, PYTHONPATH=collections, ANSIBLE_HOST_KEY_CHECKING="false")
    env.update(extra or {})
    return env


def timed(argv, env, timeout=3600):
    """Run a command; its wall seconds, or RuntimeError with its tail when it fails."""
    start = time.monotonic()
    done = subprocess.run(argv, cwd=TOP, env=env, capture_output=True, text=True, check=False, timeout=timeout)
    elapsed = time.monotonic() - start
    if done.returncode != 0:
        raise RuntimeError("run %s: exit %d:\n%s" % (
            " ".join(argv[:3]), done.returncode, done.stdout[-2500:] + done.stderr[-1500:]))
    return elapsed, done.stdout


def count_hosts(pattern, env):
    listed = subprocess.run(["ansible", pattern, "-i", INVENTORY, "--list-hosts"], cwd=TOP, env=env,
                            capture_output=True, text=True, check=True).stdout
    return sum(1 for line in listed.splitlines()[1:] if line.strip())


def log(message):
    print(message, file=sys.stderr, flush=True)
