# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A STAND-IN for OpenVPN Access Server's ``sacli``, for the ovpnfleet lab only. NOT Access Server.

Installed on a lab VM as /usr/local/openvpn_as/scripts/sacli by ``python3 -m
tests.lab.access_server_standin install``, inside a dummy ``openvpn-as`` package whose version
says ``standin``. It implements only the contract the collection relies on (issue 15), with our
own code and formats as tests/unit/fixtures/access_server/README.md lists them:

  sacli ConfigQuery                      the store, a flat JSON object of strings
  sacli --key K --value V ConfigPut      store the string; validates nothing, restarts nothing
  sacli start                            (re)start the daemons from the store, wait for them
  sacli status                           JSON with service_status: api, openvpn_0, ...
  sacli VPNSummary                       n_clients, ovpn_dco_available, ovpn_dco_ver
  sacli stop                             stop the daemons (the API stays): the kmod role's module
                                         swap uses it, beyond issue 15's contract

``sacli _supervise`` is what the ``openvpnas`` unit runs (the stand-in's "API"): it starts real
``/usr/sbin/openvpn`` servers, ``vpn.server.daemon.tcp.n_daemons`` on ``as0t0..`` and
``...udp.n_daemons`` on ``as0u0..`` (default one per core each), with ``disable-dco`` unless
``vpn.server.daemon.ovpndco`` is on, and restarts them all on SIGHUP (what ``sacli start`` sends).
Where it differs from Access Server: every daemon has a port of its own (``port + n``) and a /24 of
its own out of ``vpn.daemon.0.client.network``; there is no web UI, no user database, no
privilege drop. A file /usr/local/openvpn_as/etc/standin-fault holding ``dco-userspace`` makes the
daemons start in userspace whatever the key says: the lab's way to fail a DCO health gate.
Python 3 standard library only (Debian 12 and 13 run it).
"""

from __future__ import annotations

import ipaddress
import json
import os
import signal
import subprocess
import sys
import time

PREFIX = "/usr/local/openvpn_as"
STORE = PREFIX + "/etc/config-standin.json"
INFO = PREFIX + "/etc/standin.json"
FAULT = PREFIX + "/etc/standin-fault"
TMP = PREFIX + "/etc/tmp"
PKI = PREFIX + "/etc/web-ssl"
RUN = "/run/openvpnas-standin"
STATE = RUN + "/state.json"
LOG = "/var/log/openvpnas.log"
OPENVPN = "/usr/sbin/openvpn"
SYS = "/sys"
DCO_KEY = "vpn.server.daemon.ovpndco"
START_TIMEOUT = 60

DAEMON_CONFIG = """\
# Written by the Access Server STAND-IN of the ovpnfleet lab (not by Access Server), again on
# every sacli start, from {store}.
dev {dev}
dev-type tun
proto {proto}
port {port}
topology subnet
server {network} {netmask}
keepalive 5 30
ca {pki}/ca.crt
cert {pki}/server.crt
key {pki}/server.key
dh none
data-ciphers AES-256-GCM:AES-128-GCM:CHACHA20-POLY1305
status {tmp}/{dev}.status 5
status-version 2
log-append {log}
verb 3
"""


def truthy(value):
    return str(value).strip().lower() in ("true", "1", "yes", "on")


def version():
    """(major, minor) of the stand-in's Access Server version, from what install wrote."""
    try:
        with open(INFO) as handle:
            text = json.load(handle)["version"]
    except (OSError, ValueError, KeyError):
        return (0, 0)
    parts = text.split("-")[0].split(".")
    return (int(parts[0]), int(parts[1]))


def dco_module():
    """The module this Access Server version uses: ovpn-dco before 3.2, ovpn from 3.2 (AS docs)."""
    return "ovpn" if version() >= (3, 2) else "ovpn_dco_v2"


def load_store():
    try:
        with open(STORE) as handle:
            store = json.load(handle)
    except FileNotFoundError:
        return {}
    return {str(key): str(value) for key, value in store.items()}


def save_store(store):
    partial = STORE + ".partial"
    with open(partial, "w") as handle:
        json.dump(store, handle, indent=2, sort_keys=True)
        handle.write("\n")
    os.chmod(partial, 0o600)
    os.replace(partial, STORE)


def dco_wanted(store, major_minor):
    """The key decides; unset, Access Server's documented default: off before 3.0, on from 3.0."""
    if DCO_KEY in store:
        return truthy(store[DCO_KEY])
    return major_minor >= (3, 0)


def plan_daemons(store, cores, dco, fault=""):
    """[{name, dev, proto, port, network, netmask, dco}] from the store, TCP daemons first."""
    base = ipaddress.ip_network("%s/%s" % (store.get("vpn.daemon.0.client.network", "172.27.224.0"),
                                           store.get("vpn.daemon.0.client.netmask_bits", "20")))
    subnets = list(base.subnets(new_prefix=24))
    daemons = []
    for transport, proto, letter, default_port in (("tcp", "tcp-server", "t", 443), ("udp", "udp", "u", 1194)):
        count = int(store.get("vpn.server.daemon.%s.n_daemons" % transport) or cores)
        port = int(store.get("vpn.server.daemon.%s.port" % transport) or default_port)
        for number in range(count):
            index = len(daemons)
            if index >= len(subnets):
                raise ValueError("%s has room for %d daemons" % (base, len(subnets)))
            daemons.append({"name": "openvpn_%d" % index, "dev": "as0%s%d" % (letter, number), "proto": proto,
                            "port": port + number, "network": str(subnets[index].network_address),
                            "netmask": str(subnets[index].netmask),
                            "dco": dco and fault != "dco-userspace"})
    return daemons


def render_daemon(daemon):
    text = DAEMON_CONFIG.format(store=STORE, pki=PKI, tmp=TMP, log=LOG, **daemon)
    if daemon["proto"] == "udp":
        # Clients hear of a restart at once instead of at their ping-restart.
        text += "explicit-exit-notify 1\n"
    if not daemon["dco"]:
        text += "disable-dco\n"
    return text


def count_clients(status_text):
    """Clients in an OpenVPN status file of --status-version 2 (CLIENT_LIST rows)."""
    return sum(1 for line in (status_text or "").splitlines() if line.startswith("CLIENT_LIST,"))


def alive(pid):
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    # A zombie is not a running daemon.
    try:
        with open("/proc/%d/stat" % pid) as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def read_state():
    try:
        with open(STATE) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def write_state(state):
    partial = STATE + ".partial"
    with open(partial, "w") as handle:
        json.dump(state, handle, indent=1, sort_keys=True)
    os.replace(partial, STATE)


def log(message):
    with open(LOG, "a") as handle:
        handle.write("%s openvpnas STAND-IN: %s\n" % (time.strftime("%Y-%m-%d %H:%M:%S"), message))


def read_fault():
    try:
        with open(FAULT) as handle:
            return handle.read().strip()
    except OSError:
        return ""


# ---------------------------------------------------------------- the supervisor (the unit)

class Supervisor:
    def __init__(self):
        self.children = []
        self.generation = 0
        self.restart = True
        self.halt = False
        self.stop = False

    def start_daemons(self):
        store = load_store()
        fault = read_fault()
        dco = dco_wanted(store, version())
        daemons = plan_daemons(store, os.cpu_count() or 1, dco, fault)
        os.makedirs(TMP, exist_ok=True)
        for daemon in daemons:
            path = "%s/%s.conf" % (TMP, daemon["dev"])
            with open(path, "w") as handle:
                handle.write(render_daemon(daemon))
            status = "%s/%s.status" % (TMP, daemon["dev"])
            if os.path.exists(status):
                os.unlink(status)
            # --config under the install prefix: how tunnel_info tells Access Server's daemons.
            child = subprocess.Popen([OPENVPN, "--config", path], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.children.append((daemon, child))
        log("generation %d: %d daemons, DCO %s%s" % (self.generation + 1, len(daemons), "on" if dco else "off",
                                                     ", fault %s" % fault if fault else ""))

    def stop_daemons(self):
        running = [(daemon, child) for daemon, child in self.children if child is not None]
        for _daemon, child in running:
            if child.poll() is None:
                child.terminate()
        deadline = time.monotonic() + 15
        for _daemon, child in running:
            try:
                child.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        self.children = []

    def state(self):
        return {"pid": os.getpid(), "generation": self.generation,
                "daemons": [dict(daemon, pid=child.pid, rc=child.poll()) if child else dict(daemon, pid=None, rc="stopped")
                            for daemon, child in self.children]}

    def run(self):
        os.makedirs(RUN, exist_ok=True)
        signal.signal(signal.SIGHUP, lambda *_: setattr(self, "restart", True))
        signal.signal(signal.SIGUSR1, lambda *_: setattr(self, "halt", True))
        signal.signal(signal.SIGTERM, lambda *_: setattr(self, "stop", True))
        signal.signal(signal.SIGINT, lambda *_: setattr(self, "stop", True))
        last = None
        while not self.stop:
            if self.restart:
                self.restart = self.halt = False
                self.stop_daemons()
                self.start_daemons()
                self.generation += 1
            elif self.halt:
                self.halt = False
                stopped = [(daemon, None) for daemon, _child in self.children]
                self.stop_daemons()
                self.children = stopped
                self.generation += 1
                log("generation %d: daemons stopped (sacli stop)" % self.generation)
            state = self.state()
            if state != last:
                write_state(state)
                last = state
            time.sleep(0.5)
        self.stop_daemons()
        os.unlink(STATE)
        log("stopped")
        return 0


# ---------------------------------------------------------------- the commands

def service_status(state):
    services = {"api": "on" if state and alive(state["pid"]) else "off"}
    for daemon in (state or {}).get("daemons", []):
        services[daemon["name"]] = "on" if daemon["rc"] is None and alive(daemon["pid"]) else "off"
    return services


def running_state():
    """The supervisor's state, or None (said on stderr) when the openvpnas service is not running."""
    state = read_state()
    if not state or not alive(state["pid"]):
        sys.stderr.write("Access Server STAND-IN: the openvpnas service is not running (systemctl start openvpnas)\n")
        return None
    return state


def cmd_status():
    state = running_state()
    if state is None:
        return 1
    print(json.dumps({"active_profile": "Default", "errors": {}, "last_restarted": "generation %d" % state["generation"],
                      "service_status": service_status(state)}, indent=2, sort_keys=True))
    return 0


def cmd_start():
    state = running_state()
    if state is None:
        return 1
    before = state["generation"]
    os.kill(state["pid"], signal.SIGHUP)
    deadline = time.monotonic() + START_TIMEOUT
    errors = {}
    while time.monotonic() < deadline:
        time.sleep(0.5)
        state = read_state() or {"generation": before, "daemons": [], "pid": 0}
        if state["generation"] <= before:
            continue
        services = service_status(state)
        down = [d for d in state["daemons"] if services[d["name"]] != "on"]
        pending = [d for d in state["daemons"] if not os.path.exists("%s/class/net/%s" % (SYS, d["dev"]))]
        if down:
            errors = {d["name"]: "exited (see %s)" % LOG for d in down}
            break
        if not pending:
            break
    else:
        errors = {"start": "the daemons were not up within %d s (see %s)" % (START_TIMEOUT, LOG)}
    print(json.dumps({"errors": errors, "service_status": service_status(read_state())}, indent=2, sort_keys=True))
    return 1 if errors else 0


def cmd_stop():
    state = running_state()
    if state is None:
        return 1
    before = state["generation"]
    os.kill(state["pid"], signal.SIGUSR1)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        time.sleep(0.5)
        state = read_state() or state
        if state["generation"] > before:
            print(json.dumps({"errors": {}, "service_status": service_status(state)}, indent=2, sort_keys=True))
            return 0
    sys.stderr.write("Access Server STAND-IN: the daemons did not stop within %d s (see %s)\n" % (START_TIMEOUT, LOG))
    return 1


def cmd_summary():
    state = read_state() or {"daemons": []}
    clients = 0
    for daemon in state["daemons"]:
        try:
            with open("%s/%s.status" % (TMP, daemon["dev"])) as handle:
                clients += count_clients(handle.read())
        except OSError:
            pass
    module = dco_module()
    available = os.path.isdir("%s/module/%s" % (SYS, module))
    if available:
        try:
            with open("%s/module/%s/version" % (SYS, module)) as handle:
                module_version = handle.read().strip()
        except OSError:
            module_version = "N/A"  # the in-tree ovpn has no version
    else:
        module_version = "Kernel module not loaded"
    print(json.dumps({"n_clients": clients, "ovpn_dco_available": available, "ovpn_dco_ver": module_version},
                     indent=2, sort_keys=True))
    return 0


def main(argv):
    args = list(argv)
    options = {}
    while len(args) >= 2 and args[0] in ("--key", "--value"):
        options[args[0][2:]] = args[1]
        args = args[2:]
    command = args[0] if len(args) == 1 else None
    if command == "ConfigQuery" and not options:
        print(json.dumps(load_store(), indent=2, sort_keys=True))
        return 0
    if command == "ConfigPut" and set(options) == {"key", "value"}:
        store = load_store()
        store[options["key"]] = options["value"]
        save_store(store)
        return 0
    if not options and command in ("start", "stop", "status", "VPNSummary", "_supervise"):
        if command == "_supervise":
            return Supervisor().run()
        return {"start": cmd_start, "stop": cmd_stop, "status": cmd_status, "VPNSummary": cmd_summary}[command]()
    sys.stderr.write("usage: sacli (Access Server STAND-IN) ConfigQuery | --key K --value V ConfigPut | start | status | "
                     "VPNSummary | stop\n")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
