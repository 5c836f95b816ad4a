# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""openvpn_restart: a server's clients are told through its management socket, then the unit restarts.

The host is the Debian 12 lab VM recorded in tests/unit/fixtures/tunnels/debian12-dco.json (its
server and client units); the server's config gets a management line where a case needs one,
and a thread on a unix socket answers as OpenVPN 2.6's management interface does.
"""

from __future__ import annotations

import copy
import os
import socket
import tempfile
import threading
import time

import pytest

from ansible_collections.ovpnfleet.dco.plugins.module_utils._probe import CommandResult
from ansible_collections.ovpnfleet.dco.plugins.module_utils.tunnels import _restart
from ansible_collections.ovpnfleet.dco.plugins.modules import openvpn_restart
from ansible_collections.ovpnfleet.dco.tests.unit.host_probes import ReplayProbe, load_fixture
from ansible_collections.ovpnfleet.dco.tests.unit.plugins.module_utils.tunnels.test_tunnels import one_systemctl_show

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "tunnels", "debian12-dco.json")
SERVER = "openvpn-server@lab.service"
CLIENT = "openvpn-client@lab.service"
STATUS_3 = (
    "TITLE\tOpenVPN 2.6.14 x86_64-pc-linux-gnu\n"
    "TIME\t2026-12-01 14:00:00\t1796133600\n"
    "HEADER\tCLIENT_LIST\tCommon Name\tReal Address\tVirtual Address\tVirtual IPv6 Address\tBytes Received\t"
    "Bytes Sent\tConnected Since\tConnected Since (time_t)\tUsername\tClient ID\tPeer ID\tData Channel Cipher\n"
    "CLIENT_LIST\tlab-client-1\t192.0.2.21:40001\t10.8.1.2\t\t100\t200\t2026-12-01 13:59:00\t1796133540\tUNDEF\t4\t0\tAES-256-GCM\n"
    "CLIENT_LIST\tlab-client-2\t192.0.2.22:40002\t10.8.1.3\t\t100\t200\t2026-12-01 13:59:10\t1796133550\tUNDEF\t9\t1\tAES-256-GCM\n"
    "HEADER\tROUTING_TABLE\tVirtual Address\tCommon Name\tReal Address\tLast Ref\tLast Ref (time_t)\n"
    "GLOBAL_STATS\tMax bcast/mcast queue length\t0\n"
    "END\n")


class Management:
    """A unix socket that answers as OpenVPN's management interface; ``received`` keeps the commands."""

    def __init__(self, greeting=">INFO:OpenVPN Management Interface Version 5 -- type 'help' for more info\n",
                 refuse=()):
        self.directory = tempfile.mkdtemp()
        self.path = os.path.join(self.directory, "lab.sock")
        self.greeting = greeting
        self.refuse = set(refuse)
        self.received = []
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.path)
        self.listener.listen(1)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        connection = self.listener.accept()[0]
        with connection, connection.makefile("rw", encoding="utf-8", newline="\n") as stream:
            stream.write(self.greeting)
            stream.flush()
            for line in stream:
                command = line.strip()
                self.received.append(command)
                if command == "status 3":
                    # A real-time notification may arrive between replies.
                    stream.write(">BYTECOUNT_CLI:4,100,200\n" + STATUS_3)
                elif command.startswith("client-kill "):
                    cid = int(command.split()[1])
                    stream.write("ERROR: client-kill command failed\n" if cid in self.refuse
                                 else ">NOTIFY:info,remote-exit\nSUCCESS: client-kill command succeeded\n")
                stream.flush()

    def close(self):
        self.listener.close()
        self.thread.join(timeout=2)


class Host(ReplayProbe):
    """The recorded VM; its server config names ``socket_path`` as management, and restarts are noted."""

    def __init__(self, socket_path=None, restart_rc=0):
        record = copy.deepcopy(load_fixture(FIXTURE)["probe"])
        one_systemctl_show(record["run"])
        if socket_path:
            record["read"]["/etc/openvpn/server/lab.conf"] += "management %s unix\n" % socket_path
        super().__init__(record)
        self.restart_rc = restart_rc
        self.restarted = []

    def run(self, argv):
        if argv[:2] == ["systemctl", "restart"]:
            self.restarted.append(argv[2])
            return CommandResult(self.restart_rc, "", "Job for %s failed." % argv[2] if self.restart_rc else "")
        return super().run(argv)


@pytest.fixture
def management():
    server = Management()
    yield server
    server.close()


def test_server_tells_each_client_to_reconnect_then_restarts(management):
    host, pauses = Host(management.path), []
    result = _restart.restart_unit(host, SERVER, 0.3, False, sleep=pauses.append)
    assert result == {"management_socket": management.path, "clients_told": 2, "management_error": None}
    assert management.received == ["status 3", "client-kill 4 RESTART", "client-kill 9 RESTART"]
    assert pauses == [0.3], "the pause comes between the messages and the restart"
    assert host.restarted == [SERVER]


