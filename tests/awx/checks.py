# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What two rounds of jobs must show: pure functions over the job records and fingerprints."""

from __future__ import annotations

import base64
import hashlib
import os

REPORT_FILES = ("fleet.json", "fleet.md", "fleet.html", "junit.xml")
REPORTING_PLAYBOOKS = ("playbooks/enable_dco.yml", "playbooks/check_health.yml")
PKI_PLAYBOOK = "tests/integration/playbooks/server_client.yml"


def ca_fingerprints(path):
    """SHA-256 over the certificate's DER (what `openssl x509 -fingerprint -sha256` prints) and
    SHA-1 over the file (what the snapshot's find checksum is); None without a file."""
    try:
        with open(path, "rb") as handle:
            pem = handle.read()
    except FileNotFoundError:
        return None
    lines = pem.decode("ascii", errors="replace").splitlines()
    body = "".join(line for line in lines if line and not line.startswith("-----"))
    der = base64.b64decode(body)
    return {"sha256": ":".join("%02X" % byte for byte in hashlib.sha256(der).digest()),
            "file_sha1": hashlib.sha1(pem).hexdigest()}


def check(rounds, ca_before):
    """rounds: [{"jobs": [record, ...], "ca": fingerprints or None}, ...] in order.
    A list of (ok, text); ok is None for a check that this run did not exercise."""
    results = [_statuses(rounds)]
    ran_pki = any(job["playbook"] == PKI_PLAYBOOK for rnd in rounds for job in rnd["jobs"])
    if ran_pki:
        results.append(_one_ca(rounds, ca_before))
        results.extend(_host_certificates(rounds))
    else:
        results.append((None, "CA: no %s job, the PKI was not exercised" % PKI_PLAYBOOK))
    results.extend(_compiles(rounds))
    results.append(_reports(rounds))
    return results


def refused_before_any_change(job, variable):
    """A job given a wrong survey answer for ``variable`` must fail, name the variable, and
    change nothing on any host."""
    named = [message for message in job.get("failures", []) if variable in message]
    if job["status"] == "successful":
        return False, "bad survey answer: %s was accepted by %s" % (variable, job["ident"])
    if not named:
        return False, "bad survey answer: %s failed without naming %s: %s" % (
            job["ident"], variable, "; ".join(job.get("failures", [])) or "no failed task")
    if job.get("changed"):
        return False, "bad survey answer: %s changed %s before refusing" % (job["ident"], ", ".join(job["changed"]))
    return True, "bad survey answer: refused before any change: %s" % named[0][:160]


def _statuses(rounds):
    bad = ["%s (%s, rc %s)" % (job["ident"], job["status"], job["rc"])
           for rnd in rounds for job in rnd["jobs"]
           if job["status"] != "successful" or job["rc"] != 0]
    total = sum(len(rnd["jobs"]) for rnd in rounds)
    if bad:
        return False, "jobs: %d of %d did not succeed: %s" % (len(bad), total, ", ".join(bad))
    return True, "jobs: all %d succeeded" % total


def _one_ca(rounds, ca_before):
    prints = [rnd["ca"]["sha256"] if rnd["ca"] else None for rnd in rounds]
    if None in prints:
        return False, "CA: no ca.crt in the durable PKI dir after round %d" % (prints.index(None) + 1)
    if ca_before and ca_before["sha256"] != prints[0]:
        return False, "CA: replaced: %s before the jobs, %s after" % (ca_before["sha256"], prints[0])
    if len(set(prints)) != 1:
        return False, "CA: differs between rounds: %s" % ", ".join(prints)
    return True, "CA: one, %s (before: %s)" % (prints[0], ca_before["sha256"] if ca_before else "none")


def _snapshots(rounds):
    return [next((job["snapshot"] for job in reversed(rnd["jobs"]) if job.get("snapshot") is not None),
                 None) for rnd in rounds]


def _host_certificates(rounds):
    snapshots = _snapshots(rounds)
    if None in snapshots:
        return [(False, "certificates: round %d has no snapshot job output" % (snapshots.index(None) + 1))]
    results = []
    ca_sha1 = rounds[-1]["ca"]["file_sha1"] if rounds[-1]["ca"] else None
    foreign = ["%s:%s" % (host, path) for host, files in snapshots[-1].items()
               for path, (sha1, _mtime) in files.items()
               if os.path.basename(path) == "ca.crt" and sha1 != ca_sha1]
    ca_files = sum(1 for files in snapshots[-1].values() for path in files if path.endswith("/ca.crt"))
    if not ca_files:
        results.append((False, "hosts' CA files: none found under the role-made instances"))
    elif foreign:
        results.append((False, "hosts' CA files: not the durable CA: %s" % ", ".join(foreign)))
    else:
        results.append((True, "hosts' CA files: %d, all the durable CA" % ca_files))
    first, last = snapshots[0], snapshots[-1]
    changed = []
    for host in sorted(set(first) | set(last)):
        before, after = first.get(host, {}), last.get(host, {})
        for path in sorted(set(before) | set(after)):
            if before.get(path) != after.get(path):
                changed.append("%s:%s %s -> %s" % (host, path, before.get(path), after.get(path)))
    count = sum(len(files) for files in last.values())
    if changed:
        results.append((False, "certificates: changed between rounds (reissued or replaced): %s"
                        % "; ".join(changed)))
    else:
        results.append((True, "certificates: %d on the hosts, checksums and mtimes unchanged "
                        "between rounds" % count))
    return results


def _compiles(rounds):
    per_host = {}
    for rnd in rounds:
        for job in rnd["jobs"]:
            for host in job["compiles"]:
                per_host.setdefault(host, []).append(job["ident"])
    results = []
    twice = ["%s in %s" % (host, ", ".join(idents)) for host, idents in per_host.items() if len(idents) > 1]
    later = [(job["ident"], job["compiles"]) for rnd in rounds[1:] for job in rnd["jobs"] if job["compiles"]]
    if twice:
        results.append((False, "module builds: compiled more than once: %s" % "; ".join(twice)))
    elif later:
        results.append((False, "module builds: compiled again after the first round: %s" % later))
    else:
        total = sum(len(idents) for idents in per_host.values())
        results.append((True, "module builds: %d in total, all in round 1 (%s)"
                        % (total, ", ".join(sorted(per_host)) or "none")))
    cached = {host: line for rnd in rounds[1:] for job in rnd["jobs"]
              for host, line in job["plan_lines"].items()}
    not_hit = sorted(host for host, line in cached.items() if "compiled" in line)
    if not_hit:
        results.append((False, "module cache: no hit in later rounds for %s" % ", ".join(not_hit)))
    elif cached:
        results.append((True, "module cache: hit in later rounds for %d hosts" % len(cached)))
    else:
        results.append((None, "module cache: no kmod plan line in later rounds (no enable_dco job "
                        "or no source build)"))
    return results


def _reports(rounds):
    missing, seen = [], 0
    for rnd in rounds:
        for job in rnd["jobs"]:
            if job["playbook"] not in REPORTING_PLAYBOOKS:
                continue
            seen += 1
            absent = [name for name in REPORT_FILES if name not in job.get("report_files", [])]
            if absent:
                missing.append("%s lacks %s" % (job["ident"], ", ".join(absent)))
    if missing:
        return False, "reports: %s" % "; ".join(missing)
    if not seen:
        return None, "reports: no enable_dco or check_health job"
    return True, "reports: %s in the artifacts of all %d reporting jobs" % ("/".join(REPORT_FILES), seen)
