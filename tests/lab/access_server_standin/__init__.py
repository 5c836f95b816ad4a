# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""python3 -m tests.lab.access_server_standin install|status|fault|record: a STAND-IN of OpenVPN
Access Server's CLI on the lab VMs. It is not Access Server, which cannot be fetched here.

``install`` puts, on every lab VM of a platform in ``VERSIONS`` (or those named):
- a dummy ``openvpn-as`` package built on the VM with dpkg-deb, version ``2.14.3-standin-Debian12``
  (Debian 12) or ``3.2.0-standin-Debian13`` (Debian 13), holding the stand-in ``sacli``
  (sacli_standin.py) as /usr/local/openvpn_as/scripts/sacli and the ``openvpnas`` unit: what
  ``ProbeAccessServerHost`` reads to tell an Access Server host and its version;
- a server certificate from the lab CA (tests/lab/pki.py) for its daemons, and its store with
  the DCO key (``--dco``, default ``false``), the ports (TCP 1443.., UDP 1195..: the ring's
  tunnels use UDP 1194) and a /20 of its own for the clients;
- then starts ``openvpnas``, whose real openvpn daemons run on ``as0t*``/``as0u*``.
The next VM of the ring (as tests/lab/brownfield.py orders them) gets two plain OpenVPN client
profiles, as Access Server hands them out, to that VM's first TCP and first UDP daemon, run
under Debian's own ``openvpn-client@as-standin-SERVER-{tcp,udp}`` units: real tunnels of that
host, which the collection sees and switches like any other client. ``install`` waits until
``sacli VPNSummary`` counts both clients.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from tests.lab import pki
from tests.lab import state as lab_state
from tests.lab.common import LabError, in_parallel, log, ssh, tar_of

HERE = os.path.dirname(os.path.abspath(__file__))
VERSIONS = {"debian12": "2.14.3-standin-Debian12", "debian13-bpo": "3.2.0-standin-Debian13",
            "debian13": "3.2.0-standin-Debian13"}
PORTS = {"tcp": 1443, "udp": 1195}
SACLI = "/usr/local/openvpn_as/scripts/sacli"
FAULT = "/usr/local/openvpn_as/etc/standin-fault"
BUILD = "/var/tmp/openvpn-as-standin"
CLIENT_PKI = "/etc/openvpn/as-standin-pki"
CLIENTS_DEADLINE = 120
FIXTURES = os.path.join(os.path.dirname(os.path.dirname(HERE)), "unit", "fixtures", "access_server_standin")

CONTROL = """\
Package: openvpn-as
Version: {version}
Architecture: all
Maintainer: ovpnfleet lab <lab@example.invalid>
Depends: python3, openvpn
Description: STAND-IN for OpenVPN Access Server's CLI (ovpnfleet lab only)
 Not OpenVPN Access Server: a stand-in sacli and openvpnas unit that start plain
 OpenVPN daemons, for testing ovpnfleet.dco (tests/lab/access_server_standin).
"""

CLIENT_PROFILE = """\
# Client profile for the Access Server STAND-IN on {server} (ovpnfleet lab), written by
# tests/lab/access_server_standin: a plain OpenVPN config, as Access Server hands them out.
client
dev tun
proto {proto}
remote {server_ip} {port}
nobind
remote-cert-tls server
ca {pki}/ca.crt
cert {pki}/client.crt
key {pki}/client.key
verb 4
"""

SERVER_SCRIPT = """\
set -e
S={sacli}
tar -C / --no-same-owner -xf -
chmod 0755 {build}/pkg {build}/pkg/DEBIAN
dpkg-deb --root-owner-group --build {build}/pkg {build}/openvpn-as.deb >/dev/null
dpkg -i {build}/openvpn-as.deb >/dev/null
systemctl daemon-reload
for pair in {settings}; do $S --key "${{pair%%=*}}" --value "${{pair#*=}}" ConfigPut; done
rm -f {fault}
systemctl enable --quiet openvpnas
systemctl restart openvpnas
for i in $(seq 60); do $S status >/dev/null 2>&1 && break; sleep 1; done
dpkg-query -W -f='${{Version}}\\n' openvpn-as
"""


