# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab's Access Server STAND-IN (tests/lab/access_server_standin): its sacli keeps the
contract of issue 15 (ConfigPut stores strings and restarts nothing, the daemons follow the
store), the daemon configs it writes are what our own DCO rules call DCO-ready exactly when the
key is on, and the client profiles it hands out are DCO-ready. Nothing here is Access Server."""

from __future__ import annotations

import json
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", ".."))
from tests.lab import access_server_standin as standin  # noqa: E402  pylint: disable=wrong-import-position
from tests.lab.access_server_standin import sacli_standin as sacli  # noqa: E402  pylint: disable=wrong-import-position
from tests.lab.common import LabError  # noqa: E402  pylint: disable=wrong-import-position

from ansible_collections.ovpnfleet.dco.plugins.module_utils.openvpn._config import parse_text  # noqa: E402
from ansible_collections.ovpnfleet.dco.plugins.module_utils.openvpn._dco_rules import evaluate  # noqa: E402

STORE = {"vpn.daemon.0.client.network": "10.111.0.0", "vpn.daemon.0.client.netmask_bits": "20",
         "vpn.server.daemon.tcp.port": "1443", "vpn.server.daemon.udp.port": "1195"}
LAB = {"vms": {"debian12-1": {"platform": "debian12", "lan_ip": "192.0.2.11"},
               "debian13-bpo-1": {"platform": "debian13-bpo", "lan_ip": "192.0.2.21"}},
       "containers": {}}


@pytest.fixture
def prefix(tmp_path, monkeypatch):
    """The stand-in's paths in a temporary directory; signals to the supervisor fail the test."""
    for name, relative in (("STORE", "etc/config-standin.json"), ("INFO", "etc/standin.json"),
                           ("FAULT", "etc/standin-fault"), ("TMP", "etc/tmp"), ("STATE", "run/state.json"),
                           ("SYS", "sys")):
        monkeypatch.setattr(sacli, name, str(tmp_path / relative))
    (tmp_path / "etc" / "tmp").mkdir(parents=True)
    (tmp_path / "run").mkdir()

    def no_signal(pid, number):
        raise AssertionError("signal %s to %s: ConfigPut and the read-only commands never restart" % (number, pid))
    monkeypatch.setattr(sacli.os, "kill", no_signal)
    return tmp_path


def _sacli(capsys, *argv):
    rc = sacli.main(list(argv))
    return rc, capsys.readouterr().out


def test_standin_configput_stores_the_string_unvalidated_and_restarts_nothing(prefix, capsys):
    assert _sacli(capsys, "--key", sacli.DCO_KEY, "--value", "yes", "ConfigPut") == (0, "")
    assert _sacli(capsys, "--key", "vpn.server.daemon.tcp.n_daemons", "--value", "1", "ConfigPut")[0] == 0
    rc, out = _sacli(capsys, "ConfigQuery")
    assert rc == 0
    assert json.loads(out) == {sacli.DCO_KEY: "yes", "vpn.server.daemon.tcp.n_daemons": "1"}


def test_standin_refuses_what_the_contract_does_not_have(prefix, capsys):
    assert _sacli(capsys, "--key", sacli.DCO_KEY, "ConfigPut")[0] == 2
    assert _sacli(capsys, "restart")[0] == 2
    assert not os.path.exists(sacli.STORE)


def test_standin_status_fails_when_its_service_is_down(prefix, capsys):
    assert _sacli(capsys, "status") == (1, "")


@pytest.mark.parametrize("cores, tcp, udp, devices", [
    (2, None, None, ["as0t0", "as0t1", "as0u0", "as0u1"]),
    (4, "1", "2", ["as0t0", "as0u0", "as0u1"]),
])
def test_standin_runs_one_daemon_per_core_unless_the_store_says(cores, tcp, udp, devices):
    store = dict(STORE)
    if tcp:
        store.update({"vpn.server.daemon.tcp.n_daemons": tcp, "vpn.server.daemon.udp.n_daemons": udp})
    daemons = sacli.plan_daemons(store, cores, dco=True)
    assert [d["dev"] for d in daemons] == devices
    assert [d["name"] for d in daemons] == ["openvpn_%d" % n for n in range(len(devices))]
    assert len({d["port"] for d in daemons if d["proto"] == "udp"} | {1194}) == 1 + len(
        [d for d in daemons if d["proto"] == "udp"]), "a UDP daemon on the ring's port 1194"
    assert len({d["network"] for d in daemons}) == len(devices)


