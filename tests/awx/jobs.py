# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Jobs the way AWX runs them: ansible-runner in the EE, a fresh private data dir per job.

Each job gets a new private data dir with the project from `git archive HEAD`, the inventory
and env/extravars written as files, and runs with podman process isolation on the host network.
The durable directory (PKI, module cache) is the one thing mounted from outside, as an AWX
administrator exposes a path or a volume to isolated jobs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time

from tests.awx.common import EE_IMAGE, TOP, AwxError, log, podman_env, run
from tests.awx.ee import export_head, tools_venv

JOBS_ROOT = os.path.join(TOP, ".tmp", "awx-jobs")
SNAPSHOT = "tests/awx/snapshot.yml"
# The kmod role's compile task (roles/kmod/tasks/build_here.yml): one changed result is one build.
COMPILE_TASK = "Compile the module on the builder for the kernels missing from the cache"
# Where dco_report_dir and health_report_dir put the report under ansible-runner.
REPORT_DIR = "dco-report"
IDENTITY = re.compile(r"""ansible_ssh_private_key_file:\s*["']?([^"'\s]+)""")


def durable_vars(durable):
    """Extra vars that put the PKI and the module cache on the durable volume."""
    return {"fleet_pki_dir": os.path.join(durable, "pki"),
            "kmod_cache_dir": os.path.join(durable, "kmod-cache")}


def identity_file(inventory_text):
    """The one SSH key the inventory names, or None. It reaches the job as AWX's machine
    credential does, env/ssh_key loaded into ssh-agent; the path in the inventory stays unused
    (ssh warns that it is not there and uses the agent)."""
    paths = sorted(set(IDENTITY.findall(inventory_text)))
    if len(paths) > 1:
        raise AwxError("the inventory names %d SSH keys (%s): a job takes one machine credential"
                       % (len(paths), ", ".join(paths)))
    return paths[0] if paths else None


def runner_argv(runner, private_data_dir, playbook, ident, durable, image=EE_IMAGE):
    argv = [runner, "run", private_data_dir, "--playbook", playbook, "--ident", ident,
            "--process-isolation", "--process-isolation-executable", "podman",
            "--container-image", image,
            # Lab hosts listen on 127.0.0.1 and on a podman bridge of the host.
            "--container-option=--network=host",
            # ansible-runner writes the private data dir (and the ssh_key_data fifo) as the user
            # it runs as, and passes --user=<that uid> to docker but nothing to podman, where the
            # EE's default user 1000 cannot read them. In AWX the worker runs inside the EE, as
            # the same user as the job; --user=0 restores that match for a root ansible-runner.
            "--container-option=--user=0",
            "--container-volume-mount", "%s:%s" % (durable, durable)]
    return argv


# What a job template's "environment variables" setting would carry. Pipelining: one SSH round
# trip per task (server_client took 260-298 s per job without it on the qemu TCG lab).
JOB_ENV = {"ANSIBLE_PIPELINING": "True"}


