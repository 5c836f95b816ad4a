# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""tunnel_info's log and file reads: a log it cannot read is not a log that said nothing, and
no read hangs on a FIFO or fills memory from a device or a huge file."""

from __future__ import annotations

import base64
import errno
import os
import threading

import pytest

from ansible_collections.ovpnfleet.dco.plugins.module_utils import _probe
from ansible_collections.ovpnfleet.dco.plugins.module_utils.tunnels import _instances as tunnels
from ansible_collections.ovpnfleet.dco.tests.unit.host_probes import load_fixture
from ansible_collections.ovpnfleet.dco.tests.unit.plugins.module_utils.tunnels.test_tunnels import FIXTURES, asked_as_today
from ansible_collections.ovpnfleet.dco.tests.unit.tunnel_hosts import ReplayTunnelHost

LOG = "/var/log/openvpn/server-lab.log"


def container_with_log(answer):
    """The lab container's recording, its daemon's --log file answering ``answer``."""
    fixture = asked_as_today(load_fixture(os.path.join(FIXTURES, "container-userspace.json")))
    fixture["probe"]["read_tail"]["%s %d" % (LOG, tunnels.LOG_TAIL_BYTES)] = answer
    return fixture


@pytest.mark.parametrize("why", ["permission denied (is the play run with become?)", "not a regular file",
                                 "it does not exist"])
def test_a_log_it_cannot_read_is_not_a_log_that_said_nothing(why):
    fixture = container_with_log([None, why])
    [server] = tunnels.gather(ReplayTunnelHost(fixture), fixture["options"])
    assert server["interface"] is None and not server["healthy"]
    assert server["problems"][0].startswith("no tunnel interface found: cannot read its log %s: %s" % (LOG, why))
    assert not any("logged no opened device" in problem for problem in server["problems"])


def test_a_log_read_without_an_opened_device_says_so():
    fixture = container_with_log(["2026-11-25 07:35:56 us=1 OpenVPN 2.6.14 x86_64-pc-linux-gnu\n", None])
    [server] = tunnels.gather(ReplayTunnelHost(fixture), fixture["options"])
    assert server["problems"][0] == "no tunnel interface found (OpenVPN logged no opened device since it started): read " + LOG


def test_the_log_named_in_the_config_is_read_when_the_command_line_names_none():
    fixture = asked_as_today(load_fixture(os.path.join(FIXTURES, "container-userspace.json")))
    probe = fixture["probe"]
    argv = "openvpn\0--config\0/etc/openvpn/server/lab.conf\0--cd\0/etc/openvpn/server\0"
    probe["read_bytes"]["/proc/35/cmdline"] = base64.b64encode(argv.encode()).decode()
    probe["read"]["/etc/openvpn/server/lab.conf"] += "log-append /var/log/openvpn/server-lab.log\n"
    [server] = tunnels.gather(ReplayTunnelHost(fixture), fixture["options"])
    assert server["interface"] == "tun0" and server["dco_off_reason"].startswith("Note: '--allow-compression'")


def test_an_instance_without_any_log_says_where_it_looked():
    instance = {"unit": None, "pid": 7, "log": None, "cwd": "/"}
    assert tunnels.read_log(None, instance) == (
        [], "it logs nowhere tunnel_info reads (no systemd unit, no --log or --log-append)", None)


def test_read_tail_keeps_whole_lines_of_the_end_only(tmp_path):
    path = tmp_path / "big.log"
    path.write_bytes(b"".join(b"line %06d\n" % number for number in range(100000)))
    text, why = _probe.FileProbe().read_tail(str(path), 1000)
    assert why is None and len(text) <= 1000
    assert text.endswith("line 099999\n") and text.startswith("line ")
    assert all(len(line) == 11 for line in text.splitlines())


def run_briefly(function, *args):
    """function(*args), failing the test instead of hanging it."""
    outcome = []
    worker = threading.Thread(target=lambda: outcome.append(function(*args)), daemon=True)
    worker.start()
    worker.join(5)
    assert outcome, "%s%r did not return within 5 s" % (function.__name__, args)
    return outcome[0]


def test_no_read_hangs_on_a_fifo_or_fills_memory_from_a_device(tmp_path):
    fifo = str(tmp_path / "fifo")
    os.mkfifo(fifo)
    probe = _probe.FileProbe()
    assert run_briefly(probe.read_tail, fifo, 1000) == [None, "not a regular file"]
    assert run_briefly(probe.read, fifo) is None
    assert run_briefly(probe.read_bytes, "/dev/zero") is None
    assert run_briefly(probe.read_tail, str(tmp_path / "missing"), 1000) == [None, "it does not exist"]
    assert probe.read_tail(str(tmp_path), 1000) == [None, "not a regular file"]


def test_a_file_larger_than_the_cap_is_not_read(tmp_path, monkeypatch):
    monkeypatch.setattr(_probe, "MAX_READ_BYTES", 100)
    path = tmp_path / "status.log"
    path.write_text("x" * 101)
    assert _probe.FileProbe().read(str(path)) is None
    path.write_text("x" * 100)
    assert _probe.FileProbe().read(str(path)) == "x" * 100


def test_permission_denied_is_named(tmp_path, monkeypatch):
    def refuse(path, flags, *args):
        raise OSError(errno.EACCES, "Permission denied", path)
    monkeypatch.setattr(_probe.os, "open", refuse)
    assert _probe.FileProbe().read_tail(str(tmp_path / "x.log"), 10) == [
        None, "permission denied (is the play run with become?)"]


def test_a_reason_line_is_not_echoed_whole():
    said = tunnels.what_the_log_says(["Note: disabling data channel offload " + "x" * 5000])
    assert len(said["dco_off_reason"]) == tunnels.MAX_LOG_LINE
