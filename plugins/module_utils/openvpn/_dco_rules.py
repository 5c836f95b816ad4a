# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether openvpn keeps data channel offload (DCO) on for a config, and what blocks it.

Pure: ``evaluate(parsed, version)`` takes a ``_openvpn_config.ParsedConfig`` and an OpenVPN
version and returns a verdict; nothing here reads the host.

The rules are openvpn's own, not what option names suggest. openvpn applies the options in
order to one state (``options.c`` ``add_option``), rewrites it (``options_postprocess_mutate``:
``--server`` and ``--client`` helpers, the default topology, cipher and compression defaults)
and only then asks ``dco.c``: ``dco_check_option()`` (cipher fallback, compression, data
ciphers), then ``dco_check_startup_option()`` (TLS, device type, per connection fragment and
proxies, bind-dev, topology, management-query-proxy) and last whether the kernel has the
module. It prints the first reason only and runs in userspace. ``--mktun`` turns DCO off later
(``init.c``). This module emulates that state, so it sees what openvpn sees:

- ``comp-lzo no`` and ``compress`` without an algorithm still select compression framing
  (a stub algorithm): DCO goes off. ``compress migrate`` does not turn it off.
- In p2p mode (neither ``--client``/``--pull`` nor server mode) ``cipher X`` becomes the
  data-ciphers fallback; in client and server mode it is ignored. openvpn compares the
  fallback cipher case-sensitively, so a lower-case AEAD name turns DCO off too.
- 2.6 defaults to ``topology net30`` everywhere, so ``server`` without ``topology subnet``
  turns DCO off; 2.7 defaults to ``subnet`` in server mode (``helper_setdefault_topology``).
- ``dev-type`` decides the device type when given; only without it does the name's prefix
  (``tun``/``tap``/``null``) count. A fixed name (one with a digit) that already exists as a
  non-DCO interface turns DCO off at start, which only the host can tell.