def prepare(private_data_dir, inventory_text, extravars, lab_state=None):
    """A fresh private data dir: project from HEAD, inventory, extra vars and the SSH key as files."""
    if os.path.exists(private_data_dir):
        raise AwxError("private data dir %s exists: every job needs a fresh one" % private_data_dir)
    export_head(os.path.join(private_data_dir, "project"))
    if lab_state:
        # tests/integration/playbooks read the lab's addresses from <project>/.lab/state.json.
        os.makedirs(os.path.join(private_data_dir, "project", ".lab"))
        shutil.copy(lab_state, os.path.join(private_data_dir, "project", ".lab", "state.json"))
    for name, text in (("inventory/hosts", inventory_text),
                       ("env/extravars", json.dumps(extravars, indent=1, sort_keys=True)),
                       ("env/envvars", json.dumps(JOB_ENV, indent=1, sort_keys=True))):
        path = os.path.join(private_data_dir, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as handle:
            handle.write(text)
    key = identity_file(inventory_text)
    if key:
        shutil.copy(key, os.path.join(private_data_dir, "env", "ssh_key"))
        os.chmod(os.path.join(private_data_dir, "env", "ssh_key"), 0o600)


def read_events(artifacts):
    events_dir = os.path.join(artifacts, "job_events")
    events = []
    for name in sorted(os.listdir(events_dir)) if os.path.isdir(events_dir) else []:
        with open(os.path.join(events_dir, name)) as handle:
            events.append(json.load(handle))
    events.sort(key=lambda event: event.get("counter", 0))
    return events


def compiles(events):
    """Hosts where the kmod role compiled a module in this job."""
    return sorted(event["event_data"].get("host", "?") for event in events
                  if event.get("event") == "runner_on_ok"
                  and event.get("event_data", {}).get("task") == COMPILE_TASK
                  and event["event_data"].get("res", {}).get("changed"))


def changed_tasks(events):
    """``host: task`` for every task result that reported a change in this job."""
    return ["%s: %s" % (event["event_data"].get("host", "?"), event["event_data"].get("task", "?"))
            for event in events
            if event.get("event") in ("runner_on_ok", "runner_item_on_ok")
            and event.get("event_data", {}).get("res", {}).get("changed")]


def failure_messages(events):
    """The ``msg`` of every failed task result, as the job's output shows it."""
    return [str(event["event_data"].get("res", {}).get("msg", "")) for event in events
            if event.get("event") == "runner_on_failed"]


def plan_lines(events):
    """The kmod role's plan line per host, as printed by the playbooks."""
    lines = {}
    for event in events:
        data = event.get("event_data", {})
        facts = data.get("res", {}).get("ansible_facts", {}) if event.get("event") == "runner_on_ok" else {}
        if "kmod_plan_line" in facts:
            lines[data.get("host", "?")] = facts["kmod_plan_line"]
    return lines


def run_job(name, playbook, inventory_text, extravars, durable, lab_state=None):
    """One AWX-style job; a record of what it did for the checks."""
    ident = "%s-%s" % (name, time.strftime("%Y%m%dT%H%M%S"))
    private_data_dir = os.path.join(JOBS_ROOT, ident)
    prepare(private_data_dir, inventory_text, extravars, lab_state)
    runner = os.path.join(tools_venv(), "bin", "ansible-runner")
    argv = runner_argv(runner, private_data_dir, playbook, ident, durable)
    log("job %s: %s (private data dir %s)" % (name, playbook, private_data_dir))
    started = time.monotonic()
    done = run(argv, check=False, env=podman_env(), timeout=7200)
    artifacts = os.path.join(private_data_dir, "artifacts", ident)
    status = _read(os.path.join(artifacts, "status")) or "no status"
    events = read_events(artifacts)
    record = {"name": name, "playbook": playbook, "ident": ident, "rc": done.returncode,
              "status": status, "artifacts": artifacts, "compiles": compiles(events),
              "plan_lines": plan_lines(events), "seconds": round(time.monotonic() - started, 1),
              "changed": changed_tasks(events), "failures": failure_messages(events),
              "snapshot": _read_snapshot(artifacts),
              "report_files": sorted(os.listdir(os.path.join(artifacts, REPORT_DIR)))
              if os.path.isdir(os.path.join(artifacts, REPORT_DIR)) else []}
    if done.returncode:
        record["stdout_tail"] = (done.stdout + done.stderr).strip().splitlines()[-25:]
    log("job %s: %s, rc %d, %.0f s, compiles %s" % (name, status, done.returncode,
                                                    record["seconds"], record["compiles"] or "none"))
    return record


def _read(path):
    try:
        with open(path) as handle:
            return handle.read().strip()
    except FileNotFoundError:
        return None


def _read_snapshot(artifacts):
    folder = os.path.join(artifacts, "snapshot")
    if not os.path.isdir(folder):
        return None
    snapshot = {}
    for name in sorted(os.listdir(folder)):
        with open(os.path.join(folder, name)) as handle:
            snapshot[name[:-len(".json")]] = json.load(handle)
    return snapshot
