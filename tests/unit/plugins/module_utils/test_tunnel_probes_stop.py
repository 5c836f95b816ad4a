# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rollout's tunnel probes (roles/rollout/tasks/switch_host.yml) are stopped without stopping
anyone else's ping: the tasks are rendered with Ansible's templating as the play renders them,
and their pkill runs against processes whose command lines look exactly like pings."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

TOP = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..")
PROBE = "Ping through each tunnel while it switches"
PICK = "Pick this phase's units, and forget what the previous phase saw"


def switch_tasks():
    with open(os.path.join(TOP, "roles", "rollout", "tasks", "switch_host.yml"), encoding="utf-8") as handle:
        [block] = yaml.safe_load(handle)
    return {task["name"]: task for part in ("block", "rescue", "always") for task in block[part]}


def render(value, variables):
    return Templar(loader=DataLoader(), variables=variables).template(trust_as_template(value))


def rendered_argvs():
    tasks = switch_tasks()
    variables = {"dco_probe_interval": 0.2, "dco_gate_timeout": 90, "item": {"target": "10.8.0.1"}}
    marker = tasks[PICK]["ansible.builtin.set_fact"].get("rollout_probe_marker")
    if marker is not None:
        variables["rollout_probe_marker"] = render(marker, variables)
    # The command module turns every argv element into a string, as here.
    probe = [str(render(arg, variables)) for arg in tasks[PROBE]["ansible.builtin.command"]["argv"]]
    stop = next(task for name, task in tasks.items() if name.startswith("Stop the probes"))
    return probe, [str(render(arg, variables)) for arg in stop["ansible.builtin.command"]["argv"]], stop


def fake_ping(tmp_path, argv):
    """A process whose /proc cmdline holds ``<dir>/ping ARGS`` as a ping's does, ended by SIGINT.

    Python, not sh: a shell started where SIGINT is ignored (anything run in the background of
    a non-interactive shell, as CI jobs often are) cannot trap it, and would never end. The
    process says when its handler is in place, so no signal arrives before it.
    """
    script = tmp_path / "ping"
    if not script.exists():
        script.write_text("#!%s\nimport signal, sys, time\n"
                          "signal.signal(signal.SIGINT, lambda *_: sys.exit(0))\n"
                          "print('ready', flush=True)\nwhile True:\n    time.sleep(0.05)\n" % sys.executable)
        script.chmod(0o755)
    process = subprocess.Popen([str(script)] + list(argv[1:]), stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline() == "ready\n"
    return process


def test_stopping_the_probes_stops_only_this_switchs_pings(tmp_path):
    probe, stop, task = rendered_argvs()
    assert probe[0] == "ping"
    ours = fake_ping(tmp_path, probe)
    # Another ping with the same target and options but none of our pattern: an operator's, or a
    # monitoring agent's.
    theirs = [fake_ping(tmp_path, ["ping", "-D", "-O", "-n", "-i", "0.2", "-w", "150", "10.8.0.1"]),
              fake_ping(tmp_path, ["ping", "10.8.0.1"])]
    rendered_again = rendered_argvs()[0]
    if rendered_again != probe:
        # Another run of the switch (another host, the next phase) picks another pattern.
        theirs.append(fake_ping(tmp_path, rendered_again))
    try:
        time.sleep(0.3)
        done = subprocess.run(stop, check=False, capture_output=True)
        assert done.returncode == 0
        assert ours.wait(timeout=5) == 0
        time.sleep(0.3)
        assert all(process.poll() is None for process in theirs)
        # Nothing left to stop (the probes ended on their own): rc 1, which the task accepts.
        again = subprocess.run(stop, check=False, capture_output=True)
        assert again.returncode == 1
        assert render("{{ %s }}" % task["failed_when"], {"rollout_probe_stop": {"rc": again.returncode}}) is False
    finally:
        for process in [ours] + theirs:
            if process.poll() is None:
                process.kill()
                process.wait()