Sources: OpenVPN/openvpn ``src/openvpn/dco.c``, ``options.c``, ``helper.c``, ``ssl_ncp.c``,
``comp.c``, ``init.c`` at v2.6.14, v2.6.22 (release/2.6) and v2.7.6 (release/2.7), each
verdict checked against real openvpn binaries (tests/unit/fixtures/openvpn_configs/).
"""

from __future__ import annotations

import re

from ansible_collections.ovpnfleet.dco.plugins.module_utils._errors import DcoError
from ansible_collections.ovpnfleet.dco.plugins.module_utils._generations import GENERATIONS, generation_for_openvpn
from ansible_collections.ovpnfleet.dco.plugins.module_utils.openvpn._config import is_known_option, option_arity
from ansible_collections.ovpnfleet.dco.plugins.module_utils.openvpn._verify import verify as verify_options

# dco_linux.c dco_get_supported_ciphers(), identical in 2.6 and 2.7.
DCO_CIPHERS = ("AES-128-GCM", "AES-256-GCM", "AES-192-GCM", "CHACHA20-POLY1305")
DEFAULT_DATA_CIPHERS = "AES-256-GCM:AES-128-GCM:CHACHA20-POLY1305"  # ssl_ncp.c / options.c

# What "2.6" or "2.7" without a patch level stands for: the newest release the rules know.
NEWEST = {(2, 6): (2, 6, 22), (2, 7): (2, 7, 8)}

MODE_SERVER = "server"
MODE_CLIENT = "client"
MODE_P2P = "p2p"

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

# OpenSSL 3 names (upper case, as openvpn prints them). Legacy ciphers need the legacy
# provider (``providers legacy default``); modes other than AEAD/CBC/CFB/OFB are refused.
_CIPHER_ALIASES = {
    "AES128": "AES-128-CBC", "AES192": "AES-192-CBC", "AES256": "AES-256-CBC",
    "ID-AES128-GCM": "AES-128-GCM", "ID-AES192-GCM": "AES-192-GCM", "ID-AES256-GCM": "AES-256-GCM",
    "BF": "BF-CBC", "DES3": "DES-EDE3-CBC", "CAST": "CAST5-CBC", "DES": "DES-CBC",
}
_MODERN_CIPHER = re.compile(
    r"^(?:(?:AES|ARIA)-(?:128|192|256)-(?:CBC|CFB|CFB1|CFB8|OFB|GCM)"
    r"|CAMELLIA-(?:128|192|256)-(?:CBC|CFB|CFB1|CFB8|OFB)"
    r"|DES-EDE3-(?:CBC|CFB|CFB1|CFB8|OFB)|SM4-(?:CBC|CFB|OFB)|CHACHA20-POLY1305)$")
_LEGACY_CIPHER = re.compile(
    r"^(?:BF|CAST5|IDEA|SEED|RC2(?:-40|-64)?|DES|DESX|DES-EDE)-(?:CBC|CFB|CFB1|CFB8|OFB)$")
_OTHER_MODE = re.compile(r"^[A-Z0-9-]+-(?:CTR|ECB|CCM|OCB|XTS|WRAP)$")


def resolve_version(text):
    """``"2.6.14"`` -> ``(2, 6, 14)``; ``"2.7"`` -> the newest 2.7 the rules know.

    Raises ``DcoError`` for anything that is not OpenVPN 2.6.x or 2.7.x.
    """
    match = re.match(r"^\s*(?:OpenVPN\s+)?(\d+)\.(\d+)(?:\.(\d+))?", str(text or ""))
    series = (int(match.group(1)), int(match.group(2))) if match else None
    if series not in NEWEST:
        raise DcoError("check OpenVPN version %r: the DCO rules cover OpenVPN 2.6.x and 2.7.x only "
                       "(2.5 and older have no DCO)" % (text,))
    if match.group(3) is None:
        return NEWEST[series]
    return series + (int(match.group(3)),)


def normalize_cipher(name):
    upper = name.upper()
    return _CIPHER_ALIASES.get(upper, upper)


class _Entry:
    """One connection entry: the options dco_check_option_ce() looks at, with their lines."""

    def __init__(self, fragment=None, http_proxy=None, socks_proxy=None, remote=None, proto="udp"):
        self.fragment = fragment
        self.http_proxy = http_proxy
        self.socks_proxy = socks_proxy
        self.remote = remote
        self.proto = proto

    def copy(self):
        return _Entry(self.fragment, self.http_proxy, self.socks_proxy, self.remote, self.proto)


class _State:
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
        self.entry = _Entry()       # the global connection entry (o->ce)
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
        if _comp_non_stub(state):
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


def _comp_non_stub(state):
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


def _apply(state, directives):
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


# What options_postprocess_mutate() derives before asking dco.c.

def _dev_name(state):
    """--dev, or 2.7's default "tun" (commit c2a1de5e); 2.6 has no default."""
    if state.dev is not None:
        return state.dev.args[0]
    return "tun" if state.v27 else None


def _is_dev_type(state, kind):
    """tun.c is_dev_type(): --dev-type when given, else the prefix of the --dev name."""
    if state.dev_type is not None:
        return state.dev_type.args[0] == kind
    return _dev_name(state).startswith(kind)


def _dev_type(state):
    """tun.c dev_type_enum(); 2.7 counts the null device as tun."""
    if _dev_name(state) is None:
        return None
    if _is_dev_type(state, "tun") or (state.v27 and _is_dev_type(state, "null")):
        return "tun"
    for kind in ("tap", "null"):
        if _is_dev_type(state, kind):
            return kind
    return "undef"


def _mutate(state):
    """helper_client_server(), helper_setdefault_topology() and the cipher defaults."""
    dev = _dev_type(state)
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
    bits = _netmask_bits(netmask)
    try:
        net = _ipv4(network)
    except ValueError:
        return None
    if bits is None or net & ~((0xFFFFFFFF << (32 - bits)) & 0xFFFFFFFF) & 0xFFFFFFFF:
        return None
    return bits


def _netmask_bits(netmask):
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
        valid = _MODERN_CIPHER.match(name) or (_LEGACY_CIPHER.match(name) and state.legacy_provider)
        if not valid:
            if _OTHER_MODE.match(name):
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


# The checks of dco.c, in openvpn's order. Each returns blockers (dicts); the first blocker
# of the first check that finds any is the note openvpn prints.

def _blocker(directive, option, reason, fix):
    return {
        "option": option,
        "file": directive.file if directive is not None else None,
        "line": directive.line if directive is not None else None,
        "reason": reason,
        "fix": fix,
    }


