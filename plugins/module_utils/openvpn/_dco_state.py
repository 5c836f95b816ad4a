# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The option state openvpn builds while it reads a config, as far as DCO and its refusals need it.

``apply(state, directives)`` applies the options in order, as ``options.c`` ``add_option()``
does, to a ``State``: each field keeps the directive that set it, so a blocker or an error can
name its line. ``_dco_postprocess`` rewrites the state as ``options_postprocess_mutate()`` does,
``_rules`` asks it what ``dco.c`` asks. Pure.
"""

from __future__ import annotations

import re

from ansible_collections.ovpnfleet.dco.plugins.module_utils.openvpn._config import is_known_option, option_arity

# dco_linux.c dco_get_supported_ciphers(), identical in 2.6 and 2.7.
DCO_CIPHERS = ("AES-128-GCM", "AES-256-GCM", "AES-192-GCM", "CHACHA20-POLY1305")
DEFAULT_DATA_CIPHERS = "AES-256-GCM:AES-128-GCM:CHACHA20-POLY1305"  # ssl_ncp.c / options.c

# Options openvpn accepts inside a <connection> block (VERIFY_PERMISSION with
# OPT_P_CONNECTION in options.c, the same in 2.6 and 2.7).
CONNECTION_OPTIONS = frozenset("""
bind connect-retry connect-retry-max connect-timeout explicit-exit-notify float fragment
http-proxy http-proxy-option http-proxy-retry http-proxy-timeout key-direction link-mtu local
lport max-packet-size mssfix mtu-disc mtu-dynamic nobind port proto remote rport
server-poll-timeout socks-proxy socks-proxy-retry tls-auth tls-crypt tls-crypt-v2 tun-mtu
tun-mtu-extra tun-mtu-max udp-mtu
""".split())

# Options that may be given as an inline <block> (OPT_P_INLINE), the same in 2.6 and 2.7.
INLINE_OPTIONS = frozenset("""
auth-gen-token-secret auth-user-pass ca cert connection crl-verify dh extra-certs
http-proxy-user-pass key pkcs12 secret tls-auth tls-crypt tls-crypt-v2 verify-hash
""".split())
# OpenSSL 3 names (upper case, as openvpn prints them). Legacy ciphers need the legacy
# provider (``providers legacy default``); modes other than AEAD/CBC/CFB/OFB are refused.
CIPHER_ALIASES = {
    "AES128": "AES-128-CBC", "AES192": "AES-192-CBC", "AES256": "AES-256-CBC",
    "ID-AES128-GCM": "AES-128-GCM", "ID-AES192-GCM": "AES-192-GCM", "ID-AES256-GCM": "AES-256-GCM",
    "BF": "BF-CBC", "DES3": "DES-EDE3-CBC", "CAST": "CAST5-CBC", "DES": "DES-CBC",
}
MODERN_CIPHER = re.compile(
    r"^(?:(?:AES|ARIA)-(?:128|192|256)-(?:CBC|CFB|CFB1|CFB8|OFB|GCM)"
    r"|CAMELLIA-(?:128|192|256)-(?:CBC|CFB|CFB1|CFB8|OFB)"
    r"|DES-EDE3-(?:CBC|CFB|CFB1|CFB8|OFB)|SM4-(?:CBC|CFB|OFB)|CHACHA20-POLY1305)$")
LEGACY_CIPHER = re.compile(
    r"^(?:BF|CAST5|IDEA|SEED|RC2(?:-40|-64)?|DES|DESX|DES-EDE)-(?:CBC|CFB|CFB1|CFB8|OFB)$")
OTHER_MODE = re.compile(r"^[A-Z0-9-]+-(?:CTR|ECB|CCM|OCB|XTS|WRAP)$")


def normalize_cipher(name):
    upper = name.upper()
    return CIPHER_ALIASES.get(upper, upper)


class Entry:
    """One connection entry: the options dco_check_option_ce() looks at, with their lines."""

    def __init__(self, fragment=None, http_proxy=None, socks_proxy=None, remote=None, proto="udp"):
        self.fragment = fragment
        self.http_proxy = http_proxy
        self.socks_proxy = socks_proxy
        self.remote = remote
        self.proto = proto

    def copy(self):
        return Entry(self.fragment, self.http_proxy, self.socks_proxy, self.remote, self.proto)


class State:
    """The parts of openvpn's ``struct options`` that decide DCO, each with the directive that
    set it (so a blocker can name the line)."""

    def __init__(self, version):
        self.version = version
        self.v27 = version[:2] >= (2, 7)
        self.errors = []
        self.warnings = []
        self.seen = {}              # option name -> directives, in order
        self.mode = None            # directive of "mode server" (None: p2p)
        self.server = None          # "server" helper directive
        self.server_ipv6 = None
        self.server_bridge = None
        self.client = None
        self.pull = None
        self.tls_server = None
        self.tls_client = None
        self.secret = None
        self.dev = None
        self.dev_type = None
        self.dev_node = None
        self.topology = None        # directive; its value is args[0]
        self.comp_alg = None        # (alg, directive): None or "undef" when unset
        self.comp_flags = set()
        self.comp_flag_by = []      # directives that set allow-compression asym/yes
        self.ciphername = None      # (name, directive)
        self.fallback = None        # directive that enabled the cipher fallback
        self.data_ciphers = None    # directive
        self.compat = None          # (int version, directive)
        self.legacy_provider = False
        self.entry = Entry()       # the global connection entry (o->ce)
        self.remotes = []
        self.connections = []       # entries of <connection> blocks
        self.bind_dev = None
        self.management = None
        self.query_proxy = None
        self.user = None
        self.mktun = None
        self.disable_dco = None
        self.allow_static = None
        self.ignore_unknown = set()

    def first(self, name):
        found = self.seen.get(name)
        return found[0] if found else None

    def error(self, msg, directive=None, stage="parse"):
        self.errors.append({
            "file": directive.file if directive else None,
            "line": directive.line if directive else None,
            "msg": msg,
            "stage": stage,
        })


# Handlers: each applies one option to the state as add_option() does.

def _h_mode(state, d):
    if d.args[0] == "server":
        state.mode = d
    elif d.args[0] == "p2p":
        state.mode = None
    else:
        state.error("Bad --mode parameter: %s" % d.args[0], d)


def _h_set(attr):
    def handler(state, d):
        setattr(state, attr, d)
    return handler


def _h_topology(state, d):
    if not d.args:  # 2.7: "topology" alone resets to the default
        state.topology = None
    elif d.args[0] in ("net30", "p2p", "subnet"):
        state.topology = d
    else:
        state.error("--topology must be net30, p2p, or subnet", d)


def _h_allow_compression(state, d):
    value = d.args[0]
    if value == "no":
        state.comp_flags = {"allow_stub_only", "advertise_stubs_only"}
        state.comp_flag_by = []
        if comp_non_stub(state):
            state.error("'--allow-compression no' conflicts with  enabling compression", d)
    elif "allow_stub_only" in state.comp_flags:
        state.error("Cannot set allow-compression to '%s' after set to 'no'" % value, d)
    elif value == "asym":
        state.comp_flags.discard("allow_compress")
        state.comp_flags.add("allow_asym")
        state.comp_flag_by.append(d)
    elif value == "yes":
        # 2.7 made "yes" an alias for "asym" (Changes.rst, "Compression on send").
        state.comp_flags.add("allow_asym" if state.v27 else "allow_compress")
        state.comp_flag_by.append(d)
    else:
        state.error("bad allow-compression option: %s -- must be 'yes', 'no', or 'asym'" % value, d)


def _h_comp_lzo(state, d):
    if d.args and d.args[0] not in ("yes", "no", "adaptive"):
        state.error("bad comp-lzo option: %s -- must be 'yes', 'no', or 'adaptive'" % d.args[0], d)
        return
    state.comp_alg = ("stub" if d.args and d.args[0] == "no" else "lzo", d)


_COMPRESS_ALGS = {"stub": "stub", "stub-v2": "stub-v2", "lzo": "lzo", "lz4": "lz4", "lz4-v2": "lz4-v2"}


def _h_compress(state, d):
    alg = d.args[0] if d.args else "stub"
    if alg == "migrate":
        state.comp_alg = None
        state.comp_flags = {"migrate"}
        state.comp_flag_by = []
    elif alg in _COMPRESS_ALGS:
        state.comp_alg = (_COMPRESS_ALGS[alg], d)
    else:
        state.error("bad comp option: %s" % alg, d)


def comp_non_stub(state):
    return state.comp_alg is not None and state.comp_alg[0] in ("lzo", "lz4", "lz4-v2")


def _h_cipher(state, d):
    state.ciphername = (d.args[0], d)


def _h_fallback(state, d):
    state.ciphername = (d.args[0], d)
    state.fallback = d


def _h_compat(state, d):
    match = re.match(r"^(\d+)\.(\d+)\.(\d+)", d.args[0])
    if not match:
        state.error("cannot parse version number for --compat-mode: %s" % d.args[0], d)
        return
    major, minor, patch = (int(part) for part in match.groups())
    state.compat = (major * 10000 + minor * 100 + patch, d)


def _h_providers(state, d):
    state.legacy_provider = state.legacy_provider or "legacy" in d.args


def _h_entry(attr):
    def handler(state, d):
        setattr(state.entry, attr, d)
    return handler


def _h_remote(state, d):
    state.remotes.append(d)


def _h_proto(state, d):
    state.entry.proto = d.args[0]


def _h_connection(state, d):
    entry = state.entry.copy()
    entry.remote = None
    for child in d.children:
        if getattr(child, "malformed", False):   # the parser already refused it
            continue
        if child.name not in CONNECTION_OPTIONS and is_known_option(child.name):
            state.error("option '%s' cannot be used in this context ([CONNECTION-OPTIONS])"
                        % child.name, child)
            continue
        if not _arity_ok(state, child):
            continue
        if child.name == "remote":
            entry.remote = child
            if len(child.args) > 2:
                entry.proto = child.args[2]
        elif child.name == "proto":
            entry.proto = child.args[0]
        elif child.name in ("fragment", "http-proxy", "socks-proxy"):
            setattr(entry, child.name.replace("-", "_"), child)
    if entry.remote is None:
        state.error("Each 'connection' block must contain exactly one 'remote' directive", d)
        return
    state.connections.append(entry)


def _h_ignore_unknown(state, d):
    state.ignore_unknown.update(name[2:] if name.startswith("--") else name for name in d.args)


HANDLERS = {
    "mode": _h_mode,
    "server": _h_set("server"),
    "server-ipv6": _h_set("server_ipv6"),
    "server-bridge": _h_set("server_bridge"),
    "client": _h_set("client"),
    "pull": _h_set("pull"),
    "tls-server": _h_set("tls_server"),
    "tls-client": _h_set("tls_client"),
    "secret": _h_set("secret"),
    "dev": _h_set("dev"),
    "dev-type": _h_set("dev_type"),
    "dev-node": _h_set("dev_node"),
    "topology": _h_topology,
    "allow-compression": _h_allow_compression,
    "comp-lzo": _h_comp_lzo,
    "compress": _h_compress,
    "cipher": _h_cipher,
    "data-ciphers-fallback": _h_fallback,
    "data-ciphers": _h_set("data_ciphers"),
    "ncp-ciphers": _h_set("data_ciphers"),
    "compat-mode": _h_compat,
    "providers": _h_providers,
    "fragment": _h_entry("fragment"),
    "http-proxy": _h_entry("http_proxy"),
    "socks-proxy": _h_entry("socks_proxy"),
    "remote": _h_remote,
    "proto": _h_proto,
    "connection": _h_connection,
    "bind-dev": _h_set("bind_dev"),
    "management": _h_set("management"),
    "management-query-proxy": _h_set("query_proxy"),
    "user": _h_set("user"),
    "mktun": _h_set("mktun"),
    "disable-dco": _h_set("disable_dco"),
    "allow-deprecated-insecure-static-crypto": _h_set("allow_static"),
    "ignore-unknown-option": _h_ignore_unknown,
}


def _arity_ok(state, d):
    counts = option_arity(state.version).get(d.name)
    if counts is not None and len(d.args) in counts:
        return True
    if d.name in state.ignore_unknown or getattr(d, "forward_compatible", False):
        state.warnings.append({"file": d.file, "line": d.line,
                               "msg": "openvpn ignores unknown option '%s' here" % d.name})
        return False
    if not is_known_option(d.name):
        # The name is the text of a line that may be no config at all (a link to
        # /etc/shadow): openvpn's message up to where it would quote it.
        state.error("Unrecognized option or missing or extra parameter(s) in %s:%d" % (d.file, d.line), d)
        return False
    state.error("Unrecognized option or missing or extra parameter(s) in %s:%d: %s (%s)"
                % (d.file, d.line, d.name, ".".join(str(part) for part in state.version)), d)
    return False


def apply(state, directives):
    for d in directives:
        if getattr(d, "malformed", False):   # the parser already refused it
            continue
        if d.name == "setenv" and len(d.args) >= 2 and d.args[0] == "opt":
            d = _forward_compatible(d)
        if not _arity_ok(state, d):
            continue
        if d.inline and d.name not in INLINE_OPTIONS:
            state.error("option '%s' is not expected to be inline (%s:%d)"
                        % (d.name, d.file, d.line), d)
            continue
        state.seen.setdefault(d.name, []).append(d)
        handler = HANDLERS.get(d.name)
        if handler:
            handler(state, d)


def _forward_compatible(d):
    """``setenv opt NAME ...``: openvpn applies NAME and only warns when it does not know it."""
    inner = type(d)(d.args[1], d.args[2:], d.file, d.line, d.raw, d.end_line, d.inline, d.level)
    inner.forward_compatible = True
    return inner


# The device openvpn would open, from --dev and --dev-type (tun.c).

def device_name(state):
    """--dev, or 2.7's default "tun" (commit c2a1de5e); 2.6 has no default."""
    if state.dev is not None:
        return state.dev.args[0]
    return "tun" if state.v27 else None


def is_dev_type(state, kind):
    """tun.c is_dev_type(): --dev-type when given, else the prefix of the --dev name."""
    if state.dev_type is not None:
        return state.dev_type.args[0] == kind
    return device_name(state).startswith(kind)


def device_kind(state):
    """tun.c dev_type_enum(); 2.7 counts the null device as tun."""
    if device_name(state) is None:
        return None
    if is_dev_type(state, "tun") or (state.v27 and is_dev_type(state, "null")):
        return "tun"
    for kind in ("tap", "null"):
        if is_dev_type(state, kind):
            return kind
    return "undef"