def test_a_client_the_server_does_not_find_is_not_counted():
    server = Management(refuse={9})
    try:
        result = _restart.restart_unit(Host(server.path), SERVER, 0, False, sleep=lambda _s: None)
    finally:
        server.close()
    assert result["clients_told"] == 1


@pytest.mark.parametrize("socket_path, why", [
    (None, None),                                             # no management interface: just the restart
    ("/nonexistent/lab.sock", "No such file or directory"),   # OpenVPN's socket is gone: still restart
])
def test_without_a_usable_management_socket_the_unit_still_restarts(socket_path, why):
    host, pauses = Host(socket_path), []
    result = _restart.restart_unit(host, SERVER, 0.3, False, sleep=pauses.append)
    assert host.restarted == [SERVER]
    assert result["clients_told"] == 0 and pauses == []
    if why is None:
        assert result["management_error"] is None
    else:
        assert why in result["management_error"] and "ping-restart" in result["management_error"]


def test_a_password_protected_interface_is_not_used_and_the_unit_restarts():
    server = Management(greeting="ENTER PASSWORD:")
    try:
        host = Host(server.path)
        result = _restart.restart_unit(host, SERVER, 0.3, False, sleep=lambda _s: None)
    finally:
        server.close()
    assert "password-protected" in result["management_error"]
    assert server.received == [], "no command is sent to an interface that asks for a password"
    assert host.restarted == [SERVER]


def test_a_client_unit_is_only_restarted(management):
    # Even with a management socket: a client has no clients to tell.
    host = Host(management.path)
    result = _restart.restart_unit(host, CLIENT, 0.3, False, sleep=lambda _s: None)
    assert result == {"management_socket": None, "clients_told": 0, "management_error": None}
    assert host.restarted == [CLIENT]


def test_check_mode_tells_nobody_and_restarts_nothing(run_module, monkeypatch, management):
    host = Host(management.path)
    monkeypatch.setattr(openvpn_restart, "ModuleProbe", lambda _module: host)
    failed, result = run_module(openvpn_restart.main, {"unit": SERVER}, check_mode=True)
    assert not failed and result["changed"] is True
    assert result["management_socket"] == management.path and result["clients_told"] == 0
    assert host.restarted == [] and management.received == []


def test_module_restarts_and_reports(run_module, monkeypatch, management):
    host = Host(management.path)
    monkeypatch.setattr(openvpn_restart, "ModuleProbe", lambda _module: host)
    monkeypatch.setattr(_restart.time, "sleep", lambda _seconds: None)
    failed, result = run_module(openvpn_restart.main, {"unit": SERVER})
    assert not failed
    assert result == {"changed": True, "management_socket": management.path, "clients_told": 2, "management_error": None}


@pytest.mark.parametrize("args, restart_rc, words", [
    ({"unit": "openvpn-server@nope.service"}, 0, ["no OpenVPN unit of that name", "systemctl list-units"]),
    ({"unit": SERVER}, 1, ["restart openvpn-server@lab.service: systemctl failed", "journalctl -u"]),
    ({"unit": SERVER, "settle": 9}, 0, ["settle must be between 0 and 5"]),
])
def test_failures_say_what_to_do(run_module, monkeypatch, args, restart_rc, words):
    host = Host(restart_rc=restart_rc)
    monkeypatch.setattr(openvpn_restart, "ModuleProbe", lambda _module: host)
    failed, result = run_module(openvpn_restart.main, args)
    assert failed
    for word in words:
        assert word in result["msg"]


def test_client_ids_come_from_status_3():
    assert _restart.client_ids(STATUS_3) == [4, 9]


def test_tunnel_info_greets_the_interface_the_same_way(management):
    # tunnel_info and openvpn_restart open the interface through the one _host.open_management.
    from ansible_collections.ovpnfleet.dco.plugins.module_utils.tunnels._host import TunnelHost
    clients = TunnelHost(None).management(management.path, "server")["clients"]
    assert [client["common_name"] for client in clients] == ["lab-client-1", "lab-client-2"]


def test_tunnel_info_answers_a_password_prompt_at_once_and_sends_nothing():
    from ansible_collections.ovpnfleet.dco.plugins.module_utils.tunnels._host import TunnelHost
    server = Management(greeting="ENTER PASSWORD:")
    try:
        started = time.monotonic()
        answer = TunnelHost(None).management(server.path, "server")
        elapsed = time.monotonic() - started
    finally:
        server.close()
    assert "password-protected" in answer["error"]
    assert elapsed < 2, "it does not wait for a newline the prompt never sends (the timeout is 3 s)"
    assert server.received == []