def as_vms(state, names=None):
    """{name: vm} of the VMs that get the stand-in: those named, else every VM of a known platform."""
    vms = state["vms"]
    if names:
        unknown = sorted(set(names) - set(vms))
        if unknown:
            raise LabError("no lab VM %s; `python3 -m tests.lab status` lists them" % ", ".join(unknown))
        chosen = {name: vms[name] for name in names}
    else:
        chosen = {name: vm for name, vm in vms.items() if vm["platform"] in VERSIONS}
    for name, vm in chosen.items():
        if vm["platform"] not in VERSIONS:
            raise LabError("%s is a %s VM; the stand-in knows %s" % (name, vm["platform"], ", ".join(VERSIONS)))
    if not chosen:
        raise LabError("no lab VM to install the stand-in on: `python3 -m tests.lab up --debian12 1 --debian13 1`")
    return chosen


def _lan_number(vm):
    return int(vm["lan_ip"].rsplit(".", 1)[1])


def client_vm(state, server):
    """The VM after ``server`` in the lab's ring, the one that connects to its stand-in."""
    ring = sorted(state["vms"], key=lambda name: _lan_number(state["vms"][name]))
    if len(ring) < 2:
        raise LabError("the stand-in's clients run on another VM: start the lab with two VMs or more")
    return ring[(ring.index(server) + 1) % len(ring)]


def settings(vm, dco):
    """The store's keys install sets (strings, as sacli stores them)."""
    return {"vpn.server.daemon.ovpndco": dco,
            "vpn.server.daemon.tcp.port": str(PORTS["tcp"]),
            "vpn.server.daemon.udp.port": str(PORTS["udp"]),
            # A /20 per VM, out of the ring's 10.8.x and the containers' 10.9.x.
            "vpn.daemon.0.client.network": "10.%d.0.0" % (100 + _lan_number(vm)),
            "vpn.daemon.0.client.netmask_bits": "20"}


def _read(name):
    with open(os.path.join(HERE, name)) as handle:
        return handle.read()


def server_files(name, vm):
    version = VERSIONS[vm["platform"]]
    root = BUILD + "/pkg"
    return {
        root + "/DEBIAN/control": (CONTROL.format(version=version), 0o644),
        # The interpreter line is added here: the repository's copy is a module (ansible-test's shebang rule).
        root + SACLI: ("#!/usr/bin/python3\n" + _read("sacli_standin.py"), 0o755),
        root + "/usr/lib/systemd/system/openvpnas.service": (_read("openvpnas-standin.service"), 0o644),
        root + "/usr/local/openvpn_as/etc/standin.json": (json.dumps({"version": version}) + "\n", 0o644),
        "/usr/local/openvpn_as/etc/web-ssl/ca.crt": (pki.read("ca.crt"), 0o644),
        "/usr/local/openvpn_as/etc/web-ssl/server.crt": (pki.read("%s-as-standin.server.crt" % name), 0o644),
        "/usr/local/openvpn_as/etc/web-ssl/server.key": (pki.read("%s-as-standin.server.key" % name), 0o600),
    }


def unit_name(server, transport):
    return "as-standin-%s-%s" % (server, transport)


def client_files(client, server, server_vm):
    directory = "%s/%s" % (CLIENT_PKI, server)
    files = {directory + "/ca.crt": (pki.read("ca.crt"), 0o644),
             directory + "/client.crt": (pki.read("%s-as-standin.client.crt" % client), 0o644),
             directory + "/client.key": (pki.read("%s-as-standin.client.key" % client), 0o600)}
    for transport, proto in (("udp", "udp"), ("tcp", "tcp-client")):
        files["/etc/openvpn/client/%s.conf" % unit_name(server, transport)] = (CLIENT_PROFILE.format(
            server=server, proto=proto, server_ip=server_vm["lan_ip"], port=PORTS[transport], pki=directory), 0o644)
    return files


def install_one(state, name, dco):
    vm = state["vms"][name]
    client = client_vm(state, name)
    hosts = lab_state.all_hosts(state)
    pki.ensure_ca()
    pki.ensure_certificate(name + "-as-standin", "server")
    pki.ensure_certificate(client + "-as-standin", "client")
    script = SERVER_SCRIPT.format(sacli=SACLI, build=BUILD, fault=FAULT, settings=" ".join(
        "'%s=%s'" % item for item in settings(vm, dco).items()))
    ssh(hosts[name], "rm -rf %s && mkdir -p %s" % (BUILD, BUILD))
    version = ssh(hosts[name], script, data=tar_of(server_files(name, vm))).stdout.strip()
    units = " ".join("openvpn-client@%s" % unit_name(name, transport) for transport in ("udp", "tcp"))
    ssh(hosts[client], "tar -C / --no-same-owner -xf - && systemctl enable --quiet %s && systemctl restart %s"
        % (units, units), data=tar_of(client_files(client, name, vm)))
    started = time.monotonic()
    while True:
        summary = json.loads(ssh(hosts[name], SACLI + " VPNSummary").stdout)
        if summary["n_clients"] >= 2 or time.monotonic() - started > CLIENTS_DEADLINE:
            break
        time.sleep(2)
    return {"name": name, "version": version, "client": client, "dco": dco, "summary": summary,
            "seconds": round(time.monotonic() - started, 1)}