@pytest.mark.parametrize("version", ["2.6.14", "2.7.0"])
@pytest.mark.parametrize("key, fault, dco_ready", [
    ("true", "", True), ("false", "", False), ("True", "", True), ("true", "dco-userspace", False),
])
def test_standin_daemon_configs_are_dco_ready_exactly_when_the_key_is_on(version, key, fault, dco_ready):
    store = dict(STORE, **{sacli.DCO_KEY: key})
    for daemon in sacli.plan_daemons(store, 2, sacli.dco_wanted(store, (2, 14)), fault):
        verdict = evaluate(parse_text(sacli.render_daemon(daemon), name=daemon["dev"] + ".conf"), version)
        assert verdict["errors"] == []
        assert verdict["mode"] == "server"
        assert verdict["dco_compatible"] is dco_ready, (daemon, verdict["blockers"])


@pytest.mark.parametrize("major_minor, default", [((2, 14), False), ((3, 0), True), ((3, 2), True)])
def test_standin_unset_key_follows_access_servers_documented_default(major_minor, default):
    assert sacli.dco_wanted(dict(STORE), major_minor) is default


@pytest.mark.parametrize("version, module", [("2.14.3-standin-Debian12", "ovpn_dco_v2"),
                                             ("3.2.0-standin-Debian13", "ovpn")])
def test_standin_vpnsummary_reports_the_module_of_its_version(prefix, capsys, version, module):
    with open(sacli.INFO, "w") as handle:
        json.dump({"version": version}, handle)
    assert json.loads(_sacli(capsys, "VPNSummary")[1]) == {
        "n_clients": 0, "ovpn_dco_available": False, "ovpn_dco_ver": "Kernel module not loaded"}
    os.makedirs(os.path.join(sacli.SYS, "module", module))
    assert json.loads(_sacli(capsys, "VPNSummary")[1])["ovpn_dco_available"] is True


def test_standin_counts_clients_in_status_version_2():
    text = ("TITLE,OpenVPN 2.6.14\nHEADER,CLIENT_LIST,Common Name\nCLIENT_LIST,a,192.0.2.21:1\n"
            "CLIENT_LIST,b,192.0.2.21:2\nHEADER,ROUTING_TABLE\nROUTING_TABLE,10.111.2.2,a\nEND\n")
    assert sacli.count_clients(text) == 2


@pytest.mark.parametrize("version", ["2.6.14", "2.7.0"])
@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_standin_client_profiles_are_plain_dco_ready_configs(monkeypatch, version, transport):
    monkeypatch.setattr(standin.pki, "read", lambda name: "-----BEGIN %s-----\n" % name)
    files = standin.client_files("debian13-bpo-1", "debian12-1", LAB["vms"]["debian12-1"])
    text = files["/etc/openvpn/client/as-standin-debian12-1-%s.conf" % transport][0]
    verdict = evaluate(parse_text(text, name="profile.conf"), version)
    assert (verdict["mode"], verdict["dco_compatible"], verdict["errors"]) == ("client", True, [])
    assert "remote 192.0.2.11 %d" % standin.PORTS[transport] in text
    assert files["/etc/openvpn/as-standin-pki/debian12-1/client.key"][1] == 0o600


def test_standin_package_carries_the_version_our_probe_reads(monkeypatch):
    monkeypatch.setattr(standin.pki, "read", lambda name: name)
    for name, version in (("debian12-1", "2.14.3-standin-Debian12"), ("debian13-bpo-1", "3.2.0-standin-Debian13")):
        files = standin.server_files(name, LAB["vms"][name])
        control = files[standin.BUILD + "/pkg/DEBIAN/control"][0]
        assert "Package: openvpn-as\nVersion: %s\n" % version in control
        assert files[standin.BUILD + "/pkg" + standin.SACLI][1] == 0o755
        assert files["/usr/local/openvpn_as/etc/web-ssl/server.key"] == ("%s-as-standin.server.key" % name, 0o600)


def test_standin_clients_run_on_the_next_vm_of_the_ring():
    assert standin.client_vm(LAB, "debian12-1") == "debian13-bpo-1"
    assert standin.client_vm(LAB, "debian13-bpo-1") == "debian12-1"
    with pytest.raises(LabError, match="two VMs"):
        standin.client_vm({"vms": {"debian12-1": LAB["vms"]["debian12-1"]}}, "debian12-1")


def test_standin_settings_keep_clear_of_the_ring_and_of_each_other():
    first, second = (standin.settings(LAB["vms"][name], "false") for name in sorted(LAB["vms"]))
    assert first["vpn.daemon.0.client.network"] != second["vpn.daemon.0.client.network"]
    assert first[sacli.DCO_KEY] == "false"
    assert standin.PORTS["udp"] != 1194


FAKE_OPENVPN = """\
import os, signal, sys, time
config = open(sys.argv[sys.argv.index("--config") + 1]).read().split("\\n")
dev = next(line.split()[1] for line in config if line.startswith("dev "))
path = os.path.join(%(net)r, dev)
with open(path, "w") as handle:
    handle.write("tun" if "disable-dco" in config else "dco")
signal.signal(signal.SIGTERM, lambda *_: (os.unlink(path), sys.exit(0)))
while True:
    time.sleep(0.2)
"""


