# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The DCO rule registry: stable ids, one config per rule that it blocks, suppression by id,
and a fixer that follows the id whatever the note or the option says."""

from __future__ import annotations

import os

import pytest

from ansible_collections.ovpnfleet.dco.plugins.module_utils._errors import DcoError
from ansible_collections.ovpnfleet.dco.plugins.module_utils.openvpn import _config_fix, _rules
from ansible_collections.ovpnfleet.dco.plugins.module_utils.openvpn._config import parse_text
from ansible_collections.ovpnfleet.dco.plugins.module_utils.openvpn._config_fix import plan
from ansible_collections.ovpnfleet.dco.plugins.module_utils.openvpn._dco_rules import RULE_IDS, evaluate

DOCS = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "..", "docs", "config.md")
FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "fixtures", "config_fix")
PATH = "/etc/openvpn/server/lab.conf"
CLIENT = "client\ndev tun\nremote 192.0.2.1 1194\nca ca.crt\ncert c.crt\nkey c.key\n"
SERVER = "dev tun\nserver 10.8.0.0 255.255.255.0\nca ca.crt\ncert s.crt\nkey s.key\ndh none\n"
P2P = "dev tun\ntls-client\nremote 192.0.2.1\nifconfig 10.9.0.2 10.9.0.1\nca ca.crt\ncert c.crt\nkey c.key\n"

# Users filter and suppress by these ids: renaming one breaks their playbooks.
IDS = ("dco-afunix", "dco-bind-dev", "dco-cipher-fallback", "dco-compression", "dco-data-ciphers",
       "dco-dev-type", "dco-disabled", "dco-fragment", "dco-http-proxy", "dco-management-query-proxy",
       "dco-mktun", "dco-null-device", "dco-socks-proxy", "dco-static-key", "dco-topology")

# One config per rule whose first blocker is that rule's (the note openvpn prints).
CASES = {
    "dco-disabled": (CLIENT + "disable-dco\n", "2.6.14", "disable-dco"),
    "dco-cipher-fallback": (P2P + "cipher AES-256-CBC\n", "2.6.14", "cipher"),
    "dco-compression": (CLIENT + "comp-lzo no\n", "2.6.14", "comp-lzo"),
    "dco-data-ciphers": (CLIENT + "data-ciphers AES-256-GCM:AES-256-CBC\n", "2.6.14", "data-ciphers"),
    "dco-static-key": ("dev tun\nsecret s.key\ncipher AES-256-GCM\nremote 192.0.2.1\nifconfig 10.9.0.2 10.9.0.1\n"
                       "allow-deprecated-insecure-static-crypto\n", "2.7.8", "secret"),
    "dco-dev-type": (CLIENT.replace("dev tun", "dev tap"), "2.6.14", "dev"),
    "dco-afunix": (CLIENT + "dev-node unix:/run/tun.sock\n", "2.7.8", "dev-node"),
    "dco-null-device": (CLIENT.replace("dev tun", "dev null"), "2.7.8", "dev"),
    "dco-fragment": (CLIENT + "fragment 1300\n", "2.6.14", "fragment"),
    "dco-http-proxy": (CLIENT.replace("1194", "443 tcp-client") + "http-proxy 192.0.2.9 3128\n", "2.6.14", "http-proxy"),
    "dco-socks-proxy": (CLIENT + "socks-proxy 192.0.2.9 1080\n", "2.6.14", "socks-proxy"),
    "dco-bind-dev": (CLIENT + "bind-dev eth0\n", "2.6.22", "bind-dev"),
    "dco-topology": (SERVER, "2.6.14", "server"),
    "dco-management-query-proxy": (CLIENT + "management 127.0.0.1 7505\nmanagement-query-proxy\n", "2.6.14",
                                   "management-query-proxy"),
    "dco-mktun": ("dev tun0\nmktun\n", "2.6.14", "mktun"),
}


def test_rule_ids_are_stable_and_each_has_a_case():
    assert RULE_IDS == IDS
    assert sorted(CASES) == sorted(IDS)


@pytest.mark.parametrize("rule", IDS)
def test_each_rule_blocks_its_config_first(rule):
    text, version, option = CASES[rule]
    result = evaluate(parse_text(text), version)
    assert result["errors"] == []
    assert result["dco_compatible"] is False
    first = result["blockers"][0]
    assert (first["rule"], first["option"]) == (rule, option)
    assert first["reason"] == (_rules.RULES[rule].message if "%" not in _rules.RULES[rule].message else first["reason"])


@pytest.mark.parametrize("rule", IDS)
def test_each_rule_has_an_edit_or_advice(rule):
    found = _rules.RULES[rule]
    assert found.id == rule
    assert found.impact in ("none", "compatible", "breaking") or (found.impact is None and found.advice)


def test_every_rule_id_is_in_the_documented_table():
    with open(DOCS) as handle:
        rows = [line for line in handle if line.startswith("| `dco-")]
    documented = sorted(row.split("`")[1] for row in rows)
    assert documented == sorted(IDS)
    for rule in IDS:
        row = next(row for row in rows if row.startswith("| `%s`" % rule))
        impact = _rules.RULES[rule].impact or "never edited"
        assert impact in row, (rule, row)


def test_ignored_rules_move_to_suppressed_and_the_verdict_stays_honest():
    text = CLIENT + "comp-lzo no\nfragment 1300\n"
    full = evaluate(parse_text(text), "2.6.14")
    result = evaluate(parse_text(text), "2.6.14", ignore_rules=["dco-compression"])
    assert [b["rule"] for b in full["blockers"]] == ["dco-compression", "dco-fragment"]
    assert [b["rule"] for b in result["blockers"]] == ["dco-fragment"]
    assert result["suppressed"] == full["blockers"][:1]
    # openvpn does not know what the caller ignores: DCO stays off
    assert result["dco_compatible"] is False
    quiet = evaluate(parse_text(text), "2.6.14", ignore_rules=["dco-compression", "dco-fragment"])
    assert quiet["blockers"] == [] and quiet["dco_compatible"] is False and full["suppressed"] == []


def test_unknown_rule_id_fails_and_names_the_known_ones():
    with pytest.raises(DcoError) as error:
        evaluate(parse_text(CLIENT), "2.6.14", ignore_rules=["dco-compresion", "dco-topology"])
    message = str(error.value)
    assert message.startswith("check ignore_rules: unknown DCO rule id 'dco-compresion'")
    assert all(rule in message for rule in IDS)


def _reworded(evaluate_for_real):
    """evaluate(), with every blocker's note, fix and option text replaced."""
    def evaluate_reworded(parsed, version, ignore_rules=()):
        verdict = evaluate_for_real(parsed, version, ignore_rules)
        verdict["blockers"] = [dict(blocker, reason="reworded note", fix="reworded fix", option="renamed")
                               for blocker in verdict["blockers"]]
        return verdict
    return evaluate_reworded


