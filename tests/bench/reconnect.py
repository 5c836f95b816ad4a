# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How long a client is cut off while its server restarts, three ways, with real OpenVPN.

A legacy server config without ``explicit-exit-notify`` restarts without a word to its clients;
they come back only at their ``ping-restart``. The rollout has two ways to bring that forward:
``openvpn_restart`` tells the clients through the server's management socket before the
restart (``client-kill CID RESTART``), and the rollout sends its own run's clients SIGUSR1 after
it. This part runs an OpenVPN server and client in two network namespaces on this machine,
pings the server's tunnel address from the client every 0.1 s, restarts the server the way
``systemctl restart`` does (SIGTERM, then a new process) and takes the longest gap between
answers, for:

- ``none``: nothing tells the client (the brownfield's case);
- ``management``: ``openvpn_restart``'s own code tells the clients 0.3 s before the restart;
- ``signal``: the client gets SIGUSR1 once the new server is up.

Userspace only (this machine cannot load modules); the outage is the control channel's story,
which DCO does not change. ``keepalive 5 30`` keeps the ``none`` case short: with the lab's
``keepalive 10 120`` it is about 120 s instead of 30 s.

    python3 -m tests.bench.reconnect [--runs 3]    # root; installs openvpn and ping where missing
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from tests.bench import stats

SERVER_NS, CLIENT_NS = "ovpnfleet-rc-srv", "ovpnfleet-rc-cli"
SERVER_LAN, CLIENT_LAN = "192.0.2.101", "192.0.2.102"
SERVER_TUNNEL = "10.99.0.1"
KEEPALIVE = ("5", "30")
MODES = ("none", "management", "signal")
SETTLE = 0.3


def sh(argv, **kwargs):
    return subprocess.run(argv, check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs).stdout


def ensure_tools():
    """OpenVPN and ping from Debian's packages, where this machine lacks them; OpenVPN's version."""
    missing = [package for binary, package in (("openvpn", "openvpn"), ("ping", "iputils-ping")) if shutil.which(binary) is None]
    if missing:
        subprocess.run(["apt-get", "install", "-y", "--no-install-recommends"] + missing, check=True,
                       env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    return sh(["openvpn", "--version"]).splitlines()[0]


def make_pki(directory):
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

    def path(name):
        return os.path.join(directory, name)

    sh(["openssl", "req", "-x509"] + key
       + ["-keyout", path("ca.key"), "-out", path("ca.crt"), "-days", "2", "-subj", "/CN=reconnect bench CA"])
    for name, usage in (("server", "serverAuth"), ("client", "clientAuth")):
        sh(["openssl", "req"] + key + ["-keyout", path(name + ".key"), "-out", path(name + ".csr"), "-subj", "/CN=" + name])
        with open(path(name + ".ext"), "w") as handle:
            handle.write("basicConstraints=CA:FALSE\nextendedKeyUsage=%s\n" % usage)
        sh(["openssl", "x509", "-req", "-in", path(name + ".csr"), "-CA", path("ca.crt"), "-CAkey", path("ca.key"),
            "-CAcreateserial", "-out", path(name + ".crt"), "-days", "2", "-extfile", path(name + ".ext")])
    for name in ("ca.key", "server.key", "client.key"):
        os.chmod(path(name), 0o600)


def netns_up():
    netns_down()
    sh(["ip", "netns", "add", SERVER_NS])
    sh(["ip", "netns", "add", CLIENT_NS])
    sh(["ip", "link", "add", "rc-srv", "netns", SERVER_NS, "type", "veth", "peer", "name", "rc-cli", "netns", CLIENT_NS])
    for ns, dev, address in ((SERVER_NS, "rc-srv", SERVER_LAN), (CLIENT_NS, "rc-cli", CLIENT_LAN)):
        sh(["ip", "-n", ns, "addr", "add", address + "/24", "dev", dev])
        sh(["ip", "-n", ns, "link", "set", dev, "up"])
        sh(["ip", "-n", ns, "link", "set", "lo", "up"])


def netns_down():
    for ns in (SERVER_NS, CLIENT_NS):
        pids = subprocess.run(["ip", "netns", "pids", ns], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                              check=False).stdout.split()
        for pid in pids:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass
        subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL, check=False)


class Server:
    """The legacy server: no explicit-exit-notify, a unix management socket."""

    def __init__(self, directory):
        self.directory = directory
        self.socket = os.path.join(directory, "server.sock")
        self.process = None
        self.starts = 0

    def start(self):
        self.starts += 1
        log = os.path.join(self.directory, "server-%d.log" % self.starts)
        self.process = subprocess.Popen(
            ["ip", "netns", "exec", SERVER_NS, "openvpn", "--dev", "tun", "--proto", "udp", "--port", "1194",
             "--topology", "subnet", "--server", "10.99.0.0", "255.255.255.0", "--keepalive"] + list(KEEPALIVE)
            + ["--ca", os.path.join(self.directory, "ca.crt"), "--cert", os.path.join(self.directory, "server.crt"),
               "--key", os.path.join(self.directory, "server.key"), "--dh", "none",
               "--management", self.socket, "unix", "--verb", "3", "--log", log],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_line(log, "Initialization Sequence Completed", 30)

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)


class Client:
    def __init__(self, directory):
        self.log = os.path.join(directory, "client.log")
        self.process = subprocess.Popen(
            ["ip", "netns", "exec", CLIENT_NS, "openvpn", "--client", "--dev", "tun", "--proto", "udp",
             "--remote", SERVER_LAN, "1194", "--nobind", "--ca", os.path.join(directory, "ca.crt"),
             "--cert", os.path.join(directory, "client.crt"), "--key", os.path.join(directory, "client.key"),
             "--verb", "3", "--log", self.log],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_line(self.log, "Initialization Sequence Completed", 30)

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)


def wait_for_line(path, text, timeout, after=0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(path):
            with open(path, errors="replace") as handle:
                if handle.read().count(text) > after:
                    return
        time.sleep(0.05)
    raise RuntimeError("%s: no %r within %d s" % (path, text, timeout))


def openvpn_pid_in(ns):
    pids = sh(["ip", "netns", "pids", ns]).split()
    return next(int(pid) for pid in pids if open("/proc/%s/comm" % pid).read().strip() == "openvpn")


def one_restart(server, mode):
    """Restart the server once; return the client's longest gap between ping answers, in seconds."""
    ping = subprocess.Popen(["ip", "netns", "exec", CLIENT_NS, "ping", "-D", "-n", "-i", "0.1", SERVER_TUNNEL],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    os.set_blocking(ping.stdout.fileno(), False)
    answers, pending = [], ""  # ping -D times of the answers

    def read_answers():
        nonlocal pending
        pending += (ping.stdout.read() or b"").decode("ascii", "replace")
        *lines, pending = pending.split("\n")
        answers.extend(float(line[1:line.index("]")]) for line in lines if "bytes from" in line)

    time.sleep(2)
    told = None
    if mode == "management":
        told = _restart().tell_clients_to_reconnect(server.socket)
        time.sleep(SETTLE)
    server.stop()
    server.start()
    if mode == "signal":
        os.kill(openvpn_pid_in(CLIENT_NS), signal.SIGUSR1)
    # Done once the client has answered for 2 s after its longest gap; at the latest, ping-restart
    # plus 20 s (then the longest gap so far is the figure, and it says so by its size).
    deadline = time.monotonic() + int(KEEPALIVE[1]) + 20
    while time.monotonic() < deadline:
        time.sleep(0.2)
        read_answers()
        gap = longest_gap(answers)
        if gap and gap[0] > 0.3 and answers[-1] - gap[1] >= 2:
            break
    ping.terminate()
    ping.wait()
    gap = longest_gap(answers)
    return {"outage_s": round(gap[0], 2) if gap else None, "clients_told": told}


def longest_gap(times):
    """(seconds, time of the answer that ended it) of the longest gap between answers; None for fewer than two."""
    gaps = [(later - earlier, later) for earlier, later in zip(times, times[1:])]
    return max(gaps) if gaps else None


def _restart():
    """openvpn_restart's own code (plugins/module_utils/tunnels/_restart.py), through the
    collection link ``make`` keeps in .tmp/collections."""
    try:
        from ansible_collections.ovpnfleet.dco.plugins.module_utils.tunnels import _restart as module
    except ImportError:
        sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", ".tmp", "collections"))
        from ansible_collections.ovpnfleet.dco.plugins.module_utils.tunnels import _restart as module
    return module


def measure(runs):
    version = ensure_tools()
    directory = tempfile.mkdtemp(prefix="ovpnfleet-reconnect-")
    make_pki(directory)
    netns_up()
    server = Server(directory)
    server.start()
    client = Client(directory)
    rows = {mode: [] for mode in MODES}
    try:
        for _run in range(runs):
            for mode in MODES:
                outcome = one_restart(server, mode)
                rows[mode].append(outcome)
                told = "" if outcome["clients_told"] is None else ", clients told: %d" % outcome["clients_told"]
                print("  %-10s outage %s s%s" % (mode, outcome["outage_s"], told), flush=True)
    finally:
        client.stop()
        server.stop()
        netns_down()
        shutil.rmtree(directory, ignore_errors=True)
    return {"openvpn": version, "keepalive": " ".join(KEEPALIVE), "settle_s": SETTLE, "runs": runs,
            "modes": {mode: {"outages_s": [row["outage_s"] for row in rows[mode]],
                             "summary": stats.summarize([row["outage_s"] for row in rows[mode] if row["outage_s"] is not None] or [0]),
                             "clients_told": [row["clients_told"] for row in rows[mode]]} for mode in MODES}}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python3 -m tests.bench.reconnect", description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", help="also write the result to this file")
    args = parser.parse_args(argv)
    result = measure(args.runs)
    print("\nclient outage while its server restarts (%s, keepalive %s, %d runs; userspace, one machine)"
          % (result["openvpn"].split(" x86_64")[0], result["keepalive"], args.runs))
    print("%-12s %10s %8s %8s  %s" % ("told by", "median s", "min s", "max s", "ratio to none"))
    baseline = result["modes"]["none"]["summary"]["median"]
    for mode, row in result["modes"].items():
        summary = row["summary"]
        print("%-12s %10.2f %8.2f %8.2f  %s" % (mode, summary["median"], summary["min"], summary["max"],
                                                "%.3f" % (summary["median"] / baseline) if baseline else "-"))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(result, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