def cmd_install(args):
    state = lab_state.load()
    chosen = as_vms(state, args.names)
    results = in_parallel(lambda name: install_one(state, name, args.dco), sorted(chosen))
    for result in results:
        print("%-15s openvpn-as %s, key %s, clients from %s: %s (after %.1f s)" % (
            result["name"], result["version"], result["dco"], result["client"], json.dumps(result["summary"]),
            result["seconds"]))
    short = [r["name"] for r in results if r["summary"]["n_clients"] < 2]
    if short:
        raise LabError("the stand-in on %s counts fewer than 2 clients: journalctl -u 'openvpn-client@as-standin-*' "
                       "on the client VM, /var/log/openvpnas.log on the server" % ", ".join(short))
    return 0


STATUS_SCRIPT = ("{s} status; {s} VPNSummary; {s} ConfigQuery | grep ovpndco; "
                 "ip -br link show | grep '^as0' || true; cat {fault} 2>/dev/null || true").format(s=SACLI, fault=FAULT)


def cmd_status(args):
    state = lab_state.load()
    hosts = lab_state.all_hosts(state)
    for name in sorted(as_vms(state, args.names)):
        result = ssh(hosts[name], STATUS_SCRIPT, check=False)
        print("== %s\n%s%s" % (name, result.stdout, result.stderr))
    return 0


def cmd_fault(args):
    """dco-userspace: the daemons start in userspace at the next sacli start, whatever the key."""
    state = lab_state.load()
    hosts = lab_state.all_hosts(state)
    for name in sorted(as_vms(state, args.names)):
        if args.mode == "none":
            ssh(hosts[name], "rm -f " + FAULT)
        else:
            ssh(hosts[name], "echo %s > %s" % (args.mode, FAULT))
        print("%s: fault %s" % (name, args.mode))
    return 0


RECORDED = {
    "status.json": SACLI + " status",
    "configquery.json": SACLI + " ConfigQuery",
    "vpnsummary.json": SACLI + " VPNSummary",
    "ip-link.json": "ip -d -j link show",
    "dpkg-query.txt": "dpkg-query -W -f='${Status} ${Version}' openvpn-as",
    "as0u0-status.txt": "cat /usr/local/openvpn_as/etc/tmp/as0u0.status",
    "uname.txt": "uname -r",
}


def cmd_record(args):
    """Save what the stand-in answers, per VM platform, as fixtures (stand-in recordings)."""
    state = lab_state.load()
    hosts = lab_state.all_hosts(state)
    os.makedirs(args.directory, exist_ok=True)
    for name, vm in sorted(as_vms(state, args.names).items()):
        for suffix, command in RECORDED.items():
            result = ssh(hosts[name], command)
            path = os.path.join(args.directory, "%s-%s-%s" % (vm["platform"], args.label, suffix))
            with open(path, "w") as handle:
                handle.write(result.stdout)
            print("recorded %s" % path)
    return 0


def parser():
    top = argparse.ArgumentParser(prog="python3 -m tests.lab.access_server_standin", description=__doc__,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = top.add_subparsers(dest="command", required=True)
    install = sub.add_parser("install", help="install (again) the stand-in and its clients")
    install.add_argument("--dco", choices=["true", "false"], default="false", help="the DCO key (default false)")
    install.add_argument("names", nargs="*", help="VMs (default: every VM of %s)" % ", ".join(VERSIONS))
    install.set_defaults(func=cmd_install)
    status = sub.add_parser("status", help="sacli status and VPNSummary, the key, the as0* devices")
    status.add_argument("names", nargs="*")
    status.set_defaults(func=cmd_status)
    fault = sub.add_parser("fault", help="dco-userspace: daemons start in userspace at the next sacli start")
    fault.add_argument("mode", choices=["dco-userspace", "none"])
    fault.add_argument("names", nargs="*")
    fault.set_defaults(func=cmd_fault)
    record = sub.add_parser("record", help="save the stand-in's outputs as unit-test fixtures")
    record.add_argument("label", help="a word for the state recorded, such as dco-false")
    record.add_argument("--directory", default=FIXTURES)
    record.add_argument("names", nargs="*")
    record.set_defaults(func=cmd_record)
    return top


def main(argv=None):
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except LabError as error:
        log("error: %s" % error)
        return 1
