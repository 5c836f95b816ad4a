# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Restart one OpenVPN unit so that a server's clients come back in seconds.

A server whose config lacks ``explicit-exit-notify`` goes without a word: its clients find out
only at their ``ping-restart``, often two minutes later. When the running server has a
management interface on a unix socket, it can still say it: ``client-kill CID RESTART`` sends
each client the same RESTART control message ``explicit-exit-notify`` would, and the client
reconnects after its ``connect-retry`` pause (one second by default since OpenVPN 2.5). The
restart follows a short pause later, so the message leaves before the process does, and well
within that second, so no client comes back to the old process.
"""

from __future__ import annotations

import time

from ansible_collections.ovpnfleet.dco.plugins.module_utils._errors import CommandError, DcoError
from ansible_collections.ovpnfleet.dco.plugins.module_utils.tunnels._host import open_management, read_until_end
from ansible_collections.ovpnfleet.dco.plugins.module_utils.tunnels._instances import (
    config_facts,
    config_reader,
    discover,
)

# Any version does for reading the management line; the verdict config_facts also computes is unused.
CONFIG_VERSION = "2.6"


def restart_unit(probe, unit, settle, check_mode, tell=None, sleep=time.sleep):
    """Restart ``unit``; a running server with a unix management socket first tells its clients.

    Returns ``{"management_socket", "clients_told", "management_error"}``. A management
    interface that cannot be used is no reason not to restart: the clients then come back at
    their ping-restart, and ``management_error`` says why.
    """
    tell = tell or tell_clients_to_reconnect
    instance = next((entry for entry in discover(probe)[0] if entry["unit"] == unit), None)
    if instance is None:
        raise DcoError("restart %s: no OpenVPN unit of that name on this host (openvpn-server@NAME, "
                       "openvpn-client@NAME or openvpn@NAME): check the name with 'systemctl list-units openvpn*'" % unit)
    result = {"management_socket": None, "clients_told": 0, "management_error": None}
    if instance["pid"] and instance["state"] == "active":
        facts, _error = config_facts(instance, CONFIG_VERSION, config_reader(probe))
        if facts and facts["mode"] == "server":
            result["management_socket"] = facts["management_socket"]
    if check_mode:
        return result
    if result["management_socket"]:
        try:
            result["clients_told"] = tell(result["management_socket"])
        except (OSError, DcoError) as error:
            result["management_error"] = "tell the clients through %s: %s; they reconnect at their ping-restart" % (
                result["management_socket"], error)
        if result["clients_told"]:
            sleep(settle)
    argv = ["systemctl", "restart", unit]
    done = probe.run(argv)
    if done.rc != 0:
        raise CommandError("restart %s: systemctl failed; read 'journalctl -u %s'" % (unit, unit),
                           argv, done.rc, done.stdout, done.stderr)
    return result


def tell_clients_to_reconnect(path):
    """Send every client of the server behind management socket ``path`` a RESTART; return how many took it."""
    sock, reader = open_management(path)
    with sock:
        sock.sendall(b"status 3\n")
        ids = client_ids(read_until_end(reader))
        told = 0
        for cid in ids:
            sock.sendall(b"client-kill %d RESTART\n" % cid)
            told += _answer(reader).startswith("SUCCESS:")
        return told


def client_ids(status_text):
    """The ``Client ID`` of every client in ``status 3`` output (tab separated, columns named by HEADER)."""
    column, ids = None, []
    for line in status_text.splitlines():
        fields = line.rstrip("\r").split("\t")
        if fields[:2] == ["HEADER", "CLIENT_LIST"] and "Client ID" in fields:
            column = fields.index("Client ID") - 1
        elif fields[0] == "CLIENT_LIST" and column is not None and column < len(fields) and fields[column].isdigit():
            ids.append(int(fields[column]))
    return ids


def _answer(reader):
    """The command's SUCCESS:/ERROR: line; real-time notifications (">...") may come first."""
    for line in reader:
        if not line.startswith(">"):
            return line.strip()
    return ""