def _check_disable_dco(state):
    if state.disable_dco is None:
        return []
    return [_blocker(state.disable_dco, "disable-dco",
                     "--disable-dco is set, so openvpn does not try DCO at all (it logs no note "
                     "for this)", "Remove the disable-dco line.")]


def _check_fallback(state):
    if state.fallback is None or state.ciphername[0] in DCO_CIPHERS:
        return []
    cipher, by = state.ciphername
    spelled = "--data-cipher-fallback" if state.version < (2, 6, 10) else "--data-ciphers-fallback"
    reason = "Note: %s with cipher '%s' disables data channel offload." % (spelled, cipher)
    if by.name == "cipher":
        fix = ("In p2p mode openvpn treats 'cipher %s' as the data-ciphers fallback: remove the "
               "line (both peers then negotiate, which needs OpenVPN 2.6+ on both) or use one of "
               "%s, spelled exactly so." % (cipher, ", ".join(DCO_CIPHERS)))
    elif by.name == "compat-mode":
        fix = ("compat-mode below 2.4.0 falls back to '%s'; remove compat-mode or raise it to "
               "2.4.0 or later." % cipher)
    else:
        fix = ("Remove data-ciphers-fallback (peers that cannot negotiate cannot use DCO anyway) "
               "or set it to one of %s, spelled exactly so." % ", ".join(DCO_CIPHERS))
    return [_blocker(by, by.name, reason, fix)]


def _check_compression(state):
    culprits = []
    if state.comp_alg is not None:
        culprits.append(state.comp_alg[1])
    if state.comp_flags & {"allow_asym", "allow_compress"}:
        culprits.extend(state.comp_flag_by)
    if not culprits:
        return []
    reason = "Note: '--allow-compression' is not set to 'no', disabling data channel offload."
    if state.mode and "migrate" not in state.comp_flags:
        reason += " Consider using the '--compress migrate' option."
    blockers = []
    for d in culprits:
        if d.name == "allow-compression":
            fix = "Set 'allow-compression no' (the default since 2.6) or remove the line."
        elif state.mode:
            fix = ("Replace '%s' by 'compress migrate': it keeps serving clients that still "
                   "announce compression, in userspace, and lets the others use DCO." % _text(d))
        else:
            fix = ("Remove '%s': any compression option, 'comp-lzo no' and a bare 'compress' "
                   "included, selects compression framing. Remove the matching option on the "
                   "server side too, or give the server 'compress migrate'." % _text(d))
        blockers.append(_blocker(d, d.name, reason, fix))
    return blockers


def _check_data_ciphers(state):
    bad = [name for name in state.data_cipher_list if name not in DCO_CIPHERS]
    if not bad:
        return []
    by = state.cipher_list_by
    reason = ("Note: cipher '%s' in --data-ciphers is not supported by ovpn-dco, disabling data "
              "channel offload." % bad[0])
    fix = ("Remove %s from data-ciphers; DCO supports %s."
           % (", ".join("'%s'" % name for name in bad), ", ".join(DCO_CIPHERS)))
    return [_blocker(by, by.name if by is not None else "data-ciphers", reason, fix)]


def _check_tls(state):
    if _dev_name(state) is None or state.tls_server or state.tls_client:
        return []
    return [_blocker(state.secret, "secret" if state.secret else "tls-server",
                     "No tls-client or tls-server option in configuration detected. Disabling "
                     "data channel offload.",
                     "Use TLS: tls-server/tls-client with certificates or --peer-fingerprint "
                     "instead of a static key (--secret); 2.7 refuses static keys unless "
                     "--allow-deprecated-insecure-static-crypto is given.")]


def _check_dev_type(state):
    if state.dev_kind in (None, "tun"):
        return []
    by = state.dev_type or state.dev
    return [_blocker(by, by.name, "Note: dev-type not tun, disabling data channel offload.",
                     "DCO carries IP packets only: use a tun device ('dev tun' and no "
                     "'dev-type %s'); bridging (tap) stays in userspace." % state.dev_kind)]


def _check_afunix_null(state):
    """2.7 only: an AF_UNIX dev-node, or the null device (which 2.7 counts as tun)."""
    if not state.v27 or state.dev_kind != "tun":
        return []
    if state.dev_node is not None and state.dev_node.args[0].startswith("unix:"):
        return [_blocker(state.dev_node, "dev-node",
                         "Note: afunix tun type selected, disabling data channel offload",
                         "Remove the 'dev-node unix:...' line.")]
    if _is_dev_type(state, "null"):
        by = state.dev_type or state.dev
        return [_blocker(by, by.name, "Note: null tun type selected, disabling data channel "
                         "offload", "The null device carries nothing; use 'dev tun'.")]
    return []


