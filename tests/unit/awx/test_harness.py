# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""tests/awx's pure parts: the ansible-runner command, the extra vars, the reading of job events
and the checks over two rounds of job records (shaped as `python3 -m tests.awx jobs` records them)."""

from __future__ import annotations

import base64
import json
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", ".."))
from tests.awx import checks, cli, jobs  # noqa: E402  pylint: disable=wrong-import-position
from tests.awx.common import AwxError  # noqa: E402  pylint: disable=wrong-import-position

CA_DER = b"0\x82 not a real certificate, only bytes to hash"
CA_PEM = b"-----BEGIN CERTIFICATE-----\n" + base64.b64encode(CA_DER) + b"\n-----END CERTIFICATE-----\n"


def test_runner_argv_isolates_in_the_ee_on_the_host_network_with_the_durable_dir():
    argv = jobs.runner_argv("/venv/bin/ansible-runner", "/pdd", "playbooks/check_health.yml",
                            "r1-check_health", "/srv/durable")
    assert argv[:3] == ["/venv/bin/ansible-runner", "run", "/pdd"]
    pairs = dict(zip(argv[3::2], argv[4::2]))
    assert pairs["--playbook"] == "playbooks/check_health.yml"
    assert pairs["--ident"] == "r1-check_health"
    assert "--process-isolation" in argv
    assert argv[argv.index("--process-isolation-executable") + 1] == "podman"
    assert argv[argv.index("--container-image") + 1] == "localhost/ovpnfleet-ee:latest"
    assert "--container-option=--network=host" in argv
    assert "--container-option=--user=0" in argv
    assert argv[argv.index("--container-volume-mount") + 1] == "/srv/durable:/srv/durable"


def test_extra_vars_put_pki_and_cache_on_the_durable_dir_and_keep_answers_as_strings():
    values = cli.extra_vars(["dco_hosts=lab_vms", "health_max_unhealthy_hosts=-1"], "/srv/d")
    assert values == {"fleet_pki_dir": "/srv/d/pki", "kmod_cache_dir": "/srv/d/kmod-cache",
                      "dco_hosts": "lab_vms", "health_max_unhealthy_hosts": "-1"}
    with pytest.raises(AwxError, match="NAME=VALUE"):
        cli.extra_vars(["no_equals_sign"], "/srv/d")


def test_identity_file_is_the_one_key_of_the_inventory():
    text = ('        a:\n          ansible_ssh_private_key_file: "/work/.lab/ssh/id"\n'
            '        b:\n          ansible_ssh_private_key_file: "/work/.lab/ssh/id"\n')
    assert jobs.identity_file(text) == "/work/.lab/ssh/id"
    assert jobs.identity_file("all:\n  hosts: {}\n") is None
    with pytest.raises(AwxError, match="2 SSH keys"):
        jobs.identity_file(text + "          ansible_ssh_private_key_file: /other\n")


def _event(counter, event, task, host, res):
    return {"counter": counter, "event": event,
            "event_data": {"task": task, "host": host, "res": res}}


def test_compiles_and_plan_lines_come_from_the_job_events(tmp_path):
    events_dir = tmp_path / "job_events"
    events_dir.mkdir()
    recorded = [
        _event(1, "runner_on_ok", "Write the plan line for this host's module", "vm1",
               {"ansible_facts": {"kmod_plan_line": "module: x, compiled once on vm1 for 6.1"}}),
        _event(2, "runner_on_ok", jobs.COMPILE_TASK, "vm1", {"changed": True}),
        _event(3, "runner_on_ok", jobs.COMPILE_TASK, "vm2", {"changed": False}),
        _event(4, "runner_on_skipped", jobs.COMPILE_TASK, "vm3", {"changed": False}),
    ]
    for event in recorded:
        (events_dir / ("%d-x.json" % event["counter"])).write_text(json.dumps(event))
    events = jobs.read_events(str(tmp_path))
    assert jobs.compiles(events) == ["vm1"]
    assert jobs.plan_lines(events) == {"vm1": "module: x, compiled once on vm1 for 6.1"}


def test_ca_fingerprint_is_over_the_der(tmp_path):
    path = tmp_path / "ca.crt"
    path.write_bytes(CA_PEM)
    prints = checks.ca_fingerprints(str(path))
    assert prints["sha256"].replace(":", "").lower() == __import__("hashlib").sha256(CA_DER).hexdigest()
    assert checks.ca_fingerprints(str(tmp_path / "absent.crt")) is None


CA = {"sha256": "AA:01", "file_sha1": "ca1"}
OTHER_CA = {"sha256": "BB:02", "file_sha1": "ca2"}
REPORT = tuple(checks.REPORT_FILES)


def _job(ident, playbook, compiled=(), plan=None, snapshot=None, status="successful", reports=REPORT):
    return {"ident": ident, "playbook": playbook, "status": status, "rc": 0 if status == "successful" else 2,
            "compiles": list(compiled), "plan_lines": plan or {}, "snapshot": snapshot,
            "report_files": list(reports) if playbook in checks.REPORTING_PLAYBOOKS else []}


def _snapshot(ca_sha1="ca1", cert=("c1", 100.0)):
    return {"vm1": {"/etc/openvpn/server/fleet/ca.crt": [ca_sha1, 50.0],
                    "/etc/openvpn/server/fleet/server.crt": list(cert)}}


def _rounds(**changes):
    first = {"jobs": [_job("r1-enable", "playbooks/enable_dco.yml", compiled=["vm1"],
                           plan={"vm1": "module: x, compiled once on vm1 for 6.1 (not in the controller cache /d)"}),
                      _job("r1-pki", checks.PKI_PLAYBOOK),
                      _job("r1-snap", jobs.SNAPSHOT, snapshot=_snapshot())], "ca": CA}
    second = {"jobs": [_job("r2-enable", "playbooks/enable_dco.yml", compiled=changes.get("compiled2", ()),
                            plan={"vm1": changes.get("plan2", "module: x, in the controller cache for 6.1")},
                            status=changes.get("status2", "successful"),
                            reports=changes.get("reports2", REPORT)),
                       _job("r2-pki", checks.PKI_PLAYBOOK),
                       _job("r2-snap", jobs.SNAPSHOT, snapshot=changes.get("snapshot2", _snapshot()))],
              "ca": changes.get("ca2", CA)}
    return [first, second]


def _failures(results):
    return [text for ok, text in results if ok is False]


def test_two_converging_rounds_pass_every_check():
    results = checks.check(_rounds(), None)
    assert _failures(results) == []
    assert [ok for ok, _text in results] == [True] * len(results)


@pytest.mark.parametrize("changes, ca_before, expected", [
    ({"status2": "failed"}, None, "did not succeed: r2-enable"),
    ({"ca2": OTHER_CA}, None, "CA: differs between rounds"),
    ({}, OTHER_CA, "CA: replaced"),
    ({"ca2": None}, None, "no ca.crt in the durable PKI dir after round 2"),
    ({"snapshot2": _snapshot(ca_sha1="ca-foreign")}, None, "not the durable CA"),
    ({"snapshot2": _snapshot(cert=("c2", 200.0))}, None, "changed between rounds"),
    ({"snapshot2": _snapshot(cert=("c1", 200.0))}, None, "changed between rounds"),
    ({"compiled2": ["vm1"]}, None, "compiled more than once: vm1"),
    ({"compiled2": ["vm2"]}, None, "compiled again after the first round"),
    ({"plan2": "module: x, compiled once on vm1 for 6.1 (not in the controller cache /d)"}, None,
     "no hit in later rounds for vm1"),
    ({"reports2": ["fleet.json"]}, None, "r2-enable lacks fleet.md, fleet.html, junit.xml"),
])
def test_each_broken_promise_fails_its_check(changes, ca_before, expected):
    failures = _failures(checks.check(_rounds(**changes), ca_before))
    assert any(expected in text for text in failures), failures


def test_without_a_pki_job_the_ca_checks_say_not_exercised():
    rounds = [{"jobs": [_job("r%d-health" % n, "playbooks/check_health.yml"),
                        _job("r%d-snap" % n, jobs.SNAPSHOT, snapshot={})], "ca": None} for n in (1, 2)]
    results = checks.check(rounds, None)
    assert _failures(results) == []
    assert (None, "CA: no %s job, the PKI was not exercised" % checks.PKI_PLAYBOOK) in results


def _refused_job(status="failed", failures=("dco_serial is '1,abc': expected batch sizes",), changed=()):
    return {"ident": "bad-survey-1", "status": status, "failures": list(failures), "changed": list(changed)}


@pytest.mark.parametrize("job, ok", [
    (_refused_job(), True),
    (_refused_job(status="successful", failures=()), False),      # the bad answer was accepted
    (_refused_job(failures=("unreachable",)), False),             # it failed, but not on the variable
    (_refused_job(changed=("vm1: Stop the OpenVPN units",)), False),  # it changed a host first
])
def test_a_bad_survey_answer_must_fail_naming_the_variable_and_change_nothing(job, ok):
    assert checks.refused_before_any_change(job, "dco_serial")[0] is ok


def test_changed_tasks_and_failure_messages_come_from_the_job_events():
    events = [
        {"event": "runner_on_ok", "event_data": {"host": "vm1", "task": "Write", "res": {"changed": True}}},
        {"event": "runner_on_ok", "event_data": {"host": "vm1", "task": "Read", "res": {"changed": False}}},
        {"event": "runner_on_failed", "event_data": {"host": "localhost", "task": "Check", "res": {"msg": "dco_serial is bad"}}},
    ]
    assert jobs.changed_tasks(events) == ["vm1: Write"]
    assert jobs.failure_messages(events) == ["dco_serial is bad"]