def test_standin_start_restarts_every_daemon_from_the_store(tmp_path, monkeypatch, capsys):
    """The supervisor as the openvpnas unit runs it, over a fake openvpn that only makes its
    device: ConfigPut changes no daemon, start brings them all back with the key applied."""
    paths = {"STORE": "etc/config-standin.json", "INFO": "etc/standin.json", "FAULT": "etc/standin-fault",
             "TMP": "etc/tmp", "RUN": "run", "STATE": "run/state.json", "LOG": "openvpnas.log", "SYS": "sys"}
    for name, relative in paths.items():
        monkeypatch.setattr(sacli, name, str(tmp_path / relative))
    net = tmp_path / "sys" / "class" / "net"
    net.mkdir(parents=True)
    (tmp_path / "etc").mkdir()
    fake = tmp_path / "openvpn.py"
    fake.write_text(FAKE_OPENVPN % {"net": str(net)})
    monkeypatch.setattr(sacli, "OPENVPN", sys.executable)
    monkeypatch.setattr(sacli, "START_TIMEOUT", 20)
    for key, value in dict(STORE, **{sacli.DCO_KEY: "false", "vpn.server.daemon.tcp.n_daemons": "1",
                                     "vpn.server.daemon.udp.n_daemons": "1"}).items():
        assert sacli.main(["--key", key, "--value", value, "ConfigPut"]) == 0
    code = ("import sys; sys.path.insert(0, %r); import sacli_standin as s\n" % os.path.dirname(sacli.__file__)
            + "".join("s.%s = %r\n" % (name, str(tmp_path / relative)) for name, relative in paths.items())
            + "s.OPENVPN = %r\n" % sys.executable
            # The fake openvpn is a script: the daemons run it with the generated config.
            + "import subprocess; real = subprocess.Popen\n"
            + "subprocess.Popen = lambda argv, **kw: real([argv[0], %r] + argv[1:], **kw)\n" % str(fake)
            + "sys.exit(s.Supervisor().run())\n")
    supervisor = __import__("subprocess").Popen([sys.executable, "-c", code])
    try:
        for _attempt in range(100):
            if sorted(os.listdir(net)) == ["as0t0", "as0u0"]:
                break
            __import__("time").sleep(0.1)
        kinds = {dev: (net / dev).read_text() for dev in os.listdir(net)}
        assert kinds == {"as0t0": "tun", "as0u0": "tun"}
        assert sacli.main(["status"]) == 0
        status = json.loads(capsys.readouterr().out)
        assert status["service_status"] == {"api": "on", "openvpn_0": "on", "openvpn_1": "on"}
        pids = [d["pid"] for d in sacli.read_state()["daemons"]]

        assert sacli.main(["--key", sacli.DCO_KEY, "--value", "true", "ConfigPut"]) == 0
        assert [d["pid"] for d in sacli.read_state()["daemons"]] == pids
        assert {dev: (net / dev).read_text() for dev in os.listdir(net)} == kinds

        assert sacli.main(["start"]) == 0
        assert json.loads(capsys.readouterr().out)["errors"] == {}
        state = sacli.read_state()
        assert state["generation"] == 2
        assert not set(d["pid"] for d in state["daemons"]) & set(pids)
        assert {dev: (net / dev).read_text() for dev in os.listdir(net)} == {"as0t0": "dco", "as0u0": "dco"}

        # The kmod role's module swap: sacli stop, then sacli start.
        assert sacli.main(["stop"]) == 0
        assert json.loads(capsys.readouterr().out)["service_status"] == {
            "api": "on", "openvpn_0": "off", "openvpn_1": "off"}
        assert os.listdir(net) == []
        assert sacli.main(["start"]) == 0
        assert sorted(os.listdir(net)) == ["as0t0", "as0u0"]
    finally:
        supervisor.terminate()
        supervisor.wait(20)
    assert os.listdir(net) == []


def test_tar_of_keeps_paths_text_and_modes_for_one_ssh_call():
    # The lab's one way to send files (the brownfield's and the stand-in's): a key stays 0600.
    import io
    import tarfile
    from tests.lab.common import tar_of
    archive = tarfile.open(fileobj=io.BytesIO(tar_of({"/etc/openvpn/client/a.conf": ("client\n", 0o644),
                                                      "/etc/openvpn/lab-pki/client.key": ("KEY", 0o600)})))
    members = {member.name: member for member in archive.getmembers()}
    assert sorted(members) == ["etc/openvpn/client/a.conf", "etc/openvpn/lab-pki/client.key"]
    assert members["etc/openvpn/lab-pki/client.key"].mode == 0o600
    assert archive.extractfile("etc/openvpn/client/a.conf").read() == b"client\n"


@pytest.mark.parametrize("command", ["status", "start", "stop"])
def test_standin_commands_that_need_the_service_say_it_is_not_running(prefix, capsys, command):
    assert sacli.main([command]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "openvpnas service is not running" in captured.err