@pytest.mark.parametrize("text,version", [
    (open(os.path.join(FIXTURES, "brownfield-server.conf")).read(), "2.6.14"),
    (SERVER, "2.6.14"),
    (P2P + "cipher AES-256-CBC\nfragment 1300\nbind-dev eth0\ndisable-dco\n", "2.6.22"),
    (CLIENT + "management 127.0.0.1 7505\nmanagement-query-proxy\ncompress lz4\n", "2.7.8"),
])
def test_fixer_follows_the_rule_id_not_the_note_or_option(monkeypatch, text, version):
    expected = plan(text, PATH, version, "/etc/openvpn/server", allow_breaking=True)
    assert expected["edits"] and expected["verdict"]["dco_compatible"] is True
    monkeypatch.setattr(_config_fix, "evaluate", _reworded(_config_fix.evaluate))
    result = plan(text, PATH, version, "/etc/openvpn/server", allow_breaking=True)
    assert result["text"] == expected["text"]
    assert [(e.rule, e.line, e.after, e.impact) for e in result["edits"]] == [
        (e.rule, e.line, e.after, e.impact) for e in expected["edits"]]


def test_a_reworded_openvpn_note_still_gets_its_fix(monkeypatch):
    monkeypatch.setattr(_rules.Topology, "message", "Note: net30 addressing disables data channel offload.")
    result = plan(SERVER, PATH, "2.6.14", "/etc/openvpn/server")
    assert result["before"]["blockers"][0]["reason"] == "Note: net30 addressing disables data channel offload."
    assert [(e.rule, e.option, e.after) for e in result["edits"]] == [("dco-topology", "topology", "topology subnet")]
    assert result["verdict"]["dco_compatible"] is True


def test_edits_and_not_edited_name_their_rule():
    text = CLIENT + "comp-lzo\nfragment 1300\nsocks-proxy 192.0.2.9 1080\n"
    result = plan(text, PATH, "2.6.14", "/etc/openvpn/server")
    assert [(e.rule, e.as_dict()["rule"]) for e in result["edits"]] == [("dco-compression", "dco-compression")]
    assert [(b["rule"], b["why"]) for b in result["not_edited"]] == [
        ("dco-fragment", "breaking: both ends must drop 'fragment' together, or the tunnel carries nothing "
                         "(set allow_breaking to apply it)"),
        ("dco-socks-proxy", _rules.RULES["dco-socks-proxy"].advice)]


def test_ncp_ciphers_is_edited_like_data_ciphers():
    result = plan(CLIENT + "ncp-ciphers AES-256-GCM:AES-256-CBC\n", PATH, "2.6.14", "/etc/openvpn/server")
    assert [(e.rule, e.after, e.impact) for e in result["edits"]] == [
        ("dco-data-ciphers", "ncp-ciphers AES-256-GCM", "compatible")]
    assert result["verdict"]["dco_compatible"] is True
