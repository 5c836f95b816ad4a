# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The smallest DCO edit: which lines change, what peers notice, what is left alone."""

from __future__ import annotations

import os

import pytest

from ansible_collections.ovpnfleet.dco.plugins.module_utils.openvpn._config_fix import MARK, plan, redact

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "fixtures", "config_fix")
PATH = "/etc/openvpn/server/lab.conf"


def brownfield(name):
    with open(os.path.join(FIXTURES, "brownfield-%s.conf" % name)) as handle:
        return handle.read()


@pytest.mark.parametrize("version", ["2.6.14", "2.7.8"])
def test_brownfield_server_gets_compatible_edits_only(version):
    text = brownfield("server")
    result = plan(text, PATH, version, "/etc/openvpn/server")
    assert result["before"]["dco_compatible"] is False
    assert result["verdict"]["dco_compatible"] is True
    assert [(edit.option, edit.after, edit.impact) for edit in result["edits"]] == [
        ("comp-lzo", "compress migrate", "compatible"),
        ("allow-compression", MARK + "removed, 'allow-compression no' is the default: allow-compression yes", "compatible"),
        ("data-ciphers", "data-ciphers AES-256-GCM", "compatible"),
        ("topology", "topology subnet", "compatible"),
    ]
    changed = {edit.before for edit in result["edits"]}
    old, new = text.split("\n"), result["text"].split("\n")
    assert len(old) == len(new)
    assert [line for line in old if line not in changed] == [line for line, was in zip(new, old) if was not in changed]


def test_brownfield_client_drops_compression_and_cbc():
    result = plan(brownfield("client"), "/etc/openvpn/client/lab.conf", "2.6.14", "/etc/openvpn/client")
    assert result["verdict"]["dco_compatible"] is True
    assert [(edit.option, edit.impact) for edit in result["edits"]] == [
        ("comp-lzo", "compatible"), ("allow-compression", "compatible"), ("data-ciphers", "compatible")]
    assert result["edits"][0].after.startswith(MARK) and result["edits"][0].after.endswith(": comp-lzo")


def test_a_second_plan_changes_nothing():
    first = plan(brownfield("server"), PATH, "2.6.14", "/etc/openvpn/server")
    second = plan(first["text"], PATH, "2.6.14", "/etc/openvpn/server")
    assert second["edits"] == [] and second["text"] == first["text"]


def test_server_without_topology_gets_one_after_server_line():
    text = "port 1194\ndev tun\nserver 10.8.0.0 255.255.255.0\nca ca.crt\ncert s.crt\nkey s.key\ndh none\n"
    result = plan(text, PATH, "2.6.14", "/etc/openvpn/server")
    assert result["text"].split("\n")[2:4] == ["server 10.8.0.0 255.255.255.0", "topology subnet"]
    assert result["verdict"]["dco_compatible"] is True
    # 2.7 defaults to subnet in server mode: nothing to do
    assert plan(text, PATH, "2.7.8", "/etc/openvpn/server")["edits"] == []


FRAGMENT = "client\ndev tun\nremote 192.0.2.1 1194\nfragment 1300\nca ca.crt\ncert c.crt\nkey c.key\n"


def test_breaking_edit_is_reported_not_applied():
    result = plan(FRAGMENT, PATH, "2.6.14", "/")
    assert result["text"] == FRAGMENT and result["edits"] == []
    assert [(item["option"], item["why"].split(":")[0]) for item in result["not_edited"]] == [("fragment", "breaking")]
    assert result["verdict"]["dco_compatible"] is False


def test_breaking_edit_applied_when_allowed():
    result = plan(FRAGMENT, PATH, "2.6.14", "/", allow_breaking=True)
    assert [(edit.option, edit.impact) for edit in result["edits"]] == [("fragment", "breaking")]
    assert result["verdict"]["dco_compatible"] is True


def test_tap_is_never_edited():
    text = "server 10.8.0.0 255.255.255.0\ntopology subnet\ndev tap\nca ca.crt\ncert s.crt\nkey s.key\ndh none\n"
    result = plan(text, PATH, "2.6.14", "/")
    assert result["text"] == text
    assert result["not_edited"][0]["option"] == "dev" and "tap" in result["not_edited"][0]["why"]


def test_blocker_in_an_included_file_is_left_with_where(tmp_path):
    (tmp_path / "legacy.inc").write_text("comp-lzo\n")
    text = "client\ndev tun\nremote 192.0.2.1 1194\nconfig legacy.inc\nca ca.crt\ncert c.crt\nkey c.key\n"
    path = str(tmp_path / "c.conf")
    result = plan(text, path, "2.6.14", str(tmp_path))
    assert result["text"] == text
    assert result["not_edited"][0]["why"].startswith("in an included file (%s)" % (tmp_path / "legacy.inc"))


