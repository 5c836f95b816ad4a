# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The config parser against what openvpn's parse_line()/read_config_file() do.

Expected tokens follow the C code (OpenVPN/openvpn src/openvpn/options_parse.c); the corpus
test checks the same behaviour against the real binaries.
"""

from __future__ import annotations

import pytest

from ansible_collections.ovpnfleet.dco.plugins.module_utils._errors import ConfigParseError
from ansible_collections.ovpnfleet.dco.plugins.module_utils._openvpn_config import (
    REDACTED,
    option_arity,
    parse_file,
    parse_text,
    tokenize,
)


@pytest.mark.parametrize("line,params", [
    ("dev tun\n", ["dev", "tun"]),
    ("  dev\ttun  \r\n", ["dev", "tun"]),
    ("# comment\n", []),
    ("; comment\n", []),
    ("\n", []),
    ("remote host 1194 # trailing\n", ["remote", "host", "1194"]),
    ("remote host 1194 ;trailing\n", ["remote", "host", "1194"]),
    ("setenv A b#c\n", ["setenv", "A", "b#c"]),            # a comment starts only a parameter
    ('remote "a host" 1194\n', ["remote", "a host", "1194"]),
    ("remote 'a host' 1194\n", ["remote", "a host", "1194"]),
    ('x "ab"cd\n', ["x", "ab", "cd"]),                      # the closing quote ends the parameter
    ('x ab"cd\n', ["x", 'ab"cd']),                          # a quote inside a word is a character
    ('x "a \\"b\\" c"\n', ["x", 'a "b" c']),
    ('x "a\\\\b"\n', ["x", "a\\b"]),
    ("x a\\ b\n", ["x", "a b"]),
    ("x 'a\\b'\n", ["x", "a\\b"]),                          # no escapes in single quotes
    ('x ""\n', ["x", ""]),
    ("--dev tun\n", ["--dev", "tun"]),                      # the reader drops the dashes
    (" ".join(str(n) for n in range(20)) + "\n", [str(n) for n in range(16)]),
])
def test_tokenize(line, params):
    assert tokenize(line) == (params, None)


@pytest.mark.parametrize("line,error", [
    ('remote "host 1194\n', 'No closing quotation (")'),
    ("remote 'host 1194\n", "No closing single quotation (')"),
    ("x a\\q\n", "Bad backslash ('\\') usage"),
    ("x abc\\", "Residual parse state (2)"),
    ("x " + "a" * 257 + "\n", "too long"),
])
def test_tokenize_refuses(line, error):
    assert tokenize(line) == ([], error)


def write(tmp_path, name, text):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


def test_directives_keep_lines_and_raw_text(tmp_path):
    text = ("# head\n"
            "--client\n"
            "remote 'vpn.example.org' 1194 udp   # primary\n"
            "\n"
            "<ca>\n"
            "-----BEGIN CERTIFICATE-----\n"
            "MIIB\n"
            "  </ca>\n"
            "no-such-option 1 2\n"
            "verb 3")
    path = write(tmp_path, "c.conf", text)
    parsed = parse_file(path)
    assert [(d.name, d.args, d.line, d.end_line) for d in parsed.directives] == [
        ("client", [], 2, 2),
        ("remote", ["vpn.example.org", "1194", "udp"], 3, 3),
        ("ca", ["-----BEGIN CERTIFICATE-----\nMIIB\n"], 5, 8),
        ("no-such-option", ["1", "2"], 9, 9),
        ("verb", ["3"], 10, 10),
    ]
    lines = text.splitlines(True)
    for directive in parsed.directives:
        assert directive.raw == "".join(lines[directive.line - 1:directive.end_line])
        assert directive.file == path
    assert parsed.errors == []
    assert parsed.files == [path]


def test_bom_is_ignored():
    parsed = parse_text("\ufeffdev tun\n")
    assert [(d.name, d.args) for d in parsed.directives] == [("dev", ["tun"])]


def test_connection_block_children_carry_file_lines():
    parsed = parse_text("client\n<connection>\nremote a 1194\nfragment 1300\n</connection>\n")
    block = parsed.directives[1]
    assert (block.name, block.line, block.end_line, block.inline) == ("connection", 2, 5, True)
    assert [(d.name, d.args, d.line) for d in block.children] == [
        ("remote", ["a", "1194"], 3), ("fragment", ["1300"], 4)]


@pytest.mark.parametrize("text,msg", [
    ("client\n<ca>\nabc\n", "Endtag </ca> missing"),
    ('remote "a\n', 'No closing quotation (") in <content>:1'),
    ("setenv X " + "y" * 260 + "\n", "In <content>:1: Maximum option line length (256) exceeded"),
])
def test_refused_lines_become_errors(text, msg):
    parsed = parse_text(text)
    assert [error["msg"] for error in parsed.errors] == [msg]


def test_includes_resolve_against_cwd_and_cd(tmp_path):
    write(tmp_path, "etc/main.conf", "dev tun\nconfig common.inc\ncd sub\nconfig more.inc\n")
    write(tmp_path, "etc/common.inc", "ca ca.crt\n")
    write(tmp_path, "etc/sub/more.inc", "verb 4\n")
    parsed = parse_file(str(tmp_path / "etc" / "main.conf"))
    assert [(d.name, d.level) for d in parsed.directives] == [
        ("dev", 1), ("config", 1), ("ca", 2), ("cd", 1), ("config", 1), ("verb", 2)]
    assert parsed.files == [str(tmp_path / "etc" / name) for name in ("main.conf", "common.inc", "sub/more.inc")]
    assert parsed.directives[2].file == str(tmp_path / "etc" / "common.inc")
    assert [d.name for d in parsed.directives[1].included] == ["ca"]


def test_includes_follow_the_given_cwd_not_the_file(tmp_path):
    write(tmp_path, "conf/main.conf", "config common.inc\n")
    write(tmp_path, "run/common.inc", "verb 4\n")
    parsed = parse_file(str(tmp_path / "conf" / "main.conf"), cwd=str(tmp_path / "run"))
    assert parsed.names() == ["config", "verb"]


def test_include_loop_raises(tmp_path):
    write(tmp_path, "a.conf", "dev tun\nconfig b.inc\n")
    write(tmp_path, "b.inc", "verb 3\nconfig a.conf\n")
    with pytest.raises(ConfigParseError, match="include loop .*a.conf -> .*b.inc -> .*a.conf") as info:
        parse_file(str(tmp_path / "a.conf"))
    assert (info.value.path, info.value.line) == (str(tmp_path / "b.inc"), 2)


def test_deep_includes_stop_at_openvpns_limit(tmp_path):
    for level in range(11):
        write(tmp_path, "f%d.conf" % level, "config f%d.conf\n" % (level + 1))
    write(tmp_path, "f11.conf", "verb 3\n")
    with pytest.raises(ConfigParseError, match="more than 10 nested"):
        parse_file(str(tmp_path / "f0.conf"))


def test_unreadable_file_raises(tmp_path):
    with pytest.raises(ConfigParseError, match="read OpenVPN config .*missing.conf"):
        parse_file(str(tmp_path / "missing.conf"))
    write(tmp_path, "main.conf", "config nowhere.inc\n")
    with pytest.raises(ConfigParseError, match="nowhere.inc"):
        parse_file(str(tmp_path / "main.conf"))


def test_config_stdin_is_a_warning():
    parsed = parse_text("config stdin\n")
    assert parsed.names() == ["config"]
    assert "stdin" in parsed.warnings[0]["msg"]


def test_inline_secrets_are_not_returned():
    parsed = parse_text("<tls-crypt>\nKEY\n</tls-crypt>\n<ca>\nCERT\n</ca>\n")
    crypt, ca = (d.as_dict() for d in parsed.directives)
    assert crypt["args"] == [REDACTED] and "KEY" not in crypt["raw"]
    assert ca["args"] == ["CERT\n"]
    assert parsed.directives[0].args == ["KEY\n"]   # the model keeps it for a fixer


def test_option_table_differs_where_openvpn_does():
    v26, v27 = option_arity((2, 6)), option_arity((2, 7))
    assert "allow-deprecated-insecure-static-crypto" not in v26
    assert v27["allow-deprecated-insecure-static-crypto"]
    assert "block-outside-dns" not in v26 and "block-outside-dns" not in v27
    assert v26["remote"] == v27["remote"] == frozenset([1, 2, 3])
    assert v26["local"] == frozenset([1]) and v27["local"] == frozenset([1, 2, 3])
