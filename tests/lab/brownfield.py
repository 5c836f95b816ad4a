# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet as it is found: OpenVPN in userspace with the legacy options real fleets carry.

The options were checked against the real binaries in the lab VMs: OpenVPN 2.6.14 and 2.7.8
both accept this server and client and carry traffic, and both log "Note:
'--allow-compression' is not set to 'no', disabling data channel offload." (2.7 turns
"allow-compression yes" into "asym" and says so; both warn that net30 goes away).
"""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
import time

from tests.lab.common import STATE, LabError, log, run, ssh

LEGACY_COMMON = """\
proto udp
comp-lzo
allow-compression yes
data-ciphers AES-256-GCM:AES-256-CBC
cipher AES-256-CBC
verb 4
"""

SERVER = """\
# Lab brownfield server: the legacy options a fleet carries (net30, LZO, CBC allowed).
dev tun
topology net30
server {network} 255.255.255.0
port 1194
tls-server
dh none
ca /etc/openvpn/lab-pki/ca.crt
cert /etc/openvpn/lab-pki/server.crt
key /etc/openvpn/lab-pki/server.key
keepalive 10 60
persist-key
status /run/openvpn-lab-server.status 5
status-version 2
""" + LEGACY_COMMON

CLIENT = """\
# Lab brownfield client of {server_name}.
client
dev tun
remote {server_ip} 1194
nobind
ca /etc/openvpn/lab-pki/ca.crt
cert /etc/openvpn/lab-pki/client.crt
key /etc/openvpn/lab-pki/client.key
remote-cert-tls server
persist-key
""" + LEGACY_COMMON


def pki_dir():
    return os.path.join(STATE, "pki")


def _openssl(*args):
    run(["openssl"] + list(args), quiet=True)


def ensure_pki(names):
    """A CA, one server certificate, and a client certificate per name (EC P-256)."""
    pki = pki_dir()
    os.makedirs(pki, mode=0o700, exist_ok=True)
    ca_key, ca_crt = os.path.join(pki, "ca.key"), os.path.join(pki, "ca.crt")
    if not os.path.exists(ca_crt):
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                 "-nodes", "-keyout", ca_key, "-out", ca_crt, "-days", "365", "-subj", "/CN=ovpnfleet-lab-ca")
    _issue("server", "serverAuth", ca_key, ca_crt)
    for name in names:
        _issue(name, "clientAuth", ca_key, ca_crt)
    for entry in os.listdir(pki):
        if entry.endswith(".key"):
            os.chmod(os.path.join(pki, entry), 0o600)


def _issue(name, usage, ca_key, ca_crt):
    pki = pki_dir()
    crt = os.path.join(pki, name + ".crt")
    if os.path.exists(crt):
        return
    key, csr, ext = (os.path.join(pki, name + suffix) for suffix in (".key", ".csr", ".ext"))
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", key, "-out", csr, "-subj", "/CN=" + name)
    with open(ext, "w") as handle:
        handle.write("basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyAgreement\n"
                     "extendedKeyUsage=%s\n" % usage)
    _openssl("x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial",
             "-out", crt, "-days", "365", "-extfile", ext)


def plan(vms, containers):
    """Who serves whom: each VM serves the next VM's client; container 1 serves the others."""
    tunnels = []
    names = sorted(vms)
    for index, name in enumerate(names):
        if len(names) > 1:
            server = names[(index + 1) % len(names)]
            tunnels.append({"server": server, "client": name, "server_ip": vms[server]["lan_ip"],
                            "network": "10.8.%d.0" % (names.index(server) + 1)})
    cnames = sorted(containers)
    for name in cnames[1:]:
        tunnels.append({"server": cnames[0], "client": name,
                        "server_ip": containers[cnames[0]]["address"], "network": "10.9.0.0"})
    return tunnels


def _install_files(host, key, files):
    """Write {path: (content, mode)} on the host through one SSH call (a tar stream)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path, (content, mode) in files.items():
            data = content.encode()
            info = tarfile.TarInfo(path.lstrip("/"))
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    argv = ["ssh", "-q", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-i", key, "-p", str(host["port"]), "root@%s" % host["address"],
            "mkdir -p /etc/openvpn/server /etc/openvpn/client && tar -C / -xf - "
            "&& chmod 700 /etc/openvpn/lab-pki"]
    done = subprocess.run(argv, input=buffer.getvalue(), capture_output=True, check=False)
    if done.returncode:
        raise LabError("install OpenVPN files on %s: %s" % (host["name"], done.stderr.decode()[-300:]))


def _read(name):
    with open(os.path.join(pki_dir(), name)) as handle:
        return handle.read()


def deploy(tunnels, hosts, key, systemd_hosts):
    """Write configs and certificates, start OpenVPN where it is not running yet."""
    servers = {t["server"]: t["network"] for t in tunnels}
    files = {name: {"/etc/openvpn/lab-pki/ca.crt": (_read("ca.crt"), 0o644)} for name in hosts}
    for name, network in servers.items():
        files[name]["/etc/openvpn/lab-pki/server.crt"] = (_read("server.crt"), 0o644)
        files[name]["/etc/openvpn/lab-pki/server.key"] = (_read("server.key"), 0o600)
        files[name]["/etc/openvpn/server/lab.conf"] = (SERVER.format(network=network), 0o644)
    for tunnel in tunnels:
        client = tunnel["client"]
        files[client]["/etc/openvpn/lab-pki/client.crt"] = (_read(client + ".crt"), 0o644)
        files[client]["/etc/openvpn/lab-pki/client.key"] = (_read(client + ".key"), 0o600)
        files[client]["/etc/openvpn/client/lab.conf"] = (
            CLIENT.format(server_name=tunnel["server"], server_ip=tunnel["server_ip"]), 0o644)
    for name, host_files in files.items():
        if len(host_files) > 1:
            _install_files(hosts[name], key, host_files)
    for role, names in (("server", list(servers)), ("client", [t["client"] for t in tunnels])):
        for name in names:
            _start(hosts[name], key, role, name in systemd_hosts)


def _start(host, key, role, systemd):
    if systemd:
        ssh(host, key, "systemctl enable --now openvpn-%s@lab >/dev/null 2>&1" % role)
        return
    # A pidfile, not pgrep -f: the pattern would match this very shell's command line.
    ssh(host, key, "kill -0 $(cat /run/openvpn-{role}-lab.pid 2>/dev/null) 2>/dev/null || "
                   "(cd /etc/openvpn/{role} && openvpn --config /etc/openvpn/{role}/lab.conf --daemon "
                   "openvpn-{role}-lab --log /var/log/openvpn-{role}-lab.log "
                   "--writepid /run/openvpn-{role}-lab.pid)".format(role=role))


def check_tunnels(tunnels, hosts, key, deadline_seconds=120):
    """Ping each server's tunnel address from its client; return {client: ok}."""
    results = {}
    started = time.monotonic()
    for tunnel in tunnels:
        gateway = tunnel["network"].rsplit(".", 1)[0] + ".1"
        ok = False
        while not ok and time.monotonic() - started < deadline_seconds:
            ok = ssh(hosts[tunnel["client"]], key, "ping -c1 -W2 %s" % gateway, check=False).returncode == 0
            if not ok:
                time.sleep(2)
        results[tunnel["client"]] = ok
        verdict = "ping ok" if ok else "NO PING"
        log("tunnel %s -> %s (%s): %s" % (tunnel["client"], tunnel["server"], gateway, verdict))
    return results
