# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""DCO rules where the corpus cannot speak: versions we have no binary of (gates inside
2.6.x from dco.c history), every blocker at once, blame lines, notes and error details.
test_dco_rules_corpus.py holds the verdicts real openvpn gave."""

from __future__ import annotations

import pytest

from ansible_collections.ovpnfleet.dco.plugins.module_utils._errors import DcoError
from ansible_collections.ovpnfleet.dco.plugins.module_utils.openvpn._config import parse_text
from ansible_collections.ovpnfleet.dco.plugins.module_utils.openvpn._dco_rules import evaluate, resolve_version

SERVER = ("dev tun\nserver 10.8.0.0 255.255.255.0\ntopology subnet\n"
          "ca ca.crt\ncert s.crt\nkey s.key\ndh none\n")
CLIENT = "client\ndev tun\nremote 192.0.2.1 1194\nca ca.crt\ncert c.crt\nkey c.key\n"
P2P = "dev tun\ntls-client\nremote 192.0.2.1\nifconfig 10.9.0.2 10.9.0.1\nca ca.crt\ncert c.crt\nkey c.key\n"


def check(text, version="2.6.14"):
    return evaluate(parse_text(text), version)


def reasons(result):
    return [blocker["reason"] for blocker in result["blockers"]]


@pytest.mark.parametrize("text,expected", [
    ("2.6.14", (2, 6, 14)),
    ("2.7.8", (2, 7, 8)),
    ("2.6", (2, 6, 22)),
    ("2.7", (2, 7, 8)),
    ("OpenVPN 2.6.3", (2, 6, 3)),
    ("2.7_rc2", (2, 7, 8)),
])
def test_resolve_version(text, expected):
    assert resolve_version(text) == expected


@pytest.mark.parametrize("text", ["2.5.9", "2.8.0", "3", "", None, "latest"])
def test_resolve_version_refuses(text):
    with pytest.raises(DcoError, match="2.6.x and 2.7.x"):
        resolve_version(text)


@pytest.mark.parametrize("version,blocked", [("2.6.14", False), ("2.6.17", False),
                                             ("2.6.18", True), ("2.6.22", True), ("2.7.8", False)])
def test_bind_dev_only_from_2_6_18_and_not_in_2_7(version, blocked):
    result = check(SERVER + "bind-dev eth0\n", version)
    assert result["dco_compatible"] is not blocked
    assert reasons(result) == (["Note: bind-dev not supported with DCO, disabling data channel "
                                "offload"] if blocked else [])


@pytest.mark.parametrize("version,blocked", [("2.6.9", False), ("2.6.10", True), ("2.7.0", True)])
def test_management_query_proxy_from_2_6_10(version, blocked):
    result = check(SERVER + "management 127.0.0.1 7505\nmanagement-query-proxy\n", version)
    assert result["dco_compatible"] is not blocked


@pytest.mark.parametrize("version,spelled", [("2.6.9", "--data-cipher-fallback"),
                                             ("2.6.10", "--data-ciphers-fallback")])
def test_fallback_note_spelling_changed_in_2_6_10(version, spelled):
    result = check(CLIENT + "data-ciphers-fallback BF-CBC\nproviders legacy default\n", version)
    assert reasons(result) == ["Note: %s with cipher 'BF-CBC' disables data channel offload." % spelled]


def test_every_blocker_in_openvpns_order_with_its_line():
    text = ("dev tap\n"                                      # 1
            "server 10.8.0.0 255.255.255.0\n"                # 2
            "ca ca.crt\ncert s.crt\nkey s.key\ndh none\n"    # 3-6
            "comp-lzo\n"                                     # 7
            "allow-compression yes\n"                        # 8
            "data-ciphers AES-256-GCM:AES-128-CBC:AES-256-CBC\n"  # 9
            "fragment 1300\n"                                # 10
            "data-ciphers-fallback AES-256-CBC\n"            # 11
            "disable-dco\n")                                 # 12
    result = check(text)
    assert [(b["option"], b["line"]) for b in result["blockers"]] == [
        ("disable-dco", 12), ("data-ciphers-fallback", 11), ("comp-lzo", 7),
        ("allow-compression", 8), ("data-ciphers", 9), ("dev", 1), ("fragment", 10),
        ("server", 2)]  # 2.6: net30 is the default even for tap, and the check ignores dev type
    assert "'AES-128-CBC', 'AES-256-CBC'" in result["blockers"][4]["fix"]
    assert result["dco_compatible"] is False
    assert result["mode"] == "server"


def test_compression_note_suggests_migrate_only_in_server_mode():
    server = check(SERVER + "comp-lzo no\n")
    client = check(CLIENT + "comp-lzo no\n")
    assert reasons(server)[0].endswith("Consider using the '--compress migrate' option.")
    assert reasons(client) == ["Note: '--allow-compression' is not set to 'no', disabling data "
                               "channel offload."]
    assert "comp-lzo no" in client["blockers"][0]["fix"]


def test_compress_migrate_resets_earlier_compression():
    assert check(SERVER + "comp-lzo yes\nallow-compression asym\ncompress migrate\n")["dco_compatible"]


@pytest.mark.parametrize("text,version,option", [
    (SERVER.replace("topology subnet\n", ""), "2.6.14", "server"),
    (SERVER.replace("topology subnet", "topology net30"), "2.7.8", "topology"),
])
def test_topology_blames_the_line_to_change(text, version, option):
    result = check(text, version)
    assert [b["option"] for b in result["blockers"]] == [option]
    assert parse_text(text).directives[result["blockers"][0]["line"] - 1].name == option


def test_default_topology_is_fine_on_2_7():
    assert check(SERVER.replace("topology subnet\n", ""), "2.7.8")["dco_compatible"] is True


def test_cipher_counts_as_fallback_in_p2p_mode_only():
    assert check(P2P + "cipher AES-256-CBC\n")["blockers"][0]["option"] == "cipher"
    assert check(CLIENT + "cipher AES-256-CBC\n")["dco_compatible"] is True
    assert check(SERVER + "cipher AES-256-CBC\n")["dco_compatible"] is True


def test_fallback_compares_the_cipher_name_as_written():
    result = check(P2P + "cipher aes-128-gcm\n")
    assert reasons(result) == ["Note: --data-ciphers-fallback with cipher 'aes-128-gcm' disables "
                               "data channel offload."]


def test_data_ciphers_are_normalised_and_optional_ones_dropped():
    result = check(SERVER + "data-ciphers aes-256-gcm:?NO-SUCH-CIPHER:chacha20-poly1305\n")
    assert result["dco_compatible"] is True
    assert [w["msg"] for w in result["openvpn_warnings"]] == ["Unsupported optional cipher in --data-ciphers: NO-SUCH-CIPHER"]


def test_legacy_provider_makes_bf_cbc_a_valid_but_blocking_cipher():
    result = check(SERVER + "providers legacy default\ndata-ciphers AES-256-GCM:BF-CBC\n")
    assert result["errors"] == []
    assert reasons(result) == ["Note: cipher 'BF-CBC' in --data-ciphers is not supported by "
                               "ovpn-dco, disabling data channel offload."]


def test_ctr_mode_is_refused():
    result = check(SERVER + "data-ciphers AES-256-GCM:AES-256-CTR\n")
    assert result["dco_compatible"] is None
    assert result["openvpn_warnings"][0]["msg"].startswith("Unsupported cipher algorithm 'AES-256-CTR'")


def test_default_keyword_is_2_7_only():
    assert check(SERVER + "data-ciphers DEFAULT:AES-256-CBC\n", "2.6.14")["dco_compatible"] is None
    result = check(SERVER + "data-ciphers DEFAULT:AES-256-CBC\n", "2.7.8")
    assert reasons(result) == ["Note: cipher 'AES-256-CBC' in --data-ciphers is not supported by "
                               "ovpn-dco, disabling data channel offload."]


def test_fragment_in_one_connection_block_blocks():
    text = ("client\ndev tun\nca ca.crt\ncert c.crt\nkey c.key\n"
            "<connection>\nremote a 1194\n</connection>\n"
            "<connection>\nremote b 1194\nfragment 1300\n</connection>\n")
    result = check(text)
    assert [(b["option"], b["line"]) for b in result["blockers"]] == [("fragment", 11)]


def test_connection_block_refuses_other_options_and_needs_a_remote():
    text = "client\ndev tun\nca ca.crt\ncert c.crt\nkey c.key\n<connection>\nverb 4\n</connection>\n"
    msgs = [error["msg"] for error in check(text)["errors"]]
    assert msgs == ["option 'verb' cannot be used in this context ([CONNECTION-OPTIONS])",
                    "Each 'connection' block must contain exactly one 'remote' directive"]


def test_afunix_dev_node_is_2_7_only():
    text = P2P + "dev-node unix:/run/tun.sock\n"
    assert check(text, "2.7.8")["blockers"][0]["option"] == "dev-node"
    assert check(text, "2.6.14")["dco_compatible"] is True


@pytest.mark.parametrize("text,mode", [(SERVER, "server"), (CLIENT, "client"), (P2P, "p2p"),
                                       (P2P.replace("tls-client", "pull\ntls-client"), "client")])
def test_mode(text, mode):
    assert check(text)["mode"] == mode


def test_notes_for_options_that_behave_differently():
    text = SERVER + "dev tun0\nclient-to-client\ndev-node /dev/net/tun\nreneg-bytes 1000\nuser nobody\n"
    notes = {note["option"]: note["msg"] for note in check(text, "2.7.8")["notes"]}
    assert notes["client-to-client"].startswith("Note: --client-to-client has no effect")
    assert notes["dev-node"].startswith("Note: ignoring --dev-node")
    assert notes["reneg-bytes"].startswith("Note: '--reneg-bytes' and '--reneg-pkts'")
    assert "CAP_SETPCAP" in notes["user"]
    assert "kind ovpn," in notes["dev"]
    assert "reneg-bytes" not in {note["option"] for note in check(text, "2.6.14")["notes"]}


@pytest.mark.parametrize("text,msg", [
    (CLIENT + "duplicate-cn\n", "--duplicate-cn requires --mode server"),
    (SERVER + "remote 192.0.2.1\n", "--remote cannot be used with --mode server"),
    (CLIENT.replace("cert c.crt\n", ""), "If you use one of --cert or --key, you must use them both"),
    (SERVER.replace("ca ca.crt\n", ""), "You must define CA file (--ca) or CA path (--capath) and/or "
                                        "peer fingerprint verification (--peer-fingerprint)"),
    (P2P.replace("tls-client", "tls-client\nsecret s.key"),
     "specify only one of --tls-server, --tls-client, or --secret"),
    (P2P + "proto tcp\n", "--proto tcp is ambiguous in this context. Please specify --proto "
                          "tcp-server or --proto tcp-client"),
    (CLIENT + "mode bridge\n", "Bad --mode parameter: bridge"),
    (CLIENT + "compat-mode two\n", "cannot parse version number for --compat-mode: two"),
    (CLIENT + "<remote>\nx\n</remote>\n", "option 'remote' is not expected to be inline (<content>:7)"),
])
def test_refusals(text, msg):
    result = check(text)
    assert result["dco_compatible"] is None
    assert msg in [error["msg"] for error in result["errors"]]


def test_setenv_opt_and_ignore_unknown_option_only_warn():
    for extra in ("setenv opt block-outside-dns\n", "ignore-unknown-option block-outside-dns\nblock-outside-dns\n"):
        result = check(CLIENT + extra)
        assert result["errors"] == [] and result["dco_compatible"] is True
        assert result["openvpn_warnings"][0]["msg"] == "openvpn ignores unknown option 'block-outside-dns' here"


def test_mktun_exits_before_any_other_check():
    result = check("mktun\ndev tun5\ncomp-lzo\n")
    assert reasons(result) == ["Note: --mktun does not support DCO. Creating TUN interface."]
    result = check("mktun\ndev tun5\nremote 192.0.2.1\n")
    assert [error["msg"] for error in result["errors"]] == [
        "options --mktun or --rmtun should only be used together with --dev"]
