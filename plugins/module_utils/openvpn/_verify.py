# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Option combinations openvpn refuses to start with, and the message it prints.

Pure: ``refusals(state)`` reads the option state ``_dco_rules`` builds (the options as
``add_option()`` left them and as ``options_postprocess_mutate()`` rewrote them: server and
client helpers, topology default, connection entries) and returns ``(stage, message,
directive)`` for every refusal it finds; ``verify(state)`` records them as errors.

openvpn checks these after it applied and rewrote all options and before it asks the kernel
for DCO (``options_postprocess_verify()`` and ``options_postprocess_verify_ce()`` once per
connection entry, then ``dns_options_verify()``); a few removed options already stop it while
it reads them. It prints the first refusal only (``Options error: ...``) and exits, so such a
config never reaches DCO, whatever its DCO notes say. The messages here are openvpn's own,
per release series where 2.7 reworded them (``--%s cannot be used with --mode server.``).

What openvpn refuses that depends on the host (files, addresses it cannot bind) is not here.

Sources: OpenVPN/openvpn ``src/openvpn/options.c`` (``options_postprocess_verify_ce``,
``options_postprocess_verify``, ``options_postprocess_mutate_ce``, ``add_option``) and
``src/openvpn/dns.c`` (``dns_options_verify``) at v2.6.14 and v2.7.6, each refusal checked
against the real 2.6.14 and 2.7.8 binaries (tests/unit/fixtures/openvpn_configs/refuse-*.conf).
"""

from __future__ import annotations

import re

VERIFY = "verify"
MUTATE = "mutate"
PARSE = "parse"

# Refused outside server mode. Value: (2.6 message, 2.7 message) - 2.7 names each option on
# its own where 2.6 grouped some; None where that series has no such check.
SERVER_ONLY = {
    "ifconfig-pool": ("--ifconfig-pool/--ifconfig-pool-persist requires --mode server",
                      "--ifconfig-pool requires --mode server"),
    "ifconfig-pool-persist": ("--ifconfig-pool/--ifconfig-pool-persist requires --mode server",
                              "--ifconfig-pool-persist requires --mode server"),
    "ifconfig-ipv6-pool": ("--ifconfig-ipv6-pool requires --mode server",) * 2,
    "hash-size": ("--hash-size requires --mode server",) * 2,
    "learn-address": ("--learn-address requires --mode server",) * 2,
    "client-connect": ("--client-connect requires --mode server",) * 2,
    "client-crresponse": ("--client-crresponse requires --mode server",) * 2,
    "client-disconnect": ("--client-disconnect requires --mode server",) * 2,
    "client-config-dir": ("--client-config-dir/--ccd-exclusive requires --mode server",
                          "--client-config-dir requires --mode server"),
    "ccd-exclusive": ("--client-config-dir/--ccd-exclusive requires --mode server",
                      "--ccd-exclusive requires --mode server"),
    "client-to-client": ("--client-to-client requires --mode server",) * 2,
    "duplicate-cn": ("--duplicate-cn requires --mode server",) * 2,
    "connect-freq": ("--connect-freq requires --mode server",) * 2,
    "verify-client-cert": ("--verify-client-cert requires --mode server",) * 2,
    "username-as-common-name": ("--username-as-common-name requires --mode server",) * 2,
    "auth-user-pass-optional": ("--auth-user-pass-optional requires --mode server",) * 2,
    # 2.7 keeps the option but only logs that it was removed.
    "opt-verify": ("--opt-verify requires --mode server", None),
    "auth-user-pass-verify": ("--auth-user-pass-verify requires --mode server",) * 2,
    "auth-gen-token": ("--auth-gen-token requires --mode server",) * 2,
    "port-share": ("--port-share requires TCP server mode (--mode server --proto tcp-server)",) * 2,
    "stale-routes-check": ("--stale-routes-check requires --mode server",) * 2,
    "vlan-tagging": ("--vlan-tagging requires --mode server",) * 2,
    "vlan-accept": (None, "--vlan-accept requires --mode server"),
    "vlan-pvid": (None, "--vlan-pvid requires --mode server"),
    "force-tls-key-material-export": ("--force-tls-key-material-export requires --mode server",
                                      "--force-key-material-export requires --mode server"),
}

# What openvpn does with options it removed, while it reads them (add_option(), M_FATAL).
REMOVED = {
    "client-cert-not-required": ("REMOVED OPTION: --client-cert-not-required, use "
                                 "'--verify-client-cert none' instead",) * 2,
    "no-replay": (None, "--no-replay was removed in OpenVPN 2.7. Update your configuration."),
}

# Options that only TLS mode may change (MUST_BE_UNDEF in the non-TLS branch): the option,
# the struct field 2.6 names in its message, and the default it compares with (None: any
# use counts).
TLS_ONLY = (
    ("ca", "ca_file", None), ("capath", "ca_path", None), ("dh", "dh_file", None),
    ("cert", "cert_file", None), ("key", "priv_key_file", None), ("pkcs12", "pkcs12_file", None),
    ("tls-cipher", "cipher_list", None), ("tls-ciphersuites", "cipher_list_tls13", None),
    ("tls-cert-profile", "tls_cert_profile", None), ("tls-verify", "tls_verify", None),
    ("tls-export-cert", "tls_export_peer_cert_dir", None),
    ("verify-x509-name", "verify_x509_name", None), ("tls-timeout", "tls_timeout", "2"),
    ("reneg-bytes", "renegotiate_bytes", None), ("reneg-pkts", "renegotiate_packets", None),
    ("reneg-sec", "renegotiate_seconds", "3600"), ("hand-window", "handshake_window", "60"),
    ("tran-window", "transition_window", "3600"), ("tls-auth", "tls_auth_file", None),
    ("tls-crypt", "tls_crypt_file", None), ("tls-crypt-v2", "tls_crypt_v2_file", None),
    ("single-session", "single_session", None), ("push-peer-info", "push_peer_info", None),
    ("tls-exit", "tls_exit", None), ("crl-verify", "crl_file", None),
    ("ns-cert-type", "ns_cert_type", None), ("remote-cert-ku", "remote_cert_ku[0]", None),
    ("remote-cert-eku", "remote_cert_eku", None),
)

# Options that only make sense with --management (they set management_flags).
MANAGEMENT_MODIFIERS = frozenset("""
management-query-passwords management-query-remote management-query-proxy management-hold
management-signal management-forget-disconnect management-up-down management-client
management-external-key management-external-cert management-client-auth
""".split())

_TLS_VERSIONS = {"1.0": 1, "1.1": 2, "1.2": 3, "1.3": 4}
_AUTH_FOR_NO_CERT = ("--%s must be used with --management-client-auth, an "
                     "--auth-user-pass-verify script, or plugin")


def verify(state):
    """Record every refusal as an error of ``state`` (once per message)."""
    known = {error["msg"] for error in state.errors}
    for stage, msg, directive in refusals(state):
        if msg not in known:
            known.add(msg)
            state.error(msg, directive, stage)


def refusals(state):
    """``(stage, message, directive)`` for what openvpn refuses, in openvpn's order.

    A config openvpn cannot read (an error of stage ``parse``) never reaches verification,
    so then only the removed options are reported.
    """
    found = list(_removed(state))
    if any(error["stage"] == PARSE for error in state.errors):
        return found
    found.extend(_helpers(state))
    for entry in state.entries:
        found.extend(_verify_entry(state, entry))
    found.extend(_verify_tls_mode(state))
    found.extend(_verify_dns(state))
    return found


def _last(state, name):
    found = state.seen.get(name)
    return found[-1] if found else None


def _first(state, name):
    found = state.seen.get(name)
    return found[0] if found else None


def _pick(state, messages):
    return messages[1] if state.v27 else messages[0]


def _proto(state, entry):
    """udp, tcp, tcp-server or tcp-client, as verify sees it after mutate_ce()."""
    proto = re.sub(r"(?<=^udp)[46]|(?<=^tcp)[46]", "", entry.proto or "udp")
    # 2.7 makes a plain "tcp" a tcp-client outside server mode, not only with --client.
    if proto == "tcp" and state.v27 and not state.mode:
        return "tcp-client"
    return proto


def _removed(state):
    for name, messages in REMOVED.items():
        msg = _pick(state, messages)
        if msg and name in state.seen:
            yield PARSE, msg, _first(state, name)


def _helpers(state):
    """helper.c: the --server helpers set up the pools themselves and refuse a second one."""
    pool = _first(state, "ifconfig-pool")
    if state.server_ipv6 is not None and "ifconfig-ipv6-pool" in state.seen:
        yield MUTATE, ("--server-ipv6 already defines an ifconfig-ipv6-pool, so you can't also "
                       "specify --ifconfig-pool explicitly"), _first(state, "ifconfig-ipv6-pool")
    for helper, name in ((state.server, "server"), (state.server_bridge, "server-bridge")):
        if helper is not None and pool is not None and "nopool" not in helper.args:
            yield MUTATE, ("--%s already defines an ifconfig-pool, so you can't also specify "
                           "--ifconfig-pool explicitly" % name), pool


def _bind_local(state, entry):
    """options_postprocess_mutate_ce(): clients and tcp-client do not bind unless told to."""
    if "nobind" in state.seen:
        return False
    need_bind = state.seen.keys() & {"local", "lport", "bind"}
    uses_socks = _proto(state, entry) == "udp" and entry.socks_proxy is not None
    return bool(need_bind) or not (_proto(state, entry) == "tcp-client" or uses_socks or state.pull)


def _verify_entry(state, entry):
    """options_postprocess_verify_ce() for one connection entry."""
    proto = _proto(state, entry)
    bind_local = _bind_local(state, entry)
    remote = entry.remote.args[0] if entry.remote is not None else None
    remote_port = (entry.remote.args[1] if entry.remote is not None and len(entry.remote.args) > 1
                   else _port(state, "rport"))
    ifconfig = _last(state, "ifconfig")
    ifconfig_args = ifconfig.args[:2] if ifconfig is not None else []
    locals_ = [d.args[0] for d in state.seen.get("local", [])]

    if "lladdr" in state.seen and state.dev_kind != "tap":
        yield VERIFY, "--lladdr can only be used in --dev tap mode", _first(state, "lladdr")
    if "tun-mtu" in state.seen and "link-mtu" in state.seen:
        yield VERIFY, "only one of --tun-mtu or --link-mtu may be defined", _first(state, "link-mtu")
    if proto != "udp" and "mtu-test" in state.seen:
        yield VERIFY, "--mtu-test only makes sense with --proto udp", _first(state, "mtu-test")
    if locals_ and remote is not None and locals_[-1] == remote and _port(state, "lport") == remote_port:
        yield VERIFY, _pick(state, ("--remote and --local addresses are the same",
                                    "--remote and one of the --local addresses are the same")), \
            entry.remote
    if remote is not None and remote in ifconfig_args:
        yield VERIFY, ("--local and --remote addresses must be distinct from --ifconfig "
                       "addresses"), entry.remote
    if locals_ and set(locals_) & set(ifconfig_args):
        yield VERIFY, "--local addresses must be distinct from --ifconfig addresses", \
            _first(state, "local")
    if len(ifconfig_args) == 2 and ifconfig_args[0] == ifconfig_args[1]:
        yield VERIFY, "local and remote/netmask --ifconfig addresses must be different", ifconfig
    if "bind" in state.seen and not bind_local:
        yield VERIFY, "--bind and --nobind can't be used together", _first(state, "nobind")
    if locals_ and not bind_local:
        yield VERIFY, "--local and --nobind don't make sense when used together", \
            _first(state, "nobind")
    if "lport" in state.seen and not bind_local:
        yield VERIFY, "--lport and --nobind don't make sense when used together", \
            _first(state, "nobind")
    if remote is None and not bind_local:
        yield VERIFY, "--nobind doesn't make sense unless used with --remote", \
            _first(state, "nobind") or _first(state, "client") or _first(state, "pull")
    if state.v27 and not state.mode and len(locals_) > 1:
        yield VERIFY, "multiple --local statements only allowed in --server mode", \
            state.seen["local"][1]
    yield from _verify_management(state)
    if proto != "udp" and entry.fragment is not None:
        yield VERIFY, "--fragment can only be used with --proto udp", entry.fragment
    if remote is None and proto == "tcp-client":
        yield VERIFY, "--remote MUST be used in TCP Client mode", _first(state, "proto")
    if entry.http_proxy is not None and entry.socks_proxy is not None:
        yield VERIFY, "--http-proxy can not be used together with --socks-proxy", entry.socks_proxy
    if entry.socks_proxy is not None and proto == "tcp-server":
        yield VERIFY, "--socks-proxy can not be used in TCP Server mode", entry.socks_proxy
    if proto == "tcp-server" and len(state.entries) > 1:
        yield VERIFY, "TCP server mode allows at most one --remote address", entry.remote
    if state.mode:
        yield from _verify_server(state, proto)
    else:
        yield from _verify_not_server(state)
    yield from _verify_replay(state)


def _port(state, name):
    """--lport/--rport, else --port, else 1194."""
    for option in (name, "port"):
        d = _last(state, option)
        if d is not None:
            return d.args[0]
    return "1194"


def _verify_management(state):
    management = _last(state, "management")
    modifiers = sorted(state.seen.keys() & MANAGEMENT_MODIFIERS)
    cache = _last(state, "management-log-cache")
    if management is None and (modifiers or (cache is not None and cache.args[0] != "250")):
        by = _first(state, modifiers[0]) if modifiers else cache
        yield VERIFY, ("--management is not specified, however one or more options which modify "
                       "the behavior of --management were specified"), by
    unix = management is not None and len(management.args) > 1 and management.args[1] == "unix"
    for name in ("management-client-user", "management-client-group"):
        if name in state.seen and not unix:
            yield VERIFY, ("--management-client-(user|group) can only be used on unix domain "
                           "sockets"), _first(state, name)
            break


def _server_use(state, name):
    return "--%s cannot be used with --mode server%s" % (name, "." if state.v27 else "")


def _verify_server(state, proto):
    """The --mode server branch of options_postprocess_verify_ce(), the checks _dco_rules does
    not make itself (it checks --dev, --pull, --tls-server, --remote, --nobind, the proxies,
    <connection> and --auth-user-pass)."""
    protos = ("--mode server currently only supports --proto values of udp, tcp-server, "
              "tcp4-server, or tcp6-server")
    if proto not in ("udp", "tcp-server"):
        yield VERIFY, protos, _first(state, "proto") or state.mode
    if "port-share" in state.seen and proto != "tcp-server":
        yield VERIFY, ("--port-share only works in TCP server mode (--proto values of tcp-server, "
                       "tcp4-server, or tcp6-server)"), _first(state, "port-share")
    for name in ("shaper", "ipchange"):
        if name not in state.seen:
            continue
        if name == "ipchange":
            msg = "--ipchange cannot be used with --mode server (use --client-connect instead)"
        else:
            msg = _server_use(state, name)
        yield VERIFY, msg, _first(state, name)
    if proto != "udp" and "connect-freq" in state.seen:
        yield VERIFY, ("--connect-freq only works with --mode server --proto udp.  Try "
                       "--max-clients instead."), _first(state, "connect-freq")
    pool = _last(state, "ifconfig-pool")
    if (pool is not None and len(pool.args) > 2 and not (
            state.dev_kind == "tap" or (state.dev_kind == "tun" and state.topology_value == "subnet"))):
        yield VERIFY, ("The third parameter to --ifconfig-pool (netmask) is only valid in --dev "
                       "tap mode"), pool
    redirect = _first(state, "redirect-gateway") or _first(state, "redirect-private")
    if redirect is not None:
        yield VERIFY, ("--redirect-gateway cannot be used with --mode server (however --push "
                       "\"redirect-gateway\" is fine)"), redirect
    for name in ("route-delay", "up-delay"):
        if name in state.seen:
            yield VERIFY, _server_use(state, name), _first(state, name)
    if "ifconfig-pool-persist" in state.seen and not _pool_defined(state):
        yield VERIFY, ("--ifconfig-pool-persist must be used with --ifconfig-pool or "
                       "--ifconfig-ipv6-pool"), _first(state, "ifconfig-pool-persist")
    if ("ifconfig-ipv6-pool" in state.seen
            and not state.seen.keys() & {"ifconfig-ipv6", "server-ipv6"}):
        yield VERIFY, "--ifconfig-ipv6-pool needs --ifconfig-ipv6", _first(state, "ifconfig-ipv6-pool")
    if "allow-recursive-routing" in state.seen:
        yield VERIFY, _server_use(state, "allow-recursive-routing"), \
            _first(state, "allow-recursive-routing")
    if "ccd-exclusive" in state.seen and "client-config-dir" not in state.seen:
        yield VERIFY, "--ccd-exclusive must be used with --client-config-dir", \
            _first(state, "ccd-exclusive")
    reneg = _last(state, "reneg-sec")
    if "auth-gen-token" in state.seen and reneg is not None and _int(reneg.args[0]) == 0:
        yield VERIFY, ("--auth-gen-token needs a non-infinite --renegotiate_seconds setting"), reneg
    yield from _verify_no_cert_auth(state)
    if "vlan-tagging" in state.seen and state.dev_kind != "tap":
        yield VERIFY, "--vlan-tagging must be used with --dev tap", _first(state, "vlan-tagging")
    if "vlan-tagging" not in state.seen:
        for name in ("vlan-accept", "vlan-pvid"):
            if _changed(state, name):
                yield VERIFY, "--%s requires --vlan-tagging" % name, _first(state, name)


def _verify_no_cert_auth(state):
    """Server options that let a client in without a certificate need something else that
    authenticates it."""
    if state.seen.keys() & {"auth-user-pass-verify", "plugin", "management-client-auth"}:
        return
    if _client_cert_flags(state):
        yield VERIFY, _AUTH_FOR_NO_CERT % "verify-client-cert none|optional", \
            _last(state, "verify-client-cert")
    for name in ("username-as-common-name", "auth-user-pass-optional"):
        if name in state.seen:
            yield VERIFY, _AUTH_FOR_NO_CERT % name, _first(state, name)


def _client_cert_flags(state):
    last = _last(state, "verify-client-cert")
    return last is not None and last.args[:1] in (["none"], ["optional"])


def _pool_defined(state):
    """--ifconfig-pool, --ifconfig-ipv6-pool, or a helper that sets one up."""
    if state.seen.keys() & {"ifconfig-pool", "ifconfig-ipv6-pool", "server-ipv6"}:
        return True
    if state.server is not None and "nopool" not in state.server.args:
        return True
    return state.server_bridge is not None and len(state.server_bridge.args) >= 4


def _changed(state, name):
    """vlan-accept and vlan-pvid count only when they differ from the defaults."""
    d = _last(state, name)
    if d is None:
        return False
    return d.args[0] != {"vlan-accept": "all", "vlan-pvid": "1"}[name]


def _verify_not_server(state):
    for name, messages in SERVER_ONLY.items():
        msg = _pick(state, messages)
        if msg is None or name not in state.seen:
            continue
        if name == "verify-client-cert" and not _client_cert_flags(state):
            continue
        if name in ("vlan-accept", "vlan-pvid") and not _changed(state, name):
            continue
        if name == "hash-size" and not state.v27 and _last(state, name).args == ["256", "256"]:
            continue
        yield VERIFY, msg, _first(state, name)


def _verify_replay(state):
    if state.v27 or "no-replay" not in state.seen:
        return
    window = _last(state, "replay-window")
    if window is not None and window.args[:2] != ["64", "15"][:len(window.args)]:
        yield VERIFY, ("--replay-window doesn't make sense when replay protection is disabled "
                       "with --no-replay"), window


def _verify_tls_mode(state):
    """The TLS part of options_postprocess_verify_ce() that _dco_rules does not check."""
    tls_min = _last(state, "tls-version-min")
    tls_max = _last(state, "tls-version-max")
    if tls_min is not None and tls_max is not None:
        low = _TLS_VERSIONS.get(tls_min.args[0])
        high = _TLS_VERSIONS.get(tls_max.args[0])
        if low and high and high < low:
            yield VERIFY, "--tls-version-min bigger than --tls-version-max", tls_max
    if state.tls_server or state.tls_client:
        yield from _verify_tls_sources(state)
        if "tls-auth" in state.seen and "tls-crypt" in state.seen:
            yield VERIFY, "--tls-auth and --tls-crypt are mutually exclusive", _first(state, "tls-crypt")
        if (state.tls_client and "tls-crypt-v2" in state.seen
                and state.seen.keys() & {"tls-auth", "tls-crypt"}):
            yield VERIFY, ("--tls-crypt-v2, --tls-auth and --tls-crypt are mutually exclusive in "
                           "client mode"), _first(state, "tls-crypt-v2")
    elif not state.v27 or state.allow_static is not None:
        # 2.7 first refuses the static key itself unless it is explicitly allowed.
        yield from _verify_not_tls(state)
    if "auth-user-pass" in state.seen and not state.pull:
        yield VERIFY, "--auth-user-pass requires --pull", _first(state, "auth-user-pass")


def _verify_tls_sources(state):
    """Where the certificate and key come from: one source only."""
    seen = state.seen
    if "pkcs12" in seen:
        others = (("capath", "capath"), ("cert", "cert"), ("key", "key"),
                  ("management-external-key", "management-external-key"),
                  ("management-external-cert", "management-external-cert"))
        for name, shown in others:
            if name in seen:
                yield VERIFY, ("Parameter --%s cannot be used when --pkcs12 is also specified."
                               % shown), _first(state, name)
        return
    if "management-external-key" in seen and "key" in seen:
        yield VERIFY, "--key and --management-external-key are mutually exclusive", _first(state, "key")
    elif "management-external-cert" in seen:
        if "cert" in seen:
            yield VERIFY, "--cert and --management-external-cert are mutually exclusive", \
                _first(state, "cert")
        elif "management-external-key" not in seen:
            yield VERIFY, ("--management-external-cert must be used with "
                           "--management-external-key"), _first(state, "management-external-cert")


def _verify_not_tls(state):
    template = ("Parameter %s can only be specified in TLS-mode, i.e. where --tls-server or "
                "--tls-client is also specified.")
    for name, field, default in TLS_ONLY:
        d = _last(state, name)
        if d is None or (default is not None and d.args[:1] == [default]):
            continue
        yield VERIFY, template % (name if state.v27 else field), d
    if state.pull:
        yield VERIFY, template % "--pull", state.pull


def _verify_dns(state):
    """dns.c dns_options_verify(): every --dns server needs an address."""
    servers = {}
    for d in state.seen.get("dns", []):
        if len(d.args) >= 3 and d.args[0] == "server":
            entry = servers.setdefault(d.args[1], [d, False])
            entry[1] = entry[1] or d.args[2] == "address"
    for number, (d, has_address) in servers.items():
        if not has_address:
            yield VERIFY, "dns server %s does not have an address assigned" % _int(number), d


def _int(text):
    """atoi(): the leading digits, 0 when there are none."""
    match = re.match(r"^\s*[-+]?\d+", text)
    return int(match.group(0)) if match else 0
