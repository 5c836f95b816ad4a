# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""config_info's rule ids: each blocker names its rule, ignore_rules suppresses by id and
refuses an id it does not know."""

from __future__ import annotations

from ansible_collections.ovpnfleet.dco.plugins.modules import config_info

PROFILE = ("client\ndev tun\nremote 192.0.2.1 443 tcp-client\nhttp-proxy 192.0.2.9 3128\ncomp-lzo no\n"
           "ca ca.crt\ncert c.crt\nkey c.key\n")


def run(run_module, args):
    return run_module(config_info.main, dict(args, content=PROFILE, openvpn_version="2.6.14"))


def test_blockers_carry_their_rule_id(run_module):
    failed, result = run(run_module, {})
    assert not failed, result
    assert [(b["rule"], b["option"], b["line"]) for b in result["blockers"]] == [
        ("dco-compression", "comp-lzo", 5), ("dco-http-proxy", "http-proxy", 4)]
    assert result["suppressed"] == []


def test_ignore_rules_moves_those_blockers_to_suppressed(run_module):
    failed, result = run(run_module, {"ignore_rules": ["dco-http-proxy"]})
    assert not failed, result
    assert [b["rule"] for b in result["blockers"]] == ["dco-compression"]
    assert [(b["rule"], b["line"]) for b in result["suppressed"]] == [("dco-http-proxy", 4)]
    assert result["dco_compatible"] is False


def test_unknown_rule_id_fails_and_lists_the_known_ones(run_module):
    failed, result = run(run_module, {"ignore_rules": ["dco-proxy"]})
    assert failed
    assert "ignore_rules" in result["msg"] and "dco-proxy" in result["msg"]
    for rule in ("dco-http-proxy", "dco-socks-proxy", "dco-compression", "dco-topology"):
        assert rule in result["msg"]
