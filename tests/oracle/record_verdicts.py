# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ask real openvpn what it does with DCO for every config of the corpus.

Each ``*.conf`` of tests/unit/fixtures/openvpn_configs/ runs as
``openvpn --cd WORK --config NAME.conf --verb 4`` in a network namespace of its own (only
``lo``, so nothing leaves it), next to a throwaway PKI the configs name (ca.crt,
server.crt/key, client.crt/key, static.key). The run stops when openvpn exits, completes its
initialisation, or a few seconds after it printed its DCO version; then it is killed and the
namespace deleted. What counts is kept: the ``... data channel offload`` notes, the
``disable_dco = ENABLED|DISABLED`` line of the options dump, the fatal error, whether a DCO
device was opened, and ``cause``: the line openvpn exited on (its ``Options error:`` line, or
the message of a fatal error such as a removed option).

  python3 tests/oracle/record_verdicts.py run --label LABEL [--chroot DIR] [--only NAME...]
      [--output FILE]
      on this machine (root; ``--chroot`` runs the openvpn of a debootstrapped tree, which
      needs /dev/net/tun: ``mknod DIR/dev/net/tun c 10 200``); ``--only`` takes names or
      shell patterns (``'refuse-*'``) and the run keeps them as its ``only`` scope
  python3 tests/oracle/record_verdicts.py lab HOST --label LABEL [--modprobe MODULE] [--output FILE]
      on a lab VM, through ``python3 -m tests.lab ssh``
  python3 tests/oracle/record_verdicts.py merge RUN.json... [--verdicts FILE]
      put runs into verdicts.json, replacing runs with the same label