def _check_entries(state):
    entries = state.entries
    blockers = []
    seen = set()
    checks = (
        ("fragment", "Note: --fragment disables data channel offload.",
         "Remove 'fragment' on every peer; let path MTU discovery or a lower tun-mtu handle "
         "the MTU."),
        ("http_proxy", "Note: --http-proxy disables data channel offload.",
         "DCO cannot tunnel through an HTTP proxy: connect directly, or keep this profile in "
         "userspace."),
        ("socks_proxy", "Note: --socks-proxy disables data channel offload.",
         "DCO cannot tunnel through a SOCKS proxy: connect directly, or keep this profile in "
         "userspace."),
    )
    for entry in entries:
        for attr, reason, fix in checks:
            d = getattr(entry, attr)
            if d is not None and id(d) not in seen:
                seen.add(id(d))
                blockers.append(_blocker(d, d.name, reason, fix))
    return blockers


def _check_bind_dev(state):
    # Added to 2.6 in 2.6.18 (commit 30041d6c, GH #683); 2.7's dco.c has no such check.
    if state.bind_dev is None or state.v27 or state.version < (2, 6, 18):
        return []
    return [_blocker(state.bind_dev, "bind-dev",
                     "Note: bind-dev not supported with DCO, disabling data channel offload",
                     "Remove 'bind-dev' (OpenVPN 2.7 keeps DCO with it).")]


def _check_topology(state):
    if not state.mode or state.topology_value == "subnet":
        return []
    by = state.topology or state.server or state.mode
    if state.topology is not None:
        fix = "Set 'topology subnet' (every 2.x client follows the pushed topology)."
    else:
        fix = ("Add 'topology subnet': OpenVPN 2.6 defaults to net30 even in server mode "
               "(2.7 defaults to subnet there).")
    return [_blocker(by, by.name, "Note: NOT using '--topology subnet' disables data channel "
                     "offload.", fix)]


def _check_query_proxy(state):
    # 2.6 checks this since 2.6.10 (dco.c); all of 2.7 does.
    if state.query_proxy is None or state.version < (2, 6, 10):
        return []
    return [_blocker(state.query_proxy, "management-query-proxy",
                     "Note: --management-query-proxy disables data channel offload.",
                     "Remove 'management-query-proxy'.")]


def _persist_tuntap(state):
    """init.c do_persist_tuntap(): --mktun creates a plain tun/tap device and exits before any
    other check, so this is the only verdict openvpn gives."""
    if _dev_name(state) is None:
        state.error("You must define TUN/TAP device (--dev)", state.mktun, "verify")
    elif state.remotes or state.seen.keys() & {"ifconfig", "secret", "tls-server", "tls-client"}:
        state.error("options --mktun or --rmtun should only be used together with --dev",
                    state.mktun, "verify")
    state.dev_kind = _dev_type(state)
    blockers = _check_disable_dco(state)
    if blockers or state.dev_kind != "tun":
        return blockers or [_blocker(state.mktun, "mktun", "--mktun creates a %s device, which "
                                     "is never a DCO device" % state.dev_kind, _MKTUN_FIX)]
    return [_blocker(state.mktun, "mktun",
                     "Note: --mktun does not support DCO. Creating TUN interface.", _MKTUN_FIX)]


_MKTUN_FIX = ("Do not pre-create the device with --mktun; let openvpn create its DCO device when "
              "it starts.")


CHECKS = (
    # dco_check_option()
    _check_fallback, _check_compression, _check_data_ciphers,
    # dco_check_startup_option()
    _check_tls, _check_dev_type, _check_afunix_null, _check_entries, _check_bind_dev,
    _check_topology, _check_query_proxy,
)


