# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Runs INSIDE a lab VM (copied there by tests/bench/throughput.py): one OpenVPN server and one
client in two network namespaces joined by a veth pair, with DCO or with --disable-dco.

    python3 guest_netns.py up DIR dco|userspace
    python3 guest_netns.py iperf tcp|udp up|down SECONDS [ADDRESS]
    python3 guest_netns.py ping COUNT [ADDRESS]
    python3 guest_netns.py down
    python3 guest_netns.py serve ADDRESS | unserve      (iperf3 server for the lab ring)

Standard library only (Python 3.11 on Debian 12, 3.13 on Debian 13). Prints one JSON object.
Each measurement also returns the guest's busy CPU seconds (/proc/stat, all vCPUs) over it.
Nothing here touches the lab's own OpenVPN instances: own namespaces, own processes, own port.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

SERVER_NS, CLIENT_NS = "bench-srv", "bench-cli"
LINK_SERVER, LINK_CLIENT = "10.77.0.1", "10.77.0.2"
TUNNEL_SERVER = "10.78.0.1"
RUN = "/run/ovpnfleet-bench"


def sh(argv, check=True, timeout=120):
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=timeout)
    if check and done.returncode != 0:
        raise SystemExit("run %s: exit %d: %s" % (" ".join(argv), done.returncode, (done.stderr or done.stdout)[-800:]))
    return done


def netns(name, *argv, **kwargs):
    return sh(["ip", "netns", "exec", name] + list(argv), **kwargs)


def busy_seconds():
    # First line of /proc/stat: user nice system idle iowait irq softirq steal (USER_HZ ticks).
    with open("/proc/stat", encoding="ascii") as handle:
        fields = [int(value) for value in handle.readline().split()[1:9]]
    hertz = os.sysconf("SC_CLK_TCK")
    return (sum(fields) - fields[3] - fields[4]) / hertz


def openvpn_major_minor():
    first = sh(["openvpn", "--version"], check=False).stdout.splitlines()[0]
    match = re.search(r"OpenVPN (\d+)\.(\d+)", first)
    return int(match.group(1)), int(match.group(2))


def link_kind(namespace, device):
    shown = netns(namespace, "ip", "-d", "link", "show", "dev", device, check=False).stdout
    for kind in ("ovpn-dco", "ovpn", "tun"):
        if re.search(r"^\s+%s\b" % re.escape(kind), shown, re.M):
            return kind
    return "unknown"


def serve(address, namespace=None):
    unserve()
    os.makedirs(RUN, exist_ok=True)
    sh((["ip", "netns", "exec", namespace] if namespace else [])
       + ["iperf3", "-s", "-B", address, "-D", "-I", os.path.join(RUN, "iperf3.pid")])
    time.sleep(1)
    return {"serving": address}


def unserve():
    pidfile = os.path.join(RUN, "iperf3.pid")
    if os.path.exists(pidfile):
        with open(pidfile, encoding="ascii") as handle:
            text = handle.read().strip("\0 \n")
        if text.isdigit():
            try:
                os.kill(int(text), 15)
            except ProcessLookupError:
                pass
        # iperf3 removes its own pid file when it ends: it may be gone already.
        if os.path.exists(pidfile):
            os.unlink(pidfile)
        time.sleep(0.5)
    return {"serving": None}


def down():
    for name in ("server", "client"):
        pidfile = os.path.join(RUN, name + ".pid")
        if os.path.exists(pidfile):
            with open(pidfile, encoding="ascii") as handle:
                pid = int(handle.read().strip() or 0)
            if pid:
                try:
                    os.kill(pid, 15)
                except ProcessLookupError:
                    pass
            os.unlink(pidfile)
    unserve()
    for namespace in (SERVER_NS, CLIENT_NS):
        sh(["ip", "netns", "del", namespace], check=False)
    return {"down": True}


