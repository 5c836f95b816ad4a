# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The config parser against what openvpn's parse_line()/read_config_file() do.

Expected tokens follow the C code (OpenVPN/openvpn src/openvpn/options_parse.c); the corpus
test checks the same behaviour against the real binaries.
"""

from __future__ import annotations

import gc
import os
import time

import pytest

from ansible_collections.ovpnfleet.dco.plugins.module_utils._errors import ConfigParseError
from ansible_collections.ovpnfleet.dco.plugins.module_utils.openvpn._dco_rules import evaluate
from ansible_collections.ovpnfleet.dco.plugins.module_utils.openvpn._config import (
    MAX_FILE_BYTES,
    REDACTED,
    describe_error,
    option_arity,
    parse_file,
    parse_text,
    safe_data,
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


def test_option_table_is_built_once_and_read_only():
    assert option_arity((2, 6)) is option_arity((2, 6, 14))
    with pytest.raises(TypeError):
        option_arity((2, 6))["dev"] = frozenset([0])


@pytest.mark.parametrize("opening,closing,end_line", [
    ("<key >", "</key>", 6),
    ("< key>", "</ key >", 6),
    ("<key", "</key", 6),
    ("<tls-crypt-v2 >", "</tls-crypt-v2>", 6),
    ("  < 'Tls-Auth' >", None, 5),
])
def test_malformed_secret_tag_keeps_its_lines_as_one_secret_block(opening, closing, end_line):
    # openvpn refuses the opening line as an unknown option and reads what follows as
    # options; this parser keeps those lines together so that nothing quotes them.
    text = "dev tun\n%s\nMIIsecret\nverb 3\nfloat\n%s" % (opening, closing + "\n" if closing else "")
    parsed = parse_text(text)
    block = parsed.directives[1]
    assert (block.malformed, block.secret, block.line, block.end_line) == (True, True, 2, end_line)
    assert [d.name for d in parsed.directives] == ["dev", block.name]
    assert "MIIsecret" not in str(block.as_dict())
    assert [(e["line"], "malformed <%s> tag" % block.name in e["msg"]) for e in parsed.errors] == [(2, True)]


def test_unknown_options_and_unknown_blocks_are_returned_without_text():
    parsed = parse_text("root:SECRET:1:2\nSECRET two\n<KEY>\nSECRET\n</KEY>\n<ca>\nCERT\n</ca>\n"
                        "ignore-unknown-option block-outside-dns\nblock-outside-dns\n")
    shown = [d.as_dict() for d in parsed.directives]
    assert "SECRET" not in str(shown)
    assert [(d["name"], d["args"], d["raw"]) for d in shown[:3]] == [(None, [], None)] * 3
    assert shown[3]["args"] == ["CERT\n"]
    assert shown[5]["name"] == "block-outside-dns"   # the config names it itself


def test_unknown_inline_tag_without_end_is_not_quoted():
    parsed = parse_text("dev tun\n<SECRETTAG>\nSECRET\n")
    assert [error["msg"] for error in parsed.errors] == [
        "Endtag missing for the inline block that starts at <content>:2 (openvpn reads to the end of the file)"]


@pytest.mark.parametrize("body", [
    "-----BEGIN PRIVATE KEY-----\nSECRET\n-----END PRIVATE KEY-----\n",   # pasted into <cert>
    "CERT\n</ca\n<key>\nSECRET\n</key>\n",                                # swallowed key block
])
def test_public_block_holding_more_than_certificates_is_secret(body):
    parsed = parse_text("<ca>\n%s</ca>\n" % body)
    assert parsed.directives[0].secret
    assert "SECRET" not in str(parsed.directives[0].as_dict())


def test_auth_token_parameters_are_secret():
    shown = parse_text("auth-token SECRETTOKEN\n").directives[0].as_dict()
    assert (shown["args"], shown["raw"]) == ([REDACTED], None)


def test_connection_block_text_is_not_returned_its_options_are():
    parsed = parse_text("<connection>\nremote a\n<tls-crypt>\nSECRET\n</tls-crypt>\n</connection>\n")
    shown = parsed.directives[0].as_dict()
    assert "SECRET" not in str(shown)
    assert [child["name"] for child in shown["children"]] == ["remote", "tls-crypt"]


def test_non_utf8_bytes_are_kept_in_the_model_and_escaped_in_results(tmp_path):
    path = tmp_path / "c.conf"
    path.write_bytes(b"setenv NAME caf\xe9\n")
    directive = parse_file(str(path)).directives[0]
    assert directive.args[1].encode("utf-8", "surrogateescape") == b"caf\xe9"   # a fixer writes it back
    assert directive.as_dict()["args"] == ["NAME", "caf\\xe9"]
    assert safe_data({"k": ["\udce9", ("\ud800",), 1, None]}) == {"k": ["\\xe9", ["\\ud800"], 1, None]}


@pytest.mark.parametrize("error,text", [
    ({"file": None, "line": None, "msg": "You must define TUN/TAP device (--dev)"},
     "You must define TUN/TAP device (--dev)"),
    ({"file": "/x.conf", "line": None, "msg": "m"}, "/x.conf: m"),
    ({"file": "/x.conf", "line": 3, "msg": "m\udce9"}, "/x.conf:3: m\\xe9"),
])
def test_describe_error_never_says_none(error, text):
    assert describe_error(error) == text


def test_relative_include_without_cwd_is_refused(tmp_path):
    with pytest.raises(ConfigParseError, match="the include at <content>:2 is a relative path") as info:
        parse_text("dev tun\nconfig common.inc\n")
    assert (info.value.path, info.value.line) == ("<content>", 2)
    with pytest.raises(ConfigParseError, match="relative path"):
        parse_text("cd sub\nconfig common.inc\n")
    (tmp_path / "common.inc").write_text("verb 3\n")
    parsed = parse_text("cd %s\nconfig common.inc\n" % tmp_path)   # an absolute cd decides
    assert parsed.names() == ["cd", "config", "verb"]


def test_includes_inside_connection_blocks_are_not_followed():
    # openvpn refuses config and cd in a <connection> block instead of reading them.
    parsed = parse_text("<connection>\nremote a\nconfig /nonexistent.inc\n</connection>\n")
    assert [child.name for child in parsed.directives[0].children] == ["remote", "config"]


@pytest.mark.parametrize("make,kind", [
    (lambda tmp: os.mkfifo(str(tmp / "p")) or str(tmp / "p"), "a named pipe"),
    (lambda tmp: "/dev/null", "a character device"),
    (str, "a directory"),
])
def test_only_regular_files_are_read(tmp_path, make, kind):
    path = make(tmp_path)
    with pytest.raises(ConfigParseError, match="it is %s, not a regular file" % kind):
        parse_file(path)


def test_size_limits(tmp_path):
    (tmp_path / "big.conf").write_text("#" * MAX_FILE_BYTES + "\n")
    with pytest.raises(ConfigParseError, match=r"larger than 1048576 bytes \(1 MiB\)"):
        parse_file(str(tmp_path / "big.conf"))
    (tmp_path / "part.inc").write_text("#" * (MAX_FILE_BYTES - 10) + "\n")
    (tmp_path / "main.conf").write_text("config part.inc\n" * 5)
    with pytest.raises(ConfigParseError, match=r"larger than 4194304 bytes \(4 MiB\) in all"):
        parse_file(str(tmp_path / "main.conf"))


def test_reader_errors_become_parse_errors(tmp_path):
    def broken(path):
        raise ValueError("embedded null byte")
    with pytest.raises(ConfigParseError, match="read OpenVPN config .*: embedded null byte"):
        parse_file(str(tmp_path / "x.conf"), read=broken)


def _seconds(text):
    gc.collect()
    start = time.process_time()
    evaluate(parse_text(text), "2.6.14")
    return time.process_time() - start


def test_parse_and_lint_time_grows_linearly():
    # A ratio of CPU times, not a time: the machine may be slow or busy. Runs alternate and
    # the best of each counts, without the garbage collector, whose pauses are noise here.
    block = ("route 10.0.0.0 255.255.255.0\nsetenv A 'b c'\nno-such-option x\n<ca>\nCERT\n</ca>\n"
             "push \"route 10.1.0.0 255.255.0.0\"\n<key >\nSECRET\n</key>\n")
    small_text, large_text = "dev tun\n" + block * 1000, "dev tun\n" + block * 2000
    small = large = float("inf")
    gc.disable()
    try:
        for _round in range(5):
            small = min(small, _seconds(small_text))
            large = min(large, _seconds(large_text))
    finally:
        gc.enable()
    assert large / small < 3, (small, large)
