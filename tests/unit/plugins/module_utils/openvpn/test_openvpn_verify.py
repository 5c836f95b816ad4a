# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Option combinations openvpn refuses while it verifies options, per release series.

The corpus (test_dco_rules_corpus.py, ``refuse-*.conf``) holds what the real binaries said;
these cases pin the edges around each rule: the series that differ, the values that equal
openvpn's defaults and so are no refusal, and the helpers that satisfy a rule.
"""

from __future__ import annotations

import pytest

from ansible_collections.ovpnfleet.dco.plugins.module_utils.openvpn._config import parse_text
from ansible_collections.ovpnfleet.dco.plugins.module_utils.openvpn._dco_rules import evaluate

SERVER = ("dev tun\nserver 10.8.0.0 255.255.255.0\ntopology subnet\nca ca.crt\ncert s.crt\n"
          "key s.key\ndh none\n")
MODE_SERVER = ("dev tun\nmode server\ntls-server\ntopology subnet\nifconfig 10.8.0.1 255.255.255.0\n"
               "ca ca.crt\ncert s.crt\nkey s.key\ndh none\n")
CLIENT = "client\ndev tun\nremote 192.0.2.1 1194\nca ca.crt\ncert c.crt\nkey c.key\n"
V26, V27 = "2.6.14", "2.7.8"


def check(text, version):
    return evaluate(parse_text(text), version)


def errors(text, version):
    return [error["msg"] for error in check(text, version)["errors"]]


@pytest.mark.parametrize("text,version,expected", [
    # 2.7 reworded these: one option per message, a full stop, another option name
    (CLIENT + "client-config-dir ccd\n", V26, "--client-config-dir/--ccd-exclusive requires --mode server"),
    (CLIENT + "client-config-dir ccd\n", V27, "--client-config-dir requires --mode server"),
    (CLIENT + "force-tls-key-material-export\n", V26,
     "--force-tls-key-material-export requires --mode server"),
    (CLIENT + "force-tls-key-material-export\n", V27, "--force-key-material-export requires --mode server"),
    (SERVER + "shaper 100000\n", V26, "--shaper cannot be used with --mode server"),
    (SERVER + "shaper 100000\n", V27, "--shaper cannot be used with --mode server."),
    (SERVER + "route-delay 5\n", V27, "--route-delay cannot be used with --mode server."),
    (SERVER + "redirect-private\n", V26, '--redirect-gateway cannot be used with --mode server '
     '(however --push "redirect-gateway" is fine)'),
    (SERVER + "verify-client-cert optional\n", V27, "--verify-client-cert none|optional must be used "
     "with --management-client-auth, an --auth-user-pass-verify script, or plugin"),
    (SERVER + "auth-user-pass-optional\n", V26, "--auth-user-pass-optional must be used with "
     "--management-client-auth, an --auth-user-pass-verify script, or plugin"),
    (SERVER + "proto tcp-client\n", V27, "--mode server currently only supports --proto values of "
     "udp, tcp-server, tcp4-server, or tcp6-server"),
    (SERVER + "proto tcp-server\nsocks-proxy 192.0.2.9\n", V26,
     "--socks-proxy can not be used in TCP Server mode"),
    (MODE_SERVER + "topology net30\nifconfig-pool 10.8.0.10 10.8.0.20 255.255.255.0\n", V27,
     "The third parameter to --ifconfig-pool (netmask) is only valid in --dev tap mode"),
    # the --server helpers set up the pools themselves
    (SERVER + "ifconfig-pool 10.8.0.10 10.8.0.20\n", V26,
     "--server already defines an ifconfig-pool, so you can't also specify --ifconfig-pool "
     "explicitly"),
    (SERVER + "server-ipv6 2001:db8::/64\nifconfig-ipv6-pool 2001:db8::1000/64\n", V27,
     "--server-ipv6 already defines an ifconfig-ipv6-pool, so you can't also specify "
     "--ifconfig-pool explicitly"),
    (CLIENT + "proto tcp-client\nfragment 1300\n", V26, "--fragment can only be used with --proto udp"),
    (CLIENT + "http-proxy 192.0.2.8 3128\nsocks-proxy 192.0.2.9\nproto tcp-client\n", V27,
     "--http-proxy can not be used together with --socks-proxy"),
    (CLIENT + "local 192.0.2.1\n", V26, "--remote and --local addresses are the same"),
    (CLIENT + "local 192.0.2.1\n", V27, "--remote and one of the --local addresses are the same"),
    (CLIENT + "lport 1195\nnobind\n", V27, "--lport and --nobind don't make sense when used together"),
    (CLIENT + "management-log-cache 500\n", V26, "--management is not specified, however one or more "
     "options which modify the behavior of --management were specified"),
    (CLIENT + "management 127.0.0.1 7505\nmanagement-client-group nogroup\n", V27,
     "--management-client-(user|group) can only be used on unix domain sockets"),
    (CLIENT + "management 127.0.0.1 7505\nmanagement-external-cert macosx\n", V26,
     "--cert and --management-external-cert are mutually exclusive"),
    (CLIENT + "tls-crypt-v2 c.key\ntls-auth ta.key 1\n", V27,
     "--tls-crypt-v2, --tls-auth and --tls-crypt are mutually exclusive in client mode"),
    (CLIENT + "pkcs12 c.p12\n", V26, "Parameter --key cannot be used when --pkcs12 is also specified."),
    (CLIENT + "client-cert-not-required\n", V27,
     "REMOVED OPTION: --client-cert-not-required, use '--verify-client-cert none' instead"),
    (CLIENT + "dns server 2 resolve-domains example.com\ndns server 1 address 192.0.2.53\n", V27,
     "dns server 2 does not have an address assigned"),
    ("dev tun\nifconfig 10.9.0.1 10.9.0.2\nsecret s.key\ncipher AES-256-GCM\nreneg-sec 60\n", V26,
     "Parameter renegotiate_seconds can only be specified in TLS-mode, i.e. where --tls-server or "
     "--tls-client is also specified."),
    ("dev tun\nifconfig 10.9.0.1 10.9.0.2\nsecret s.key\ncipher AES-256-GCM\n"
     "allow-deprecated-insecure-static-crypto\npull\n", V27,
     "Parameter --pull can only be specified in TLS-mode, i.e. where --tls-server or --tls-client "
     "is also specified."),
])
def test_refused(text, version, expected):
    result = check(text, version)
    assert result["dco_compatible"] is None
    assert expected in [error["msg"] for error in result["errors"]], result["errors"]
    refusal = next(error for error in result["errors"] if error["msg"] == expected)
    assert refusal["stage"] in ("parse", "mutate", "verify")


@pytest.mark.parametrize("text,version", [
    # values equal to openvpn's defaults change nothing, so they are no refusal
    (CLIENT + "verify-client-cert require\n", V26),
    (CLIENT + "hash-size 256 256\n", V26),
    (CLIENT + "vlan-accept all\nvlan-pvid 1\n", V27),
    (SERVER + "vlan-accept all\n", V26),
    ("dev tun\nifconfig 10.9.0.1 10.9.0.2\nsecret s.key\ncipher AES-256-CBC\nreneg-sec 3600\n", V26),
    (CLIENT + "no-replay\nreplay-window 64 15\n", V26),
    # what satisfies a rule
    (SERVER + "ifconfig-pool-persist ipp.txt\n", V26),         # --server sets up the pool
    (MODE_SERVER + "ifconfig-ipv6 2001:db8::1 2001:db8::2\nifconfig-ipv6-pool 2001:db8::1000/64\n",
     V27),
    (MODE_SERVER + "ifconfig-pool 10.8.0.10 10.8.0.20\nifconfig-pool-persist ipp.txt\n", V26),
    (SERVER + "verify-client-cert none\nauth-user-pass-verify /bin/true via-file\n", V27),
    (SERVER + "username-as-common-name\nmanagement 127.0.0.1 7505\nmanagement-client-auth\n", V26),
    (SERVER + "client-config-dir ccd\nccd-exclusive\n", V27),
    (SERVER + "auth-gen-token\nreneg-sec 3600\n", V26),
    (SERVER + "proto tcp\n", V26),                              # --server makes it tcp-server
    (SERVER + "proto tcp-server\nport-share 127.0.0.1 8443\n", V27),
    (MODE_SERVER + "ifconfig-pool 10.8.0.10 10.8.0.20 255.255.255.0\n", V26),  # topology subnet
    (SERVER.replace("255.255.255.0", "255.255.255.0 nopool") + "ifconfig-pool 10.8.0.10 10.8.0.20\n",
     V27),
    (CLIENT + "redirect-gateway def1\nroute-delay 5\nup-delay\nshaper 100000\n", V27),
    (CLIENT + "local 192.0.2.10\n", V26),
    (CLIENT + "local 127.0.0.1\nlocal 127.0.0.2\n", V26),       # 2.6 keeps the last one
    (CLIENT + "opt-verify\n", V27),                              # 2.7 only notes its removal
    (CLIENT + "mtu-test\n", V26),                                # udp
    (CLIENT + "tls-version-min 1.2\ntls-version-max 1.3\n", V27),
    (CLIENT + "management /run/ovpn.sock unix\nmanagement-client-user nobody\nmanagement-hold\n", V26),
    (CLIENT + "dns server 1 address 192.0.2.53\ndns server 1 resolve-domains example.com\n", V26),
    (CLIENT + "tls-crypt ta.key\n", V27),
])
def test_accepted(text, version):
    result = check(text, version)
    assert result["errors"] == []
    assert result["dco_compatible"] is not None


@pytest.mark.parametrize("option", ["no-replay"])
def test_removed_option_only_in_the_series_that_removed_it(option):
    assert errors(CLIENT + option + "\n", V26) == []
    assert errors(CLIENT + option + "\n", V27) == [
        "--no-replay was removed in OpenVPN 2.7. Update your configuration."]


def test_static_key_without_allow_stops_at_the_deprecation_in_27():
    """2.7 refuses the static key first; what only TLS mode may use is not checked then."""
    text = "dev tun\nifconfig 10.9.0.1 10.9.0.2\nsecret s.key\ncipher AES-256-GCM\nca ca.crt\n"
    assert [msg[:12] for msg in errors(text, V27)] == ["DEPRECATION:"]
    assert errors(text, V26) == ["Parameter ca_file can only be specified in TLS-mode, i.e. where "
                                 "--tls-server or --tls-client is also specified."]


def test_unreadable_config_is_not_verified():
    """openvpn stops at the first parse error, so no verification refusal is added to it."""
    text = CLIENT.replace("remote 192.0.2.1 1194\n", "") + "hash-size 512 512\nbogus-option\n"
    msgs = errors(text, V26)
    assert len(msgs) == 1 and msgs[0].startswith("Unrecognized option"), msgs


def test_each_refusal_names_its_line():
    result = check(CLIENT + "stale-routes-check 30\n", V27)
    assert [(error["line"], error["stage"]) for error in result["errors"]] == [(7, "verify")]
