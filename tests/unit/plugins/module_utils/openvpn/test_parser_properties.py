# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Properties of the config parser and the DCO linter on generated configs.

Random option sequences, quoting, comments, inline blocks spelled every way openvpn accepts or
refuses, <connection> blocks, includes (loops and missing files among them) and junk bytes:

- only the collection's own errors come out (no IndexError, no OSError, no traceback);
- every example finishes well inside the deadline (no hang);
- a unique token put inside a block that may hold a secret, or as the name of an option
  openvpn does not know (the first word of a line of a file that is no config), never shows in
  anything a module returns: ``as_dict()`` of every directive, parse and lint errors, warnings,
  blockers, notes, the message of a refused include.

The examples are derandomized and stored nowhere, so ``make unit`` runs the same ones every
time; the time-growth property is tested in test_openvpn_config.py.
"""

from __future__ import annotations

import errno
import json
import os
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from ansible_collections.ovpnfleet.dco.plugins.module_utils._errors import DcoError
from ansible_collections.ovpnfleet.dco.plugins.module_utils.openvpn._dco_rules import evaluate
from ansible_collections.ovpnfleet.dco.plugins.module_utils.openvpn._config import (
    KNOWN_OPTIONS,
    _tokenize_plain,
    _tokenize_quoted,
    parse_file,
    parse_text,
    safe_data,
)

# Hypothesis caches under ./.hypothesis by default, which would land in the collection's
# tarball; .tmp is left out of it.
set_hypothesis_home_dir(os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "..", ".tmp", "hypothesis"))

SETTINGS = settings(
    max_examples=120,
    deadline=timedelta(seconds=5),
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

VERSIONS = ("2.6.14", "2.7.8", "2.6.10", "2.7")
OPTIONS = sorted(KNOWN_OPTIONS)
# Characters chosen to hit every state of the tokenizer (quotes, escapes, comments,
# separators openvpn knows and ones it does not), plus text that is not ASCII.
WORD_CHARS = "abcAZ019-_.:/<>\"'\\#; \t\x00\x0b\x0c\r\xe9\u20ac"
# Inline tags openvpn takes as key blocks, and spellings it refuses or reads otherwise.
SECRET_TAGS = ("key", "secret", "tls-auth", "tls-crypt", "tls-crypt-v2", "pkcs12", "auth-user-pass",
               "http-proxy-user-pass", "auth-gen-token-secret")
OPENINGS = ("<{t}>", "<{t} >", "< {t}>", "<{t}", "<{T}>", "<{C}>", '"<{t}>"', "'<{t} >'", "<{t}>>",
            "<{t}\t>", "<{t}> # comment", " <{t}> ", "--<{t}>", "-- <{t} >", "<{t}> extra")
CLOSINGS = ("</{t}>", "</{t}", "</ {t}>", "</{T}>", "  </{t}>  trailing", "</{t} >", None)


def _word():
    return st.text(alphabet=WORD_CHARS, min_size=0, max_size=12)


@st.composite
def option_line(draw):
    name = draw(st.sampled_from(OPTIONS + ["no-such-option", "--dev", "comp-lz0"]))
    args = draw(st.lists(_word(), max_size=5))
    sep = draw(st.sampled_from([" ", "\t", "  "]))
    return sep.join([name] + args)


@st.composite
def secret_block(draw, token):
    tag = draw(st.sampled_from(SECRET_TAGS))
    opening = draw(st.sampled_from(OPENINGS)).format(t=tag, T=tag.upper(), C=tag.capitalize())
    closing = draw(st.sampled_from(CLOSINGS))
    body = [token, "verb 3 " + token, "setenv %s x" % token, "float", "dev " + token,
            "-----BEGIN OpenVPN Static key V1-----", token + " " + token]
    lines = [opening] + draw(st.lists(st.sampled_from(body), min_size=1, max_size=4))
    if closing is not None:
        lines.append(closing.format(t=tag, T=tag.upper()))
    return lines, closing is None


@st.composite
def public_block(draw):
    tag = draw(st.sampled_from(("ca", "cert", "dh", "extra-certs", "crl-verify", "connection")))
    inner = draw(st.lists(st.one_of(option_line(), st.just("-----BEGIN CERTIFICATE-----")), max_size=3))
    return ["<%s>" % tag] + inner + ["</%s>" % tag]


def junk_line():
    # "j" first: junk that happened to open a public block would make later tokens its content.
    return st.binary(max_size=40).map(lambda data: "j" + data.decode("utf-8", "surrogateescape"))


@st.composite
def config(draw, tokens):
    """Lines of a config; secret blocks get tokens from ``tokens`` (a list it fills)."""
    lines = []
    for _line in range(draw(st.integers(0, 14))):
        kind = draw(st.sampled_from(("option", "option", "comment", "blank", "secret", "public",
                                     "junk", "include", "cd", "long", "unknown")))
        if kind == "option":
            lines.append(draw(option_line()))
        elif kind == "unknown":
            token = "Zq%dUNKNOWNx%d" % (len(tokens), draw(st.integers(0, 10 ** 6)))
            tokens.append(token)
            lines.append(" ".join([token] + draw(st.lists(_word(), max_size=3))))
        elif kind == "comment":
            lines.append(draw(st.sampled_from(("#", ";", "  #"))) + draw(_word()))
        elif kind == "blank":
            lines.append("")
        elif kind == "secret":
            token = "Zq%dSECRETx%d" % (len(tokens), draw(st.integers(0, 10 ** 6)))
            tokens.append(token)
            block, unterminated = draw(secret_block(token))
            lines.extend(block)
            if unterminated:
                break       # openvpn reads to the end of the file: nothing after it counts
        elif kind == "public":
            lines.extend(draw(public_block()))
        elif kind == "junk":
            lines.append(draw(junk_line()))
        elif kind == "include":
            lines.append("config " + draw(st.sampled_from(("a.inc", "b.inc", "main.conf", "missing.inc",
                                                           "/etc/x/a.inc", "stdin", "sub/../a.inc"))))
        elif kind == "cd":
            lines.append("cd " + draw(st.sampled_from(("sub", "..", "/etc/x", "/etc/x/sub"))))
        else:
            lines.append("setenv X " + "y" * draw(st.integers(240, 300)))
    ending = draw(st.sampled_from(("\n", "\r\n")))
    bom = draw(st.sampled_from(("", "\ufeff")))
    return bom + ending.join(lines) + draw(st.sampled_from(("", ending)))


def _reader(files):
    def read(path):
        if path in files:
            return files[path]
        raise OSError(errno.ENOENT, "No such file or directory")
    return read


def _exposed(parsed, version):
    """Everything config_info would return for a parse, as one string."""
    verdict = evaluate(parsed, version)
    verdict["options"] = [directive.as_dict() for directive in parsed.directives]
    verdict["files"] = parsed.files
    return json.dumps(safe_data(verdict))


def _check(parse, tokens):
    try:
        parsed = parse()
    except DcoError as error:       # unreadable include, loop, too deep: the module fails
        message = str(error)
        assert not [token for token in tokens if token in message], message
        return None
    for version in VERSIONS:
        try:
            exposed = _exposed(parsed, version)
        except DcoError as error:
            raise AssertionError("the linter raised on a parsed config: %s" % error)
        leaked = [token for token in tokens if token in exposed]
        assert not leaked, (leaked, exposed)
        exposed.encode("utf-8")
    return parsed


@SETTINGS
@given(st.data())
def test_text_parses_without_crash_or_leak(data):
    tokens = []
    text = data.draw(config(tokens))
    _check(lambda: parse_text(text, cwd="/etc/x"), tokens)


@SETTINGS
@given(st.data())
def test_files_with_includes_parse_without_crash_or_leak(data):
    tokens = []
    files = {path: data.draw(config(tokens)) for path in ("/etc/x/main.conf", "/etc/x/a.inc")}
    if data.draw(st.booleans()):
        files["/etc/x/sub/b.inc"] = data.draw(config(tokens))
    _check(lambda: parse_file("/etc/x/main.conf", read=_reader(files)), tokens)


@SETTINGS
@given(st.text(alphabet=WORD_CHARS, max_size=300))
def test_content_without_cwd_parses_or_refuses_an_include(text):
    try:
        parsed = parse_text(text)
    except DcoError as error:
        assert "relative path" in str(error)
    else:
        for version in VERSIONS:
            _exposed(parsed, version)


@SETTINGS
@given(st.text(alphabet="ab#;- \t\x00\x0b\x0c\r\xe9", max_size=80))
def test_the_fast_tokenizer_agrees_with_openvpns_state_machine(line):
    # Lines without quotes or backslashes take a shortcut; it must split exactly alike.
    assert _tokenize_plain(line) == _tokenize_quoted(line)
