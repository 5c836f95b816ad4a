# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Throughput, CPU per gigabyte and latency, DCO against userspace.

Two setups, never mixed in one ratio:
- ``netns:VM``: inside one VM, an OpenVPN server and client of our own in two network
  namespaces over a veth pair (tests/bench/guest_netns.py), the same config with and without
  --disable-dco, throwaway keys made here with openssl. No emulated NIC in the path.
- ``ring``: between the two VMs through the lab's own tunnel (debian12-1's server, OpenVPN 2.6
  + ovpn-dco-v2, and debian13-bpo-1's client, 2.7 + ovpn) over the emulated LAN, after
  enable_dco and after disable_dco.
Runs alternate between the variants so each run pairs DCO with userspace taken minutes apart.
"""

from __future__ import annotations

import json
import os
import shlex
import statistics
import subprocess
import tempfile

from tests.bench import lab

GUEST_DIR = "/root/ovpnfleet-bench"
HERE = os.path.dirname(os.path.abspath(__file__))


def make_keys(directory):
    """A throwaway CA, server and client certificate (P-256), nothing kept after the bench."""
    def openssl(*argv):
        subprocess.run(["openssl"] + list(argv), cwd=directory, capture_output=True, check=True)
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
            "-subj", "/CN=bench-ca", "-keyout", "ca.key", "-out", "ca.crt",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    for name, usage in (("server", "serverAuth"), ("client", "clientAuth")):
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=bench-" + name,
                "-keyout", name + ".key", "-out", name + ".csr")
        with open(os.path.join(directory, name + ".ext"), "w", encoding="ascii") as handle:
            handle.write("basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=%s\n" % usage)
        openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                "-days", "2", "-extfile", name + ".ext", "-out", name + ".crt")
    os.unlink(os.path.join(directory, "ca.key"))


def guest(vm, *argv, timeout=600):
    out = lab.ssh(vm, "python3 %s/guest_netns.py %s" % (GUEST_DIR, " ".join(shlex.quote(str(a)) for a in argv)),
                  timeout=timeout)
    return json.loads(out.strip().splitlines()[-1])


def measure(vm, argv, seconds):
    """One guest measurement with the qemu process's CPU seconds on this machine around it."""
    before = lab.qemu_cpu_seconds(vm)
    out = guest(vm, *argv, timeout=seconds + 120)
    out["qemu_cpu_s"] = round(lab.qemu_cpu_seconds(vm) - before, 3)
    return out


def _record(samples, key, out):
    entry = samples.setdefault(key, {"mbit_s": [], "guest_cpu_s_per_gb": [], "qemu_cpu_s_per_gb": [], "lost_percent": []})
    gigabytes = out["bytes"] / 1e9
    entry["mbit_s"].append(out["bits_per_second"] / 1e6)
    entry["guest_cpu_s_per_gb"].append(out["guest_busy_cpu_s"] / gigabytes)
    entry["qemu_cpu_s_per_gb"].append(out["qemu_cpu_s"] / gigabytes)
    if out.get("lost_percent") is not None:
        entry["lost_percent"].append(out["lost_percent"])


def netns(vm, runs, seconds, protos, log=lab.log):
    """Per (mode, proto, direction): lists of Mbit/s and CPU s/GB, plus ping rtt medians."""
    with tempfile.TemporaryDirectory() as work:
        make_keys(work)
        for name in ("guest_netns.py",):
            subprocess.run(["cp", os.path.join(HERE, name), work], check=True)
        lab.push_dir(vm, work, GUEST_DIR)
    samples, info, failures = {}, {}, []
    try:
        for run in range(runs):
            for mode in ("userspace", "dco"):
                info[mode] = guest(vm, "up", GUEST_DIR, mode, timeout=180)
                for proto in protos:
                    for direction in ("up", "down"):
                        out = measure_or_skip(vm, ["iperf", proto, direction, seconds], seconds, log)
                        if out is None:
                            failures.append("%s run %d %s %s %s" % (vm, run + 1, mode, proto, direction))
                            continue
                        _record(samples, (mode, proto, direction), out)
                        log("  %s netns run %d %s %s %s: %.1f Mbit/s" % (
                            vm, run + 1, mode, proto, direction, out["bits_per_second"] / 1e6))
                rtts = guest(vm, "ping", 20)["rtt_ms"]
                samples.setdefault((mode, "ping", "rtt"), {"rtt_ms": []})["rtt_ms"].append(statistics.median(rtts))
    finally:
        guest(vm, "down")
        lab.ssh(vm, "rm -rf %s" % GUEST_DIR)
    info["failed_samples"] = failures
    return samples, info


def measure_or_skip(vm, argv, seconds, log):
    """One retry, then None: an unlimited UDP flood can starve iperf3's own TCP control
    connection in userspace mode ("unable to send control message"); that run is then missing
    from its figure (the figure's n says so) instead of ending the part."""
    for attempt in (1, 2):
        try:
            return measure(vm, argv, seconds)
        except RuntimeError as error:
            log("  %s %s: attempt %d failed: %s" % (vm, " ".join(str(a) for a in argv), attempt, str(error)[-200:]))
    return None


def ring(server_vm, client_vm, tunnel_address, runs, seconds, protos, label, log=lab.log):
    """Through the lab's own tunnel: iperf3 server on SERVER_VM's tunnel address, client on CLIENT_VM.

    CPU per GB is the sum over both VMs (guest busy seconds and qemu seconds): both ends work."""
    with tempfile.TemporaryDirectory() as work:
        subprocess.run(["cp", os.path.join(HERE, "guest_netns.py"), work], check=True)
        for vm in (server_vm, client_vm):
            lab.push_dir(vm, work, GUEST_DIR)
    samples = {}
    guest(server_vm, "serve", tunnel_address)
    try:
        for run in range(runs):
            for proto in protos:
                for direction in ("up", "down"):
                    server_before = lab.qemu_cpu_seconds(server_vm)
                    server_busy = _guest_busy(server_vm)
                    out = measure_or_skip(client_vm, ["iperf", proto, direction, seconds, tunnel_address], seconds, log)
                    if out is None:
                        continue
                    out["qemu_cpu_s"] += lab.qemu_cpu_seconds(server_vm) - server_before
                    out["guest_busy_cpu_s"] += _guest_busy(server_vm) - server_busy
                    _record(samples, (label, proto, direction), out)
                    log("  ring run %d %s %s %s: %.1f Mbit/s" % (
                        run + 1, label, proto, direction, out["bits_per_second"] / 1e6))
            rtts = guest(client_vm, "ping", 20, tunnel_address)["rtt_ms"]
            samples.setdefault((label, "ping", "rtt"), {"rtt_ms": []})["rtt_ms"].append(statistics.median(rtts))
    finally:
        guest(server_vm, "unserve")
    return samples


def _guest_busy(vm):
    fields = [int(v) for v in lab.ssh(vm, "head -1 /proc/stat").split()[1:9]]
    return (sum(fields) - fields[3] - fields[4]) / 100.0