Standard library only, so the same file runs on the lab VMs.
"""

from __future__ import annotations

import argparse
import datetime
import fnmatch
import io
import json
import os
import platform
import re
import select
import shlex
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(REPO, "tests", "unit", "fixtures", "openvpn_configs")
VERDICTS = os.path.join(CORPUS, "verdicts.json")

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?: us=\d+)? ")
DUMP = re.compile(r"^\s*(?:tuntap_options\.)?disable_dco = (ENABLED|DISABLED)$")
KEEP = re.compile(r"data channel offload|--compress migrate|--mktun|DCO|Options error|"
                  r"Options warning|ERROR|WARNING|Unrecognized option|You must define|"
                  r"cannot be used|DEPRECAT|Exiting due|Cannot |not allowed|conflicts|requires|"
                  r"must|unsupported|Note:", re.IGNORECASE)
FATAL = re.compile(r"^(?:Options error:|Options warning:|ERROR:|OpenSSL: error|Exiting due to)|"
                   r"Unrecognized option|You must define")
KERNEL_MISSING = re.compile(r"^Note: Kernel support for ovpn(?:-dco| interfaces) missing")
NOTE = re.compile(r"(disabl\w+ data channel offload|Disabling data channel offload|"
                  r"^Consider using the '--compress migrate' option\.$|"
                  r"^Note: --mktun does not support DCO)")


def sh(argv, **kwargs):
    return subprocess.run(argv, capture_output=True, text=True, check=False, **kwargs)


# The PKI the corpus names: an EC CA, a server and a client certificate, a static key.

def make_pki(directory, openvpn_argv, inside=None):
    """Write the PKI into directory; ``inside`` is that directory as openvpn_argv sees it."""
    os.makedirs(directory, exist_ok=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

    def run(argv):
        result = sh(argv, cwd=directory)
        if result.returncode != 0:
            raise SystemExit("make the oracle PKI: %s failed: %s" % (" ".join(argv), result.stderr))

    run(["openssl", "req", "-x509"] + ec + ["-keyout", "ca.key", "-out", "ca.crt",
                                            "-subj", "/CN=ovpnfleet oracle CA", "-days", "30"])
    for name, usage in (("server", "serverAuth"), ("client", "clientAuth")):
        extensions = os.path.join(directory, name + ".ext")
        with open(extensions, "w") as handle:
            handle.write("extendedKeyUsage=%s\nkeyUsage=digitalSignature,keyAgreement\n" % usage)
        run(["openssl", "req"] + ec + ["-keyout", name + ".key", "-out", name + ".csr",
                                       "-subj", "/CN=oracle-" + name])
        run(["openssl", "x509", "-req", "-in", name + ".csr", "-CA", "ca.crt", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", name + ".crt", "-days", "30", "-extfile", extensions])
    result = sh(openvpn_argv + ["--genkey", "secret", os.path.join(inside or directory, "static.key")])
    if result.returncode != 0:
        raise SystemExit("make the oracle static key: %s" % result.stderr)


# One openvpn run in a namespace of its own.

class Namespace:
    def __init__(self, name):
        self.name = name

    def __enter__(self):
        sh(["ip", "netns", "del", self.name])
        result = sh(["ip", "netns", "add", self.name])
        if result.returncode != 0:
            raise SystemExit("ip netns add %s: %s" % (self.name, result.stderr.strip()))
        sh(["ip", "-n", self.name, "link", "set", "lo", "up"])
        return self

    def __exit__(self, *exc):
        sh(["ip", "netns", "del", self.name])


def run_openvpn(argv, timeout, settle):
    """Run argv, return (lines, rc or None when it was stopped)."""
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, start_new_session=True)
    lines, buffer = [], b""
    deadline = time.monotonic() + timeout
    settle_at = None
    rc = None
    while True:
        now = time.monotonic()
        limit = min(deadline, settle_at) if settle_at else deadline
        if now >= limit:
            break
        ready = select.select([process.stdout], [], [], limit - now)[0]
        if not ready:
            continue
        chunk = os.read(process.stdout.fileno(), 65536)
        if not chunk:
            rc = process.wait()
            break
        buffer += chunk
        *complete, buffer = buffer.split(b"\n")
        for raw in complete:
            line = TIMESTAMP.sub("", raw.decode("utf-8", errors="replace").rstrip("\r"))
            lines.append(line)
            if line.startswith("DCO version:") and settle_at is None:
                settle_at = time.monotonic() + settle
            if "Initialization Sequence Completed" in line:
                settle_at = time.monotonic()
    if rc is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=3)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        except ProcessLookupError:
            process.wait()
    if buffer:
        lines.append(TIMESTAMP.sub("", buffer.decode("utf-8", errors="replace")))
    return lines, rc


def observe(lines, rc):
    """What openvpn said about DCO, from its log."""
    refused = rc not in (None, 0)
    notes = [line for line in lines if NOTE.search(line) and not KERNEL_MISSING.match(line)]
    dump = [match.group(1) for match in (DUMP.match(line) for line in lines) if match]
    fatal = [line for line in lines if FATAL.search(line)] if refused else []
    devices = [match.group(1) for match in (re.match(r"^DCO device (\S+) opened", line)
                                            for line in lines) if match]
    cause = None
    if refused:
        # M_USAGE prints "Options error: ..." last; M_FATAL prints its message, then "Exiting".
        options = [line for line in lines if line.startswith("Options error: ")
                   and line != "Options error: Please correct these errors."]
        exiting = [index for index, line in enumerate(lines) if line.startswith("Exiting due to")]
        if options:
            cause = options[0]
        elif exiting and exiting[0] > 0:
            cause = lines[exiting[0] - 1]
    observed = {
        "rc": rc,
        "refused": refused,
        "fatal": fatal,
        "cause": cause,
        "notes": notes,
        "kernel_missing": any(KERNEL_MISSING.match(line) for line in lines),
        "disable_dco": dump[-1] if dump else None,
        "dco_device_opened": bool(devices),
        "log": [line for line in lines if KEEP.search(line)][:40],
    }
    observed["verdict"] = verdict(observed)
    return observed


def verdict(observed):
    if observed["refused"]:
        return "refused"
    if observed["notes"]:
        return "dco_disabled"
    if observed["kernel_missing"]:
        return "options_allow_dco"       # only the missing kernel module stood in the way
    if observed["disable_dco"] == "DISABLED":
        return "dco_enabled"
    return "dco_disabled"                 # disable_dco = ENABLED without a note: --disable-dco


def provenance(label, root, openvpn_argv, only=None):
    version = sh(openvpn_argv + ["--version"]).stdout.splitlines()
    release = os.path.join(root or "/", "etc", "os-release")
    distro = None
    if os.path.exists(release):
        with open(release) as handle:
            for line in handle:
                if line.startswith("PRETTY_NAME="):
                    distro = line.split("=", 1)[1].strip().strip('"')
    return {
        "label": label,
        "host": platform.node(),
        "distro": distro,
        "chroot": root,
        "kernel": platform.release(),
        "openvpn": version[0] if version else None,
        "openvpn_version": version[0].split()[1] if version else None,
        "dco_version_line": next((line for line in version if line.startswith("DCO version")), None),
        "modules_loaded": {name: os.path.isdir("/sys/module/" + name)
                           for name in ("ovpn_dco_v2", "ovpn")},
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": "openvpn --cd WORK --config NAME.conf --verb 4 (in its own netns)",
        "only": sorted(only) if only else None,
    }


def cmd_run(args):
    root = os.path.abspath(args.chroot) if args.chroot else None
    openvpn_argv = (["chroot", root] if root else []) + [args.openvpn]
    base = tempfile.mkdtemp(prefix="ovpnfleet-oracle-", dir=os.path.join(root, "tmp") if root else None)
    inside = "/" + os.path.relpath(base, root) if root else base
    try:
        if args.pki:
            shutil.copytree(args.pki, base, dirs_exist_ok=True)
        else:
            make_pki(base, openvpn_argv, inside)
        for name in os.listdir(args.configs):
            if name.endswith((".conf", ".inc")):
                shutil.copy(os.path.join(args.configs, name), base)
        names = sorted(name for name in os.listdir(args.configs) if name.endswith(".conf"))
        if args.only:
            names = [name for name in names
                     if any(fnmatch.fnmatchcase(name[:-5], pattern) for pattern in args.only)]
        results = {"run": provenance(args.label, root, openvpn_argv, args.only), "configs": {}}
        for index, name in enumerate(names):
            argv = ["ip", "netns", "exec", "ovpnfleet-oracle-%d" % index] + openvpn_argv + [
                "--cd", inside, "--config", name, "--verb", "4"]
            with Namespace("ovpnfleet-oracle-%d" % index):
                lines, rc = run_openvpn(argv, args.timeout, args.settle)
            observed = observe(lines, rc)
            results["configs"][name[:-5]] = observed
            print("%-40s %s %s" % (name, observed["verdict"], (observed["notes"] or observed["fatal"] or [""])[0][:90]),
                  file=sys.stderr)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    text = json.dumps(results, indent=1, sort_keys=True) + "\n"
    if args.output in (None, "-"):
        sys.stdout.write(text)
    else:
        with open(args.output, "w") as handle:
            handle.write(text)


def cmd_lab(args):
    """Copy this script, the corpus and a PKI to a lab VM, run there, bring the JSON back."""
    lab = [sys.executable, "-m", "tests.lab", "ssh", args.host, "--"]
    remote = "/tmp/ovpnfleet-oracle"
    with tempfile.TemporaryDirectory() as pki:
        make_pki(pki, ["openvpn"])
        data = io.BytesIO()
        with tarfile.open(fileobj=data, mode="w") as tar:
            tar.add(os.path.abspath(__file__), "record_verdicts.py")
            tar.add(args.configs, "configs", filter=lambda info: None if info.name.endswith(".json") else info)
            tar.add(pki, "pki")
        unpack = "rm -rf %s && mkdir -p %s && tar -x -C %s" % (remote, remote, remote)
        subprocess.run(lab + [unpack], input=data.getvalue(), check=True, cwd=REPO)
    if args.modprobe:
        subprocess.run(lab + ["modprobe " + args.modprobe], check=True, cwd=REPO)
    command = "python3 %s/record_verdicts.py run --label %s --configs %s/configs --pki %s/pki --output -" % (
        remote, args.label, remote, remote)
    if args.only:
        command += " --only " + " ".join(shlex.quote(pattern) for pattern in args.only)
    result = subprocess.run(lab + [command], stdout=subprocess.PIPE, check=True, cwd=REPO)
    with open(args.output or "%s.json" % args.label, "wb") as handle:
        handle.write(result.stdout)


def cmd_merge(args):
    with open(args.verdicts) as handle:
        verdicts = json.load(handle) if os.path.getsize(args.verdicts) else {}
    verdicts.setdefault("runs", {})
    verdicts.setdefault("configs", {})
    for path in args.runs:
        with open(path) as handle:
            run = json.load(handle)
        label = run["run"]["label"]
        verdicts["runs"][label] = run["run"]
        for name, observed in run["configs"].items():
            verdicts["configs"].setdefault(name, {})[label] = observed
    with open(args.verdicts, "w") as handle:
        json.dump(verdicts, handle, indent=1, sort_keys=True)
        handle.write("\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the corpus under this machine's openvpn")
    run.add_argument("--label", required=True)
    run.add_argument("--chroot")
    run.add_argument("--openvpn", default="openvpn")
    run.add_argument("--configs", default=CORPUS)
    run.add_argument("--pki", help="a directory with ca.crt, server.*, client.*, static.key")
    run.add_argument("--only", nargs="+", help="config names without .conf, or shell patterns")
    run.add_argument("--timeout", type=float, default=10.0)
    run.add_argument("--settle", type=float, default=1.5,
                     help="seconds to wait for more lines after 'DCO version:'")
    run.add_argument("--output")
    run.set_defaults(func=cmd_run)
    lab = sub.add_parser("lab", help="run the corpus on a lab VM")
    lab.add_argument("host")
    lab.add_argument("--label", required=True)
    lab.add_argument("--modprobe", help="load this module first (ovpn-dco-v2 or ovpn)")
    lab.add_argument("--configs", default=CORPUS)
    lab.add_argument("--only", nargs="+")
    lab.add_argument("--output")
    lab.set_defaults(func=cmd_lab)
    merge = sub.add_parser("merge", help="merge run files into verdicts.json")
    merge.add_argument("runs", nargs="+")
    merge.add_argument("--verdicts", default=VERDICTS)
    merge.set_defaults(func=cmd_merge)
    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