def up(keys, mode):
    down()
    os.makedirs(RUN, exist_ok=True)
    version = openvpn_major_minor()
    module = "ovpn" if version >= (2, 7) else "ovpn-dco-v2"
    if mode == "dco":
        sh(["modprobe", module])
    for namespace in (SERVER_NS, CLIENT_NS):
        sh(["ip", "netns", "add", namespace])
        netns(namespace, "ip", "link", "set", "lo", "up")
    sh(["ip", "link", "add", "bench-s", "netns", SERVER_NS, "type", "veth", "peer", "name", "bench-c", "netns", CLIENT_NS])
    netns(SERVER_NS, "ip", "addr", "add", LINK_SERVER + "/24", "dev", "bench-s")
    netns(CLIENT_NS, "ip", "addr", "add", LINK_CLIENT + "/24", "dev", "bench-c")
    netns(SERVER_NS, "ip", "link", "set", "bench-s", "up")
    netns(CLIENT_NS, "ip", "link", "set", "bench-c", "up")
    common = ["openvpn", "--dev-type", "tun", "--proto", "udp", "--port", "1194", "--topology", "subnet",
              "--data-ciphers", "AES-256-GCM", "--ca", os.path.join(keys, "ca.crt"), "--verb", "4", "--daemon"]
    if mode == "userspace":
        common.append("--disable-dco")
    netns(SERVER_NS, *common, "--dev", "bsrv0", "--local", LINK_SERVER, "--server", "10.78.0.0", "255.255.255.0",
          "--cert", os.path.join(keys, "server.crt"), "--key", os.path.join(keys, "server.key"), "--dh", "none",
          "--keepalive", "10", "60", "--writepid", os.path.join(RUN, "server.pid"), "--log", os.path.join(RUN, "server.log"))
    netns(CLIENT_NS, *common, "--dev", "bcli0", "--client", "--nobind", "--remote", LINK_SERVER, "1194",
          "--remote-cert-tls", "server", "--cert", os.path.join(keys, "client.crt"),
          "--key", os.path.join(keys, "client.key"),
          "--writepid", os.path.join(RUN, "client.pid"), "--log", os.path.join(RUN, "client.log"))
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if netns(CLIENT_NS, "ping", "-c", "1", "-W", "1", TUNNEL_SERVER, check=False).returncode == 0:
            break
        time.sleep(1)
    else:
        raise SystemExit("bring up the bench tunnel: no answer from %s in 90 s; see %s/*.log" % (TUNNEL_SERVER, RUN))
    kinds = {"server": link_kind(SERVER_NS, "bsrv0"), "client": link_kind(CLIENT_NS, "bcli0")}
    carried = "dco" if all(kind.startswith("ovpn") for kind in kinds.values()) else (
        "userspace" if all(kind == "tun" for kind in kinds.values()) else "mixed")
    if carried != mode:
        raise SystemExit("bring up the bench tunnel in %s: the devices are %s; see %s/*.log" % (mode, kinds, RUN))
    serve(TUNNEL_SERVER, SERVER_NS)
    return {"mode": mode, "openvpn": "%d.%d" % version, "module": module if mode == "dco" else None,
            "devices": kinds, "kernel": os.uname().release}


def iperf(proto, direction, seconds, address=TUNNEL_SERVER, namespace=CLIENT_NS):
    argv = ["iperf3", "-c", address, "-t", str(seconds), "-J"]
    if direction == "down":
        argv.append("-R")
    if proto == "udp":
        # Unlimited offered load; the received rate and the loss are the result.
        argv += ["-u", "-b", "0", "-l", "1300"]
    before = busy_seconds()
    done = sh((["ip", "netns", "exec", namespace] if namespace else []) + argv, check=False, timeout=seconds + 60)
    busy = busy_seconds() - before
    try:
        report = json.loads(done.stdout)
    except ValueError:
        raise SystemExit("run iperf3 to %s: no JSON (exit %d): %s" % (address, done.returncode, done.stderr[-400:]))
    if report.get("error"):
        raise SystemExit("run iperf3 to %s: %s" % (address, report["error"]))
    end = report["end"]
    received = end.get("sum_received") or end.get("sum")
    result = {"bits_per_second": received["bits_per_second"], "bytes": received["bytes"],
              "seconds": received["seconds"], "guest_busy_cpu_s": round(busy, 3)}
    if proto == "udp":
        result["lost_percent"] = end.get("sum", {}).get("lost_percent")
    return result


def ping(count, address=TUNNEL_SERVER, namespace=CLIENT_NS):
    argv = ["ping", "-n", "-c", str(count), "-i", "0.2", address]
    done = sh((["ip", "netns", "exec", namespace] if namespace else []) + argv, check=False, timeout=count + 30)
    times = [float(value) for value in re.findall(r"time=([0-9.]+) ms", done.stdout)]
    if not times:
        raise SystemExit("ping %s: no reply: %s" % (address, done.stdout[-300:]))
    return {"rtt_ms": times, "sent": count}


def main(argv):
    command = argv[0]
    if command == "up":
        out = up(argv[1], argv[2])
    elif command == "iperf":
        extra = {"address": argv[4], "namespace": None} if len(argv) > 4 else {}
        out = iperf(argv[1], argv[2], int(argv[3]), **extra)
    elif command == "ping":
        extra = {"address": argv[2], "namespace": None} if len(argv) > 2 else {}
        out = ping(int(argv[1]), **extra)
    elif command == "serve":
        out = serve(argv[1])
    elif command == "unserve":
        out = unserve()
    elif command == "down":
        out = down()
    else:
        raise SystemExit("usage: see the docstring")
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])
