# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What openvpn derives from the options before it asks ``dco.c``, and what it refuses then.

``mutate(state)`` is ``options_postprocess_mutate()``: the ``server``/``client`` helpers, the
default topology, the connection entries and the cipher defaults. ``verify(state)`` records the
``options_postprocess_verify()`` refusals this collection knows best (``_verify`` holds the
rest) and the configs openvpn accepts but cannot run with. Pure.
"""

from __future__ import annotations

from ansible_collections.ovpnfleet.dco.plugins.module_utils.openvpn._dco_state import (
    DEFAULT_DATA_CIPHERS, LEGACY_CIPHER, MODERN_CIPHER, OTHER_MODE, comp_non_stub, device_kind, device_name, normalize_cipher)

# Options it refuses in server mode.
NOT_IN_SERVER = {
    "remote": "--remote cannot be used with --mode server",
    "nobind": "--nobind cannot be used with --mode server",
    "http-proxy": "--http-proxy cannot be used with --mode server",
    "socks-proxy": "--socks-proxy cannot be used with --mode server",
    "connection": "<connection> cannot be used with --mode server",
    "auth-user-pass": "--auth-user-pass cannot be used with --mode server (it should be used on "
                      "the client side only)",
}


def mutate(state):
    """helper_client_server(), helper_setdefault_topology() and the cipher defaults."""
    dev = device_kind(state)
    state.dev_kind = dev
    if state.server_ipv6:
        state.mode = state.mode or state.server_ipv6
        state.tls_server = state.tls_server or state.server_ipv6
    if state.server:
        _helper_server(state, dev)
    if state.server_bridge:
        if dev != "tap":
            state.error("--server-bridge directive only makes sense with --dev tap",
                        state.server_bridge, "mutate")
        state.mode = state.mode or state.server_bridge
        state.tls_server = state.tls_server or state.server_bridge
    if state.client:
        state.pull = state.pull or state.client
        state.tls_client = state.tls_client or state.client
    state.topology_value = _topology(state, dev)
    state.entries = _entries(state)
    _mutate_ciphers(state)
    if state.tls_server and not state.v27 and state.first("dh") is None:
        state.error("You must define DH file (--dh)", state.tls_server, "mutate")


def _helper_server(state, dev):
    d = state.server
    if state.client:
        state.error("--server and --client cannot be used together", d, "mutate")
    if state.server_bridge:
        state.error("--server and --server-bridge cannot be used together", d, "mutate")
    if state.secret:
        state.error("--server and --secret cannot be used together (you must use SSL/TLS keys)",
                    d, "mutate")
    if dev not in ("tun", "tap"):
        state.error("--server directive only makes sense with --dev tun or --dev tap", d, "mutate")
        return
    netbits = _netbits(d.args[0], d.args[1])
    if netbits is None:
        state.error("--server directive network/netmask combination is invalid", d, "mutate")
        return
    if netbits < 16:
        state.error("--server directive netmask allows for too many host addresses (subnet must "
                    "be 255.255.0.0 (/16) or higher)", d, "mutate")
    elif dev == "tun" and netbits > 29:
        state.error("--server directive when used with --dev tun must define a subnet of "
                    "255.255.255.248 (/29) or lower", d, "mutate")
    elif dev == "tap" and netbits > 30:
        state.error("--server directive when used with --dev tap must define a subnet of "
                    "255.255.255.252 (/30) or lower", d, "mutate")
    state.mode = state.mode or d
    state.tls_server = state.tls_server or d


def _netbits(network, netmask):
    bits = netmask_bits(netmask)
    try:
        net = _ipv4(network)
    except ValueError:
        return None
    if bits is None or net & ~((0xFFFFFFFF << (32 - bits)) & 0xFFFFFFFF) & 0xFFFFFFFF:
        return None
    return bits


def netmask_bits(netmask):
    try:
        mask = _ipv4(netmask)
    except ValueError:
        return None
    bits = bin(mask).count("1")
    if mask != ((0xFFFFFFFF << (32 - bits)) & 0xFFFFFFFF):
        return None
    return bits


def _ipv4(text):
    parts = text.split(".")
    if len(parts) != 4 or not all(part.isdigit() and int(part) < 256 for part in parts):
        raise ValueError(text)
    value = 0
    for part in parts:
        value = value * 256 + int(part)
    return value


def _topology(state, dev):
    if state.topology is not None:
        return state.topology.args[0]
    if not state.v27:
        return "net30"              # 2.6 init_options(): TOP_NET30
    if dev != "tun":
        return None                 # 2.7 leaves it undefined for tap
    return "subnet" if state.mode else "net30"


def _entries(state):
    """The connection list: <connection> blocks, else one entry per --remote, else o->ce;
    ``proto tcp`` becomes tcp-server in server mode and tcp-client with --client."""
    if state.connections:
        entries = state.connections
    elif state.remotes:
        entries = []
        for remote in state.remotes:
            entry = state.entry.copy()
            entry.remote = remote
            if len(remote.args) > 2:
                entry.proto = remote.args[2]
            entries.append(entry)
    else:
        entries = [state.entry]
    for entry in entries:
        if entry.proto == "tcp" and state.mode:
            entry.proto = "tcp-server"
        elif entry.proto == "tcp" and state.client:
            entry.proto = "tcp-client"
    return entries


def _need_compat_before(state, version):
    return state.compat is not None and state.compat[0] != 0 and state.compat[0] < version


def _mutate_ciphers(state):
    """setdefault_ncpciphers, backwards-compatible options, options_postprocess_cipher and
    mutate_ncp_cipher_list, in that order."""
    configured = state.data_ciphers.args[0] if state.data_ciphers else None
    if configured is None or configured == DEFAULT_DATA_CIPHERS:
        ciphers = DEFAULT_DATA_CIPHERS
    elif state.v27 and "DEFAULT" in configured.split(":"):
        ciphers = configured.replace("DEFAULT", DEFAULT_DATA_CIPHERS, 1)
    else:
        ciphers = configured
    state.cipher_list_by = state.data_ciphers
    if _need_compat_before(state, 20400):
        if state.ciphername is None:
            state.ciphername = ("BF-CBC", state.compat[1])
        state.fallback = state.fallback or state.compat[1]
    if (state.ciphername and _need_compat_before(state, 20500)
            and state.ciphername[0] not in ciphers.split(":")):
        ciphers = ciphers + ":" + state.ciphername[0]
        state.cipher_list_by = state.cipher_list_by or state.compat[1]
    if state.pull is None and state.mode is None and state.ciphername is not None:
        state.fallback = state.fallback or state.ciphername[1]
    state.data_cipher_list = _normalize_cipher_list(state, ciphers)


def _normalize_cipher_list(state, ciphers):
    result = []
    failed = False
    for token in ciphers.split(":"):
        if not token:
            continue
        optional = token.startswith("?")
        name = normalize_cipher(token[1:] if optional else token)
        if token.lstrip("?") == "none":
            result.append("none")
            continue
        valid = MODERN_CIPHER.match(name) or (LEGACY_CIPHER.match(name) and state.legacy_provider)
        if not valid:
            if OTHER_MODE.match(name):
                reason = ("Unsupported %scipher algorithm '%s'. It does not use CFB, OFB, CBC, or a "
                          "supported AEAD mode" % ("optional " if optional else "", token.lstrip("?")))
            else:
                reason = "Unsupported %scipher in --data-ciphers: %s" % (
                    "optional " if optional else "", token.lstrip("?"))
            state.warnings.append({"file": None, "line": None, "msg": reason})
            failed = failed or not optional
            continue
        result.append(name)
    if failed or not result:
        by = state.cipher_list_by
        state.error("--data-ciphers list contains unsupported ciphers or is too long.", by, "mutate")
    return result


def verify(state):
    """The options_postprocess_verify() refusals this module knows; openvpn checks more."""
    if device_name(state) is None:
        state.error("You must define TUN/TAP device (--dev)", None, "verify")
    roles = [d for d in (state.tls_server, state.tls_client, state.secret) if d is not None]
    if len(roles) > 1:
        state.error("specify only one of --tls-server, --tls-client, or --secret", roles[1], "verify")
    if state.mode:
        _verify_server(state)
    for entry in state.entries:
        if entry.http_proxy is not None and entry.proto != "tcp-client":
            state.error("--http-proxy MUST be used in TCP Client mode (i.e. --proto tcp-client)",
                        entry.http_proxy, "verify")
        if entry.proto == "tcp":
            state.error("--proto tcp is ambiguous in this context. Please specify --proto "
                        "tcp-server or --proto tcp-client", state.first("proto"), "verify")
    if state.tls_server or state.tls_client:
        _verify_tls(state)
    elif state.v27 and state.allow_static is None:
        state.error("DEPRECATION: No tls-client or tls-server option in configuration detected. "
                    "OpenVPN 2.8 will remove the functionality to run a VPN without TLS.",
                    state.secret, "verify")
    _verify_compression(state)
    _runtime_failures(state)


def _runtime_failures(state):
    """Configs openvpn accepts but cannot run with: it exits once it sets up the tunnel."""
    static = not (state.tls_server or state.tls_client)
    cipher = normalize_cipher(state.ciphername[0]) if state.ciphername else "BF-CBC"
    if static and state.secret and LEGACY_CIPHER.match(cipher) and not state.legacy_provider:
        state.error("the static key uses cipher %s (the default without --cipher), which OpenSSL 3 "
                    "has only in its legacy provider: openvpn exits with 'OpenSSL: "
                    "error:0308010C:digital envelope routines::unsupported'" % cipher,
                    state.secret, "runtime")
    ifconfig = state.first("ifconfig")
    if (state.dev_kind == "tun" and state.topology_value == "subnet" and ifconfig is not None
            and netmask_bits(ifconfig.args[1]) is None):
        state.error("with topology subnet (the server-mode default since 2.7) the second --ifconfig "
                    "parameter must be a netmask, not '%s': openvpn cannot configure the device "
                    "('sitnl_send: rtnl: generic error (-22): Invalid argument')" % ifconfig.args[1],
                    ifconfig, "runtime")


def _verify_server(state):
    if state.dev_kind not in ("tun", "tap"):
        state.error("--mode server only works with --dev tun or --dev tap", state.mode, "verify")
    if state.pull:
        state.error("--pull cannot be used with --mode server", state.pull, "verify")
    if not state.tls_server:
        state.error("--mode server requires --tls-server", state.mode, "verify")
    for name, msg in NOT_IN_SERVER.items():
        if name in state.seen:
            state.error(msg, state.first(name), "verify")


def _verify_tls(state):
    if not (state.seen.keys() & {"ca", "capath", "pkcs12", "peer-fingerprint"}):
        state.error("You must define CA file (--ca) or CA path (--capath) and/or peer fingerprint "
                    "verification (--peer-fingerprint)", None, "verify")
    if "pkcs12" in state.seen:
        return
    has_cert = bool(state.seen.keys() & {"cert", "management-external-cert"})
    has_key = bool(state.seen.keys() & {"key", "management-external-key"})
    if state.pull:
        if not has_cert and not has_key and "auth-user-pass" not in state.seen:
            state.error("No client-side authentication method is specified.  You must use either "
                        "--cert/--key, --pkcs12, or --auth-user-pass", None, "verify")
        elif has_cert != has_key:
            state.error("If you use one of --cert or --key, you must use them both", None, "verify")
    else:
        if not has_cert:
            state.error("You must define certificate file (--cert) or PKCS#12 file (--pkcs12)",
                        None, "verify")
        if not has_key:
            state.error("You must define private key file (--key) or PKCS#12 file (--pkcs12)",
                        None, "verify")


def _verify_compression(state):
    """comp.c check_compression_settings_valid(), run at the end of mutate."""
    if "allow_stub_only" in state.comp_flags and comp_non_stub(state):
        state.error("Compression is not allowed since allow-compression is set to 'stub-only'",
                    state.comp_alg[1], "verify")
