# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet as fleets are found: OpenVPN in userspace, with the legacy options they carry.

Who serves whom: VMs form a ring (each VM serves the next one's client over the VM LAN), so each
VM runs one server and one client, under Debian's own units (openvpn-server@lab,
openvpn-client@lab). Among containers, the first one or two are servers and the rest are their
clients; with no systemd there, openvpn runs as a daemon with a pid file and a log file.

`up` installs a host's files only when they differ from what `up` installed last time (a hash
kept in /var/lib/ovpnfleet-lab/), so a second `up` changes nothing, and neither undoes what the
collection changed since; where it rewrites a server, it rewrites that server's clients too.
"""

from __future__ import annotations

import hashlib
import re
import time

from tests.lab import pki
from tests.lab.common import LabError, in_parallel, log, ssh, tar_of

PORT = 1194
REMOTE_PKI = "/etc/openvpn/lab-pki"
BUNDLE_HASH = "/var/lib/ovpnfleet-lab/openvpn-bundle.sha256"

# Legacy options real fleets carry. Each was run with the real binaries, OpenVPN 2.6.14
# (Debian 12) and 2.7.8 (trixie-backports), at --verb 4; both accept all of them and log why
# DCO stays off:
#   comp-lzo                 both: "'--allow-compression' is not set to 'no', disabling data
#                            channel offload"; 2.7 adds "Compression support is deprecated".
#   allow-compression yes    2.6 compresses both ways; 2.7: "DEPRECATED OPTION:
#                            "--allow-compression yes" has been removed. We will use "asym"".
#   data-ciphers ...:AES-256-CBC  both: "cipher 'AES-256-CBC' in --data-ciphers is not supported
#                            by ovpn-dco, disabling data channel offload".
#   cipher AES-256-CBC       both accept it (2.6 and 2.7 ignore it for negotiation).
#   topology net30 (server)  both: "NOT using '--topology subnet' disables data channel
#                            offload" and "net30 ... will be removed in a future release".
#   persist-key              2.7: "DEPRECATED OPTION: --persist-key option ignored".
#   keepalive 10 120         both, plain.
# Refused by both, so not used: keysize, ncp-disable (unrecognized option) and cipher BF-CBC
# (OpenSSL 3 has no Blowfish without its legacy provider).
LEGACY_OPTIONS = """\
comp-lzo
allow-compression yes
data-ciphers AES-256-GCM:AES-256-CBC
cipher AES-256-CBC
persist-key
verb 4
"""

SERVER_CONFIG = """\
# Brownfield OpenVPN server of the ovpnfleet lab (tests/lab/brownfield.py).
port {port}
proto udp
dev tun
topology net30
server {network} {netmask}
keepalive 10 120
ca {pki}/ca.crt
cert {pki}/server.crt
key {pki}/server.key
dh none
""" + LEGACY_OPTIONS

CLIENT_CONFIG = """\
# Brownfield OpenVPN client of the ovpnfleet lab, to {server} (tests/lab/brownfield.py).
client
proto udp
dev tun
remote {server_ip} {port}
nobind
remote-cert-tls server
ca {pki}/ca.crt
cert {pki}/client.crt
key {pki}/client.key
""" + LEGACY_OPTIONS

# Containers have no systemd: the same files and options Debian's units use, by hand. The pid
# file, not pgrep, tells whether it runs (a pattern would match this very shell).
CONTAINER_START = """\
pidfile=/run/openvpn-{role}/lab.pid
mkdir -p /run/openvpn-{role} /var/log/openvpn
running() {{ [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }}
if [ "{restart}" = yes ] && running; then
    kill "$(cat "$pidfile")"
    for i in 1 2 3 4 5 6 7 8 9 10; do running || break; sleep 0.5; done
fi
running || openvpn --daemon openvpn-{role}-lab --cd /etc/openvpn/{role} --config lab.conf \\
    --writepid "$pidfile" --log /var/log/openvpn/{role}-lab.log \\
    --status /run/openvpn-{role}/status-lab.log --status-version 2
"""


def plan(vms, containers):
    """Tunnels as dicts: server, client, server_ip, network, gateway (server's tunnel address)."""
    tunnels = []
    ring = sorted(vms, key=lambda name: _number(vms[name]["lan_ip"]))
    # The Secure Boot VM runs alone (one TCG UEFI boot at a time): it serves its own client.
    alone_sb = len(ring) == 1 and vms[ring[0]].get("platform") == "debian12-sb"
    if len(ring) > 1 or alone_sb:
        for position, client in enumerate(ring):
            server = ring[(position + 1) % len(ring)]
            tunnels.append(_tunnel(server, client, vms[server]["lan_ip"],
                                   "10.8.%d.0" % (_number(vms[server]["lan_ip"]) - 10), "255.255.255.0"))
    names = sorted(containers)
    servers = names[:2 if len(names) >= 4 else 1 if len(names) >= 2 else 0]
    for position, client in enumerate(names[len(servers):]):
        server = servers[position % len(servers)]
        # net30 gives each client a /30: a /24 holds 62 clients, fewer than a container server
        # of a 100-container lab has (49, plus clients of an earlier size until their
        # ping-restart: "no free --ifconfig-pool addresses"). A /22 holds 254.
        tunnels.append(_tunnel(server, client, containers[server]["address"],
                               "10.9.%d.0" % (4 * servers.index(server)), "255.255.252.0"))
    return tunnels


def _number(address):
    return int(address.rsplit(".", 1)[1])


def _tunnel(server, client, server_ip, network, netmask):
    return {"server": server, "client": client, "server_ip": server_ip, "network": network, "netmask": netmask,
            "gateway": network.rsplit(".", 1)[0] + ".1"}


def ensure_certificates(tunnels):
    pki.ensure_ca()
    for tunnel in tunnels:
        pki.ensure_certificate(tunnel["server"], "server")
        pki.ensure_certificate(tunnel["client"], "client")


def host_files(name, tunnels):
    """{path: (text, mode)} of the OpenVPN files host name gets."""
    files = {}
    for tunnel in tunnels:
        for role in ("server", "client"):
            if tunnel[role] != name or "/etc/openvpn/%s/lab.conf" % role in files:
                continue
            template = SERVER_CONFIG if role == "server" else CLIENT_CONFIG
            files["/etc/openvpn/%s/lab.conf" % role] = (template.format(
                port=PORT, pki=REMOTE_PKI, **tunnel), 0o644)
            files["%s/%s.crt" % (REMOTE_PKI, role)] = (pki.read("%s.%s.crt" % (name, role)), 0o644)
            files["%s/%s.key" % (REMOTE_PKI, role)] = (pki.read("%s.%s.key" % (name, role)), 0o600)
    if files:
        files[REMOTE_PKI + "/ca.crt"] = (pki.read("ca.crt"), 0o644)
    return files


def deploy(tunnels, hosts, systemd_hosts):
    """Install and start OpenVPN on every host with a tunnel; {host: 'changed'|'unchanged'}."""
    names = sorted({t["server"] for t in tunnels} | {t["client"] for t in tunnels})
    bundles = {name: host_files(name, tunnels) for name in names}
    installed = dict(zip(names, in_parallel(lambda name: _installed_digest(hosts[name]), names)))
    rewrite = with_clients_of_servers(tunnels, {name for name in names if installed[name] != _digest(bundles[name])})

    def one(name):
        if name in rewrite:
            _install(hosts[name], bundles[name])
        roles = [role for role in ("server", "client") if "/etc/openvpn/%s/lab.conf" % role in bundles[name]]
        _start(hosts[name], roles, name in rewrite, name in systemd_hosts)
        return "changed" if name in rewrite else "unchanged"

    return dict(zip(names, in_parallel(one, names)))


def with_clients_of_servers(tunnels, rewrite):
    """REWRITE plus every client of a server in it, transitively.

    A server that gets the lab's legacy files again may refuse a client the collection already
    converted (seen when the ring grew: the converted client on debian13 passed no traffic to
    debian12-1's legacy server). A converted server still takes legacy clients, so a rewritten
    client leaves its server alone, and containers added to the lab leave their servers be."""
    rewrite = set(rewrite)
    grown = True
    while grown:
        grown = False
        for tunnel in tunnels:
            if tunnel["server"] in rewrite and tunnel["client"] not in rewrite:
                rewrite.add(tunnel["client"])
                grown = True
    return rewrite


def _digest(files):
    return hashlib.sha256(repr(sorted(files.items())).encode()).hexdigest()


def _installed_digest(host):
    return ssh(host, "cat %s 2>/dev/null || true" % BUNDLE_HASH).stdout.strip()


def _install(host, files):
    """Write files through one SSH call (a tar stream) and record their digest."""
    script = (
        'mkdir -p /etc/openvpn/server /etc/openvpn/client {pki} "$(dirname {marker})" '
        '&& chmod 700 {pki} && tar -C / --no-same-owner -xf - && echo {digest} > {marker}').format(
            marker=BUNDLE_HASH, digest=_digest(files), pki=REMOTE_PKI)
    ssh(host, script, data=tar_of(files))


def _start(host, roles, restart, systemd):
    for role in roles:
        if systemd:
            action = "restart" if restart else "start"
            ssh(host, "systemctl enable --quiet openvpn-{0}@lab && systemctl {1} openvpn-{0}@lab"
                .format(role, action))
        else:
            ssh(host, CONTAINER_START.format(role=role, restart="yes" if restart else "no"))


def check(tunnels, hosts, deadline_seconds=90):
    """Ping each server's tunnel address from its client until it answers or the deadline."""
    def one(tunnel):
        client = hosts[tunnel["client"]]
        started = time.monotonic()
        command = "ip -o route get {0} && ping -n -c 3 -i 0.3 -W 2 {0}".format(tunnel["gateway"])
        while True:
            try:
                result = ssh(client, command, check=False, timeout=30)
                ok, output = result.returncode == 0, result.stdout
            except LabError as error:
                # One attempt that hung: VMs that just booted, under TCG next to others, can
                # take over 30 s for an SSH login. The deadline decides, not one attempt.
                ok, output = False, str(error)
            if ok or time.monotonic() - started > deadline_seconds:
                break
            time.sleep(2)
        return dict(tunnel, ok=ok, detail=_ping_summary(output) if ok else "NO REPLY: " + " ".join(output.split())[-200:],
                    seconds=round(time.monotonic() - started, 1))

    results = in_parallel(one, tunnels, workers=8)
    for result in results:
        outcome = result["detail"]
        log("tunnel %-15s -> %-15s %-10s %s" % (result["client"], result["server"],
                                                result["gateway"], outcome))
    return results


def _ping_summary(output):
    device = re.search(r" dev (\S+)", output)
    received = re.search(r"(\d+) received", output)
    average = re.search(r"= [\d.]+/([\d.]+)/", output)
    return "via %s, %s/3 replies%s" % (
        device.group(1) if device else "?", received.group(1) if received else "0",
        ", avg %s ms" % average.group(1) if average else "")


def require_all_passed(results):
    failed = [r for r in results if not r["ok"]]
    if failed:
        raise LabError("%d of %d tunnels pass no traffic (%s); look at `journalctl -u "
                       "openvpn-client@lab` in VMs or /var/log/openvpn/ in containers"
                       % (len(failed), len(results), ", ".join(r["client"] for r in failed)))