def _verify(state):
    """The options_postprocess_verify() refusals this module knows; openvpn checks more."""
    if _dev_name(state) is None:
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
    if static and state.secret and _LEGACY_CIPHER.match(cipher) and not state.legacy_provider:
        state.error("the static key uses cipher %s (the default without --cipher), which OpenSSL 3 "
                    "has only in its legacy provider: openvpn exits with 'OpenSSL: "
                    "error:0308010C:digital envelope routines::unsupported'" % cipher,
                    state.secret, "runtime")
    ifconfig = state.first("ifconfig")
    if (state.dev_kind == "tun" and state.topology_value == "subnet" and ifconfig is not None
            and _netmask_bits(ifconfig.args[1]) is None):
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
    if "allow_stub_only" in state.comp_flags and _comp_non_stub(state):
        state.error("Compression is not allowed since allow-compression is set to 'stub-only'",
                    state.comp_alg[1], "verify")


def _notes(state, blocked):
    """What openvpn logs about options that stay but behave differently with DCO."""
    notes = []
    if not blocked:
        if "client-to-client" in state.seen and state.mode:
            notes.append(_note(state.first("client-to-client"),
                               "Note: --client-to-client has no effect when using data channel "
                               "offload: packets are always sent to the VPN interface and then "
                               "routed based on the system routing table"))
        if state.dev_node is not None:
            notes.append(_note(state.dev_node, "Note: ignoring --dev-node as it has no effect when "
                               "using data channel offload"))
        reneg = [state.first(name) for name in ("reneg-bytes", "reneg-pkts") if name in state.seen]
        if state.v27 and reneg:
            notes.append(_note(reneg[0], "Note: '--reneg-bytes' and '--reneg-pkts' are not "
                               "supported by data channel offload; automatic key renegotiation "
                               "mechanisms are sufficient for modern ciphers. Ignoring these "
                               "options."))
    if state.user is not None:
        notes.append(_note(state.user, "With --user, openvpn keeps DCO only if it can retain "
                           "CAP_NET_ADMIN (it needs CAP_SETPCAP: root, or a unit whose "
                           "CapabilityBoundingSet keeps both); otherwise it logs '--user "
                           "specified but lacking CAP_SETPCAP' and falls back to userspace."))
    if state.dev is not None and any(char.isdigit() for char in state.dev.args[0]):
        # Before 2.6.2 the device was of the oldest generation's kind too.
        generation = generation_for_openvpn(state.version) or next(iter(GENERATIONS.values()))
        kind = generation.link_kind
        notes.append(_note(state.dev, "'dev %s' is a fixed name: if an interface of that name "
                           "already exists and is not of kind %s, openvpn falls back to "
                           "userspace ('Interface %s exists and is ...')."
                           % (state.dev.args[0], kind, state.dev.args[0])))
    return notes


def _note(directive, msg):
    return {"option": directive.name, "file": directive.file, "line": directive.line, "msg": msg}


def _text(d):
    return " ".join([d.name] + d.args)


def _mode(state):
    if state.mode:
        return MODE_SERVER
    if state.pull:
        return MODE_CLIENT
    return MODE_P2P


def evaluate(parsed, version):
    """Verdict for a parsed config under OpenVPN ``version`` (``"2.6.14"``, ``"2.7"``, ...).

    Returns a dict:
    - ``dco_compatible``: True, False, or None when openvpn would refuse the config;
    - ``blockers``: dicts ``option, file, line, reason, fix`` in openvpn's order; ``reason`` is
      openvpn's own note. openvpn prints only the first; the others show once it is fixed;
    - ``errors``: dicts ``file, line, msg, stage`` for what openvpn refuses to start with;
    - ``notes``: dicts ``option, file, line, msg`` for options that behave differently or
      depend on the host;
    - ``mode`` (server, client or p2p) and ``openvpn_version``.
    """
    resolved = resolve_version(version)
    state = _State(resolved)
    for error in parsed.errors:
        state.errors.append(dict(error, stage="parse"))
    _apply(state, parsed.directives)
    if state.mktun is not None:
        blockers = _persist_tuntap(state)
    else:
        _mutate(state)
        blockers = _check_disable_dco(state)
        for check in CHECKS:
            blockers.extend(check(state))
        _verify(state)
        verify_options(state)  # the refusals openvpn makes that _verify() does not know
    if state.errors:
        compatible = None
    else:
        compatible = not blockers
    return {
        "dco_compatible": compatible,
        "blockers": blockers,
        "errors": state.errors,
        "openvpn_warnings": parsed.warnings + state.warnings,
        "notes": _notes(state, bool(blockers)),
        "mode": _mode(state),
        "openvpn_version": ".".join(str(part) for part in resolved),
    }
