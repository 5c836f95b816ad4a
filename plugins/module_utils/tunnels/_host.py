# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The real host behind ``_tunnels``: rtnetlink, generic netlink, management sockets, certificates.

Each method answers one question and turns a failure into a dict with ``error`` that says what
to do, so one broken instance never hides the others.
"""

from __future__ import annotations

import datetime
import errno
import ipaddress
import socket

from ansible_collections.ovpnfleet.dco.plugins.module_utils._errors import DcoError
from ansible_collections.ovpnfleet.dco.plugins.module_utils.netlink._socket import NetlinkError, ipv4_addresses, link_by_name
from ansible_collections.ovpnfleet.dco.plugins.module_utils.tunnels._instances import parse_management_state, parse_management_status
from ansible_collections.ovpnfleet.dco.plugins.module_utils.tunnels._x509 import certificate_facts, crl_next_update

MANAGEMENT_TIMEOUT = 3.0
MANAGEMENT_MAX_CHARS = 32 * 1024 * 1024


class TunnelHost:
    def __init__(self, probe, now=None):
        self.probe = probe
        self.now = now or datetime.datetime.now(datetime.timezone.utc)

    def link(self, ifname):
        """{ifindex, kind} of an interface over rtnetlink (``tun`` for OpenVPN's userspace device), or {error}."""
        try:
            link = link_by_name(ifname)
        except NetlinkError as error:
            if error.errno == errno.ENODEV:
                return {"error": "interface %s does not exist although OpenVPN opened it: is the instance restarting?" % ifname}
            return {"error": error.strerror}
        except OSError as error:
            return {"error": "read link %s over rtnetlink: %s" % (ifname, error)}
        return {"ifindex": link["ifindex"], "kind": link["kind"] or "tun"}

    def first_host(self, ifname):
        """The first address of the interface's IPv4 subnet (the usual server address), or None."""
        link = self.link(ifname) if ifname else None
        if not link or link.get("error"):
            return None
        try:
            addresses = ipv4_addresses(link["ifindex"])
        except OSError:
            return None
        if not addresses:
            return None
        network = ipaddress.ip_interface(addresses[0]).network
        # A /31 or /32 (net30 clients) names no server address.
        return str(network.network_address + 1) if network.prefixlen < 31 else None

    def peers(self, kind, ifindex):
        try:
            # Imported here: only a host with DCO devices asks generic netlink.
            from ansible_collections.ovpnfleet.dco.plugins.module_utils.netlink import _peers
            return _peers.kernel_peers(kind, ifindex)
        except DcoError as error:
            return {"error": str(error)}

    def module(self, name):
        version = self.probe.read("/sys/module/%s/version" % name)
        return {"name": name, "version": version.strip() if version else None,
                "srcversion": (self.probe.read("/sys/module/%s/srcversion" % name) or "").strip() or None}

    def management(self, path, mode):
        """Clients (servers) or state (clients) from a unix-socket management interface."""
        try:
            sock, reader = open_management(path)
            with sock:
                if mode == "server":
                    sock.sendall(b"status 3\n")
                    return {"clients": parse_management_status(read_until_end(reader))}
                sock.sendall(b"state\n")
                return {"state": parse_management_state(read_until_end(reader))}
        except OSError as error:
            return {"error": "%s (is OpenVPN running, and is the play run with become?)" % error}
        except DcoError as error:
            return {"error": str(error)}

    def certificate_days(self, name, source):
        data = source["inline"].encode("ascii", "replace") if "inline" in source else self.probe.read_bytes(source["path"])
        if data is None:
            return {"error": "cannot read %s" % source["path"]}
        try:
            if name == "crl-verify":
                next_update = crl_next_update(data)
                return {"next_update": next_update.isoformat(), "days_left": (next_update - self.now).days}
            cert = certificate_facts(data)
        except ValueError as error:
            return {"error": "cannot parse %s: %s" % (source.get("path", "(inline)"), error)}
        return {"subject": cert["subject"], "not_after": cert["not_after"].isoformat(),
                "days_left": (cert["not_after"] - self.now).days}

    def ping(self, target, ifname):
        # One echo proves the tunnel carries traffic; a second try only when the first is lost,
        # so a healthy sweep costs one round trip per client.
        argv = ["ping", "-c", "1", "-W", "2"] + (["-I", ifname] if ifname else []) + [target]
        result = self.probe.run(argv)
        if result.rc != 0:
            result = self.probe.run(argv)
        return {"target": target, "ok": result.rc == 0, "summary": (result.stdout.strip().splitlines() or [""])[-1]}


def open_management(path):
    """(socket, line reader) of OpenVPN's management interface on unix socket ``path``, past its greeting.

    Six characters, not a line: a password-protected interface asks "ENTER PASSWORD:" without a
    newline, and its password is not ours to use. Raises OSError, or DcoError for such an interface.
    """
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(MANAGEMENT_TIMEOUT)
        sock.connect(path)
        reader = sock.makefile("r", encoding="utf-8", errors="replace", newline="\n")
        if reader.read(6) != ">INFO:":
            raise DcoError("the management interface did not greet as OpenVPN does (a password-protected one is not used)")
        reader.readline()
    except BaseException:
        sock.close()
        raise
    return sock, reader


def read_until_end(reader):
    """The reply up to OpenVPN's END line; a reply larger than any status of a real server is
    cut off, so a socket that streams without end cannot hold the module."""
    lines, size = [], 0
    for line in reader:
        if line.rstrip("\r\n") == "END":
            break
        size += len(line)
        if size > MANAGEMENT_MAX_CHARS:
            raise OSError("the management interface sent more than %d characters without END" % MANAGEMENT_MAX_CHARS)
        lines.append(line)
    return "".join(lines)
