# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""python3 -m tests.awx ee | jobs: the EE image, and AWX-style jobs in it (docs/awx.md)."""

from __future__ import annotations

import argparse
import json
import os
import sys

from tests.awx import checks, ee, jobs
from tests.awx.common import AwxError

DEFAULT_PLAYBOOKS = ["playbooks/enable_dco.yml", checks.PKI_PLAYBOOK, "playbooks/check_health.yml"]
# A batch size that is not one: survey_vars must refuse it in the first task, before any change.
BAD_SERIAL = "1,abc"


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python3 -m tests.awx")
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("ee", help="build the base image and the EE (cached, idempotent)")
    build.add_argument("--force", action="store_true", help="run ansible-builder even when current")
    run = commands.add_parser("jobs", help="rounds of ansible-runner jobs in the EE, then the checks")
    run.add_argument("--inventory", required=True, help="inventory file, copied into each job")
    run.add_argument("--durable", required=True,
                     help="directory that outlives the jobs (PKI, module cache), mounted into each")
    run.add_argument("--playbook", action="append", dest="playbooks",
                     help="project-relative playbook, one job each, in order (repeat; default: %s)"
                     % ", ".join(DEFAULT_PLAYBOOKS))
    run.add_argument("--extra-var", action="append", default=[], metavar="NAME=VALUE",
                     help="an extra var as a survey answer (a string); repeat")
    run.add_argument("--lab-state", help="the lab's state.json (default: beside the inventory)")
    run.add_argument("--rounds", type=int, default=2)
    return parser.parse_args(argv)


def extra_vars(pairs, durable):
    values = jobs.durable_vars(durable)
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise AwxError("--extra-var %r: expected NAME=VALUE" % pair)
        values[name] = value
    return values


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        if args.command == "ee":
            print(json.dumps(ee.ensure_ee(force=args.force), indent=1))
            return 0
        return run_jobs(args)
    except AwxError as error:
        sys.stderr.write("awx: %s\n" % error)
        return 1


def run_jobs(args):
    durable = os.path.abspath(args.durable)
    if not os.path.isdir(durable):
        raise AwxError("durable directory %s does not exist: create it once (it outlives the jobs)"
                       % durable)
    for sub, mode in (("pki", 0o700), ("kmod-cache", 0o755)):
        os.makedirs(os.path.join(durable, sub), mode=mode, exist_ok=True)
    with open(args.inventory) as handle:
        inventory_text = handle.read()
    lab_state = args.lab_state or os.path.join(os.path.dirname(os.path.abspath(args.inventory)),
                                               "state.json")
    lab_state = lab_state if os.path.exists(lab_state) else None
    variables = extra_vars(args.extra_var, durable)
    ee.ensure_ee()
    ca_path = os.path.join(durable, "pki", "ca.crt")
    ca_before = checks.ca_fingerprints(ca_path)
    rounds = []
    for number in range(1, args.rounds + 1):
        records = [jobs.run_job("r%d-%s" % (number, os.path.splitext(os.path.basename(book))[0]),
                                book, inventory_text, variables, durable, lab_state)
                   for book in args.playbooks or DEFAULT_PLAYBOOKS]
        records.append(jobs.run_job("r%d-snapshot" % number, jobs.SNAPSHOT, inventory_text,
                                    variables, durable, lab_state))
        rounds.append({"jobs": records, "ca": checks.ca_fingerprints(ca_path)})
    # A survey answer that is wrong must stop the job before the first change, as AWX sends it: a string.
    refused = jobs.run_job("bad-survey", "playbooks/enable_dco.yml", inventory_text,
                           dict(variables, dco_serial=BAD_SERIAL), durable, lab_state)
    results = checks.check(rounds, ca_before) + [checks.refused_before_any_change(refused, "dco_serial")]
    summary = os.path.join(jobs.JOBS_ROOT, "last-run.json")
    with open(summary, "w") as handle:
        json.dump({"rounds": rounds, "refused": refused, "ca_before": ca_before, "checks": results}, handle, indent=1)
    for rnd in rounds:
        for job in rnd["jobs"]:
            print("%-28s %-10s %6.0f s  artifacts %s" % (job["ident"], job["status"], job["seconds"],
                                                         job["artifacts"]))
            for line in job.get("stdout_tail", []):
                print("    | " + line)
    print("%-28s %-10s %6.0f s  artifacts %s" % (refused["ident"], refused["status"], refused["seconds"],
                                                 refused["artifacts"]))
    for ok, text in results:
        print("%s %s" % ({True: "PASS", False: "FAIL", None: "n/a "}[ok], text))
    print("records: %s" % summary)
    failed = [text for ok, text in results if ok is False]
    if failed:
        sys.stderr.write("awx: %d check(s) failed, first: %s\n" % (len(failed), failed[0]))
        return 1
    return 0
