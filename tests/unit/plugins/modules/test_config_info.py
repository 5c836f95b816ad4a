# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""config_info on corpus configs; the OpenVPN version comes from hosts recorded in
tests/unit/fixtures/host_info/ (their real ``openvpn --version`` answers)."""

from __future__ import annotations

import os

import pytest

from ansible_collections.ovpnfleet.dco.plugins.modules import config_info
from ansible_collections.ovpnfleet.dco.tests.unit.host_probes import ReplayProbe, load_fixture

HOSTS = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "host_info")
CORPUS = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "openvpn_configs"))


class NoCommands:
    def run(self, argv):
        raise AssertionError("config_info ran %s although openvpn_version was given" % argv)


def run(run_module, monkeypatch, args, host=None, check_mode=False):
    probe = ReplayProbe(load_fixture(os.path.join(HOSTS, host + ".json"))["probe"]) if host else NoCommands()
    monkeypatch.setattr(config_info, "ModuleProbe", lambda module: probe)
    return run_module(config_info.main, args, check_mode=check_mode)


@pytest.mark.parametrize("host,version,source,compatible", [
    ("debian12-fresh", "2.6.14", "installed", False),
    ("debian13-bpo-fresh", "2.7.8", "installed", True),
    ("build-machine", "2.6.22", "default", False),   # no openvpn there: the 2.6 rules
])
def test_version_of_the_host_decides(run_module, monkeypatch, host, version, source, compatible):
    path = os.path.join(CORPUS, "server-default-topology.conf")
    failed, result = run(run_module, monkeypatch, {"path": path}, host=host)
    assert not failed, result
    assert (result["openvpn_version"], result["openvpn_version_source"]) == (version, source)
    assert result["dco_compatible"] is compatible
    assert result["changed"] is False
    assert result["mode"] == "server"
    assert result["files"] == [path]


def test_blockers_name_file_and_line_of_an_include(run_module, monkeypatch):
    path = os.path.join(CORPUS, "server-include-comp.conf")
    failed, result = run(run_module, monkeypatch, {"path": path, "openvpn_version": "2.7.8"},
                         check_mode=True)
    assert not failed, result
    assert result["dco_compatible"] is False
    assert [(b["option"], os.path.basename(b["file"]), b["line"]) for b in result["blockers"]] == [
        ("comp-lzo", "legacy-comp.inc", 2)]
    assert [os.path.basename(f) for f in result["files"]] == [
        "server-include-comp.conf", "common-server.inc", "legacy-comp.inc"]
    assert [o["name"] for o in result["options"]][:5] == ["dev", "server", "topology", "config", "ca"]


def test_content_with_inline_key_keeps_the_key_out_of_the_result(run_module, monkeypatch):
    with open(os.path.join(CORPUS, "client-syntax.conf")) as handle:
        content = handle.read()
    failed, result = run(run_module, monkeypatch, {"content": content, "openvpn_version": "2.6"})
    assert not failed, result
    assert result["dco_compatible"] is True
    crypt = [o for o in result["options"] if o["name"] == "tls-crypt"][0]
    assert crypt["args"] == ["VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"]
    assert "BEGIN OpenVPN Static key" not in str(result)


def test_refused_config_is_a_result_not_a_failure(run_module, monkeypatch):
    failed, result = run(run_module, monkeypatch, {"content": "client\ndev tun\ncomp-lz0 no\n",
                                                   "openvpn_version": "2.6.14"})
    assert not failed
    assert result["dco_compatible"] is None
    assert result["errors"][0]["msg"].startswith("Unrecognized option or missing or extra parameter(s) "
                                                 "in <content>:3: comp-lz0 (2.6.14)")


@pytest.mark.parametrize("args,message", [
    ({"path": os.path.join(CORPUS, "err-include-loop.conf"), "openvpn_version": "2.6"},
     "read OpenVPN config %s: include loop" % os.path.join(CORPUS, "err-include-loop.conf")),
    ({"path": os.path.join(CORPUS, "no-such.conf"), "openvpn_version": "2.6"},
     "read OpenVPN config %s: No such file or directory" % os.path.join(CORPUS, "no-such.conf")),
    ({"content": "dev tun\n", "openvpn_version": "2.5.9"}, "the DCO rules cover OpenVPN 2.6.x and 2.7.x"),
    ({"content": "dev tun\n", "path": "/etc/openvpn/x.conf"}, "parameters are mutually exclusive: path|content"),
    ({}, "one of the following is required: path, content"),
])
def test_failures(run_module, monkeypatch, args, message):
    failed, result = run(run_module, monkeypatch, args)
    assert failed
    assert message in result["msg"]


def test_openvpn_warnings_stay_out_of_the_key_ansible_reserves(run_module, monkeypatch):
    # Ansible reads a result's "warnings" as strings to print; dicts there fail the task.
    content = "client\ndev tun\nremote 192.0.2.1\nignore-unknown-option block-outside-dns\nblock-outside-dns\n"
    failed, result = run(run_module, monkeypatch, {"content": content, "openvpn_version": "2.6.14"})
    assert not failed, result
    assert "warnings" not in result
    assert [w["msg"] for w in result["openvpn_warnings"]] == ["openvpn ignores unknown option 'block-outside-dns' here"]
