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
    # The unknown name is text of the file: the message stops before it (see test_no_leaks_*).
    assert result["errors"][0]["msg"] == "Unrecognized option or missing or extra parameter(s) in <content>:3"
    assert (result["errors"][0]["file"], result["errors"][0]["line"]) == ("<content>", 3)


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


def strings(value):
    """Every string in a result, keys included."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from strings(item)
    elif isinstance(value, str):
        yield value


def test_no_leaks_from_a_link_to_a_file_that_is_no_config(run_module, monkeypatch, tmp_path):
    # A link to /etc/shadow: its lines must not come back in options[].raw or errors.
    secret = tmp_path / "shadow"
    secret.write_text("root:$y$j9T$SECRETHASH:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n"
                      "SECRETWORD two three\n")
    link = tmp_path / "server.conf"
    link.symlink_to(secret)
    failed, result = run(run_module, monkeypatch, {"path": str(link), "openvpn_version": "2.6.14"})
    assert not failed, result
    assert result["dco_compatible"] is None
    assert not [text for text in strings(result) if "SECRET" in text or "root:" in text]
    assert [(o["name"], o["args"], o["raw"], o["line"]) for o in result["options"]] == [
        (None, [], None, 1), (None, [], None, 2), (None, [], None, 3)]
    assert [e["line"] for e in result["errors"] if e["stage"] == "parse"] == [1, 2, 3]


@pytest.mark.parametrize("opening,closing", [
    ("<key >", "</key>"),
    ("< key>", "</key>"),
    ("<key", "</key>"),
    ("<KEY>", "</KEY>"),
    ("<tls-crypt-v2 >", "</tls-crypt-v2>"),
    ("<tls-auth>", "</tls-auth"),          # openvpn never sees the end: reads to the end
    ("<secret>", "</ secret>"),
    ("<auth-user-pass>", "</auth-user-pass >"),
    ('"<key >"', "</key >"),
    ("<key>", None),                       # unterminated
    ("<key >", None),
    ("  < Tls-Crypt >", "</tls-crypt>"),
])
def test_no_leaks_of_inline_key_blocks_however_spelled(run_module, monkeypatch, opening, closing):
    body = "SECRETLINE1\nverb 3 SECRETLINE2\nfloat\nsetenv SECRETLINE3 x\n"
    content = "client\ndev tun\nremote 192.0.2.1\n%s\n%s%s" % (
        opening, body, closing + "\n" if closing else "")
    failed, result = run(run_module, monkeypatch, {"content": content, "openvpn_version": "2.6.14"})
    assert not failed, result
    assert not [text for text in strings(result) if "SECRETLINE" in text]
    assert result["dco_compatible"] is None     # openvpn refuses each of them


def test_no_leaks_of_key_blocks_in_connection_blocks(run_module, monkeypatch):
    content = ("client\ndev tun\n<connection>\nremote 192.0.2.1\n<tls-auth>\nSECRETLINE\n"
               "</tls-auth>\n</connection>\n")
    failed, result = run(run_module, monkeypatch, {"content": content, "openvpn_version": "2.6.14"})
    assert not failed, result
    assert not [text for text in strings(result) if "SECRETLINE" in text]
    connection = [o for o in result["options"] if o["name"] == "connection"][0]
    assert [child["name"] for child in connection["children"]] == ["remote", "tls-auth"]


def test_no_leaks_in_configs_error_message(run_module, monkeypatch, tmp_path):
    # config (the writing module) fails with the parser's errors in its message.
    from ansible_collections.ovpnfleet.dco.plugins.modules import config
    path = tmp_path / "client.conf"
    path.write_text("client\ndev tun\nremote 192.0.2.1\n<key >\nSECRETLINE\n</key>\n")
    monkeypatch.setattr(config, "ModuleProbe", lambda module: NoCommands(), raising=False)
    failed, result = run_module(config.main, {"path": str(path), "openvpn_version": "2.6.14"})
    assert failed
    assert "would refuse this config" in result["msg"] and ":4" in result["msg"], result["msg"]
    assert not [text for text in strings(result) if "SECRETLINE" in text]


@pytest.mark.parametrize("kind", ["fifo", "device", "directory"])
def test_only_regular_files_are_read(run_module, monkeypatch, tmp_path, kind):
    if kind == "fifo":
        path = str(tmp_path / "pipe.conf")
        os.mkfifo(path)        # no writer: a plain open() would wait forever
    elif kind == "device":
        path = "/dev/zero"     # read() would end in MemoryError
    else:
        path = str(tmp_path)
    failed, result = run(run_module, monkeypatch, {"path": path, "openvpn_version": "2.6"})
    assert failed
    assert "not a regular file" in result["msg"]


def test_an_include_of_a_device_is_refused_too(run_module, monkeypatch, tmp_path):
    path = tmp_path / "server.conf"
    path.write_text("dev tun\nconfig /dev/zero\n")
    failed, result = run(run_module, monkeypatch, {"path": str(path), "openvpn_version": "2.6"})
    assert failed
    assert result["msg"] == ("read OpenVPN config /dev/zero: it is a character device, not a regular "
                             "file; give the path of the config file itself (the config line at %s:2)" % path)
    assert (result["path"], result["line"]) == (str(path), 2)


def test_files_larger_than_the_limit_are_refused(run_module, monkeypatch, tmp_path):
    path = tmp_path / "big.conf"
    path.write_text("verb 3\n" * (1024 * 1024 // 7 + 1))
    failed, result = run(run_module, monkeypatch, {"path": str(path), "openvpn_version": "2.6"})
    assert failed
    assert "larger than 1048576 bytes (1 MiB)" in result["msg"]
    failed, result = run(run_module, monkeypatch, {"content": path.read_text(), "openvpn_version": "2.6"})
    assert failed
    assert "larger than 1048576 bytes (1 MiB)" in result["msg"]


def test_latin1_values_come_back_as_valid_utf8(run_module, monkeypatch, tmp_path):
    path = tmp_path / "client.conf"
    path.write_bytes(b"client\ndev tun\nremote 192.0.2.1\nsetenv NAME caf\xe9\ncomp-lzo caf\xe9\n")
    failed, result = run(run_module, monkeypatch, {"path": str(path), "openvpn_version": "2.6.14"})
    assert not failed, result
    for text in strings(result):
        text.encode("utf-8")   # Ansible refuses to deserialize anything else
    setenv = [o for o in result["options"] if o["name"] == "setenv"][0]
    assert setenv["args"] == ["NAME", "caf\\xe9"]
    assert "bad comp-lzo option: caf\\xe9" in [e["msg"] for e in result["errors"]][0]


def test_relative_include_in_content_needs_cwd(run_module, monkeypatch, tmp_path):
    (tmp_path / "common.inc").write_text("verb 3\n")
    content = "client\ndev tun\nconfig common.inc\n"
    failed, result = run(run_module, monkeypatch, {"content": content, "openvpn_version": "2.6"})
    assert failed
    assert result["msg"] == ("read OpenVPN config common.inc: the include at <content>:3 is a relative "
                             "path and no directory to resolve it is known; set cwd to the directory "
                             "openvpn runs in (its --cd) or use an absolute path")
    assert (result["path"], result["line"]) == ("<content>", 3)
    failed, result = run(run_module, monkeypatch, {"content": content, "cwd": str(tmp_path),
                                                   "openvpn_version": "2.6"})
    assert not failed, result
    assert result["files"] == [str(tmp_path / "common.inc")]


def test_failure_on_a_non_utf8_include_name_is_valid_utf8(run_module, monkeypatch, tmp_path):
    path = tmp_path / "client.conf"
    path.write_bytes(b"client\ndev tun\nconfig caf\xe9.inc\n")
    failed, result = run(run_module, monkeypatch, {"path": str(path), "openvpn_version": "2.6"})
    assert failed
    for text in strings(result):
        text.encode("utf-8")
    assert result["msg"] == "read OpenVPN config %s: No such file or directory (the config line at %s:3)" % (
        tmp_path / "caf\\xe9.inc", path)
    assert (result["path"], result["line"]) == (str(path), 3)
