# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How long a health sweep takes next to an ``ansible -m ping`` sweep of the same hosts.

    python3 -m tests.bench.health_vs_ping [--hosts lab_containers] [--runs 5] [--forks 25]

Runs, alternating and after one warm-up each: the ping sweep (``ansible HOSTS -m
ansible.builtin.ping``), the health gather (``ansible HOSTS -b -m ovpnfleet.dco.tunnel_info``,
the one module call per host the health role makes) and the whole ``check_health`` playbook
(gather plus the report on the controller; requirements already installed). Prints every time,
the medians and the ratios to the ping sweep. Same inventory, forks, SSH settings and
pipelining for all. Needs the lab up and the venv (``make venv``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
INVENTORY = os.path.join(TOP, ".lab", "inventory.yml")


def sweep(argv, env):
    start = time.monotonic()
    done = subprocess.run(argv, cwd=TOP, env=env, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - start
    if done.returncode != 0:
        sys.exit("failed (%d): %s\n%s" % (done.returncode, " ".join(argv), done.stdout[-3000:] + done.stderr[-2000:]))
    return elapsed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--hosts", default="lab_containers")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--forks", type=int, default=25)
    args = parser.parse_args(argv)
    venv = os.path.join(TOP, ".venv", "bin")
    env = dict(os.environ, PATH=venv + os.pathsep + os.environ.get("PATH", ""), ANSIBLE_PIPELINING="true",
               ANSIBLE_COLLECTIONS_PATH=os.path.join(TOP, ".tmp", "collections"), ANSIBLE_HOST_KEY_CHECKING="false")
    common = ["-i", INVENTORY, "-f", str(args.forks)]
    with tempfile.TemporaryDirectory() as report:
        commands = {
            "ping": ["ansible", args.hosts] + common + ["-m", "ansible.builtin.ping"],
            "tunnel_info": ["ansible", args.hosts] + common + ["-b", "-m", "ovpnfleet.dco.tunnel_info"],
            "check_health": ["ansible-playbook"] + common + [
                os.path.join(TOP, "playbooks", "check_health.yml"), "-e", "dco_hosts=%s" % args.hosts,
                "-e", "health_install_requirements=false", "-e", "health_report_dir=%s" % report,
                # Timing, not judging: a threshold the lab misses must not stop the run.
                "-e", "health_min_cert_days=0"],
        }
        times = {name: [] for name in commands}
        for name, command in commands.items():
            sweep(command, env)  # warm-up: SSH masters, caches
        for run in range(args.runs):
            for name, command in commands.items():
                times[name].append(sweep(command, env))
            print("run %d: %s" % (run + 1, "  ".join("%s %.2fs" % (name, times[name][-1]) for name in commands)), flush=True)
    hosts = subprocess.run(["ansible", args.hosts, "-i", INVENTORY, "--list-hosts"], cwd=TOP, env=env,
                           capture_output=True, text=True, check=True).stdout.count("\n") - 1
    base = statistics.median(times["ping"])
    print("hosts: %d, forks: %d, runs: %d" % (hosts, args.forks, args.runs))
    for name in commands:
        median = statistics.median(times[name])
        print("%-13s median %.2fs  ratio to ping %.2f" % (name, median, median / base))


if __name__ == "__main__":
    main()