def test_disable_dco_adds_the_option_once():
    result = plan(brownfield("client"), PATH, "2.6.14", "/", disable_dco=True)
    assert result["text"].endswith("verb 4\ndisable-dco\n")
    again = plan(result["text"], PATH, "2.6.14", "/", disable_dco=True)
    assert again["edits"] == [] and again["text"] == result["text"]
    enabled = plan(result["text"], PATH, "2.6.14", "/")
    assert enabled["edits"][0].option == "disable-dco"


def test_refused_config_is_returned_untouched():
    text = "client\ndev tun\nremote 192.0.2.1 1194\nno-such-option 1\n"
    result = plan(text, PATH, "2.6.14", "/")
    assert result["verdict"]["errors"] and result["text"] == text and result["edits"] == []


def test_redact_hides_inline_keys_only():
    text = "client\n<key>\nSECRET-A\nSECRET-B\n</key>\n<ca>\nPUBLIC\n</ca>\n"
    out = redact(text, PATH, "/")
    assert "SECRET" not in out and "PUBLIC" in out and "[inline key redacted]" in out


SERVER_COMP_AFTER = "port 1194\ndev tun\nserver 10.8.0.0 255.255.255.0\ncomp-lzo\nallow-compression yes\nca ca.crt\ncert s.crt\nkey s.key\ndh none\n"
SERVER_COMP_BEFORE = "port 1194\ndev tun\ncomp-lzo\nallow-compression yes\nserver 10.8.0.0 255.255.255.0\nca ca.crt\ncert s.crt\nkey s.key\ndh none\n"


def _lines_as_written(result):
    return [line.rstrip("\r") for line in result["text"].split("\n")]


@pytest.mark.parametrize("text", [SERVER_COMP_AFTER, SERVER_COMP_BEFORE, brownfield("server"), brownfield("client")])
@pytest.mark.parametrize("crlf", [False, True])
def test_edit_lines_are_lines_of_the_file_as_written(text, crlf):
    # Comment-outs (removals) keep their line; the added 'topology subnet' moves the lines below it.
    result = plan(text.replace("\n", "\r\n") if crlf else text, PATH, "2.6.14", "/etc/openvpn/server")
    written = _lines_as_written(result)
    assert result["edits"]
    assert [(edit.option, written[edit.line - 1]) for edit in result["edits"]] == [(edit.option, edit.after) for edit in result["edits"]]


def test_an_added_line_moves_earlier_edits_below_it():
    result = plan(SERVER_COMP_AFTER, PATH, "2.6.14", "/etc/openvpn/server")
    assert [(edit.option, edit.line) for edit in result["edits"]] == [("comp-lzo", 5), ("allow-compression", 6), ("topology", 4)]


def test_disable_dco_says_where_it_added_the_line():
    client = "client\ndev tun\nremote 192.0.2.1 1194\nca ca.crt\ncert c.crt\nkey c.key"
    for text in (client + "\n", client):
        result = plan(text, PATH, "2.6.14", "/", disable_dco=True)
        assert [(edit.option, edit.line) for edit in result["edits"]] == [("disable-dco", 7)]
        assert _lines_as_written(result)[6] == "disable-dco"


@pytest.mark.parametrize("text", [SERVER_COMP_AFTER, brownfield("server"), brownfield("client")])
def test_crlf_file_stays_crlf_with_the_same_edits(text):
    lf = plan(text, PATH, "2.6.14", "/etc/openvpn/server")
    crlf = plan(text.replace("\n", "\r\n"), PATH, "2.6.14", "/etc/openvpn/server")
    assert crlf["text"] == lf["text"].replace("\n", "\r\n")
    assert [edit.as_dict() for edit in crlf["edits"]] == [edit.as_dict() for edit in lf["edits"]]


@pytest.mark.parametrize("text", ["client\r\ndev tun\r\nremote 192.0.2.1 1194\r\nca ca.crt\r\ncert c.crt\r\nkey c.key\r\n",
                                  "client\r\ndev tun\r\nremote 192.0.2.1 1194\r\nca ca.crt\r\ncert c.crt\r\nkey c.key"])
def test_disable_dco_in_a_crlf_file_ends_like_the_file(text):
    result = plan(text, PATH, "2.6.14", "/", disable_dco=True)
    assert result["text"].replace("\r\n", "").count("\n") == 0
    assert result["text"].split("\r\n")[6] == "disable-dco"
