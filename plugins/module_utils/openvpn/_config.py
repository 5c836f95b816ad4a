# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The OpenVPN config model: a parser that reads config files the way openvpn does.

Pure: no AnsibleModule. Every directive keeps the file, the line numbers and the exact text
it came from, so a later fixer can make minimal edits; options this module does not know are
kept, never dropped.

What openvpn does, and this parser does the same (OpenVPN/openvpn ``src/openvpn/options.c``
``read_config_file``/``parse_line``/``check_inline_file`` in 2.6, ``options_parse.c`` in 2.7;
both behave alike):

- A line is split into at most 16 parameters on C whitespace. ``#`` or ``;`` starts a comment
  only where a parameter could start (``a b#c`` keeps ``b#c``).
- ``"..."`` quotes with ``\\"``, ``\\\\`` and ``\\<space>`` escapes; ``'...'`` quotes without
  any escape; a backslash before any other character is an error. ``"ab"cd`` is two parameters.
- A leading ``--`` on the option name is dropped (``--dev tun`` is ``dev tun``).
- A line that is only ``<tag>`` starts an inline block; it ends at the first line that starts
  with ``</tag>`` after leading whitespace. ``<connection>`` blocks hold options themselves.
- ``config FILE`` includes another file at that point, opened relative to openvpn's working
  directory, which ``cd DIR`` changes while the config is read (openvpn chdir()s at once).
  openvpn gives up after 10 nested levels, which is what a file including itself ends in.
- Lines of 256 characters or more (the newline included) and parameters longer than 256
  characters are refused.

What leaves this module (``Directive.as_dict()``, ``ParsedConfig.errors``) never quotes text
openvpn would not read as a known option: the path may name a file that is no config at all
(a link to ``/etc/shadow``), and key material must not reach logs. So an option openvpn does
not know is returned without its name, parameters or text; errors name a line and, only when
openvpn knows it, the option; the content of every inline block but the public ones
(certificates, CRLs, DH parameters, fingerprints) is replaced by ``REDACTED``, and so are the
lines after a malformed opening tag of a secret block (``<key >``, ``< key>``), which openvpn
reads as options. Files are read only when they are regular files, at most ``MAX_FILE_BYTES``
each and ``MAX_TOTAL_BYTES`` with their includes; bytes that are not UTF-8 are kept
(surrogateescape) so the model round-trips them, and returned as ``\\xNN`` escapes.
"""

from __future__ import annotations

import bisect
import os
import re
from types import MappingProxyType

from ansible_collections.ovpnfleet.dco.plugins.module_utils._errors import ConfigParseError
from ansible_collections.ovpnfleet.dco.plugins.module_utils._files import FileReadError, read_regular_file

MAX_PARMS = 16            # options.h: parameters per line, the option name included
OPTION_LINE_SIZE = 256    # options.h: a line this long (newline included) is refused
OPTION_PARM_SIZE = 256    # options.h: a parameter longer than this is refused
MAX_INCLUDE_LEVELS = 10   # read_config_file(): max_recursive_levels

# Our limits, not openvpn's: the largest real configs (inline CRLs of big CAs) stay well
# below them, and anything larger is not worth holding in a module's memory.
MAX_FILE_BYTES = 1024 * 1024
MAX_TOTAL_BYTES = 4 * 1024 * 1024

# C isspace() in the "C" locale, plus NUL, which parse_line() also treats as a separator.
_C_SPACE = frozenset(" \t\n\v\f\r\0")
_C_SPACE_TEXT = "".join(sorted(_C_SPACE))

# Inline blocks whose content is a secret. Directive.as_dict() returns the content of the
# PUBLIC_INLINE blocks only; these names also mark a malformed opening tag as a secret block.
SECRET_INLINE = frozenset([
    "key", "secret", "tls-auth", "tls-crypt", "tls-crypt-v2", "pkcs12", "auth-user-pass",
    "http-proxy-user-pass", "auth-gen-token-secret", "peer-fingerprint-secret",
])
PUBLIC_INLINE = frozenset(["ca", "cert", "extra-certs", "dh", "crl-verify", "verify-hash",
                           "peer-fingerprint"])
# Options whose parameters are secrets even outside a block.
SECRET_ARGS = frozenset(["auth-token"])
REDACTED = "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"

# A line that looks like an opening or closing tag, however spaced, quoted or dashed.
_TAG_OPEN = re.compile(r"""^[\s"'-]*<[\s"']*([A-Za-z0-9][A-Za-z0-9_-]*)""")
_TAG_CLOSE = re.compile(r"""^[\s"'-]*<[\s"']*/[\s"']*([A-Za-z0-9][A-Za-z0-9_-]*)""")
# Signs that a public block holds more than certificates: a key pasted into <cert>, or a
# block that never closed and swallowed a key block.
_NOT_PUBLIC = re.compile(r"PRIVATE KEY|Static key|^[\s\"'-]*<", re.MULTILINE)

# Options a Linux openvpn accepts in a config file and how many parameters each takes after
# its name: "N", "LO-HI", "LO+" (no upper bound) or a list of counts. Read from add_option() in
# OpenVPN/openvpn src/openvpn/options.c at v2.6.14 and v2.7.6 with the #ifdefs of a Linux
# OpenSSL build (tests/oracle/extract_option_table.py); unchanged across 2.6.x but for
# force-tls-key-material-export (2.6.6+) and across 2.7.0-2.7.6. Windows-only options such as
# block-outside-dns are absent on purpose: Linux openvpn refuses them.
_ARITY_BOTH = """
allow-compression:1 allow-pull-fqdn:0 allow-recursive-routing:0 askpass:0-1 auth:1
auth-gen-token:0+ auth-gen-token-secret:1 auth-nocache:0 auth-retry:1 auth-token:1
auth-token-user:1 auth-user-pass:0-1 auth-user-pass-optional:0 auth-user-pass-verify:1+
bcast-buffers:1 bind:0-1 bind-dev:1+ block-ipv6:0 ca:1 capath:1 ccd-exclusive:0 cd:1 cert:1
chroot:1 cipher:1 client:0 client-cert-not-required:0 client-config-dir:1 client-connect:1+
client-crresponse:1+ client-disconnect:1+ client-nat:4 client-to-client:0 comp-lzo:0-1
comp-noadapt:0 compat-mode:1-2 compat-names:0+ compress:0-1 config:1 connect-freq:2
connect-freq-initial:2 connect-retry:1-2 connect-retry-max:1 connect-timeout:1 connection:1-2
crl-verify:1-2 cryptoapicert:1 daemon:0-1 data-ciphers:1 data-ciphers-fallback:1 dev:1
dev-node:1 dev-type:1 dh:1 disable:0 disable-dco:0+ disable-occ:0 dns:1+ down:1+ down-pre:0
duplicate-cn:0 ecdh-curve:1 echo:0+ engine:0-1 errors-to-stderr:0 explicit-exit-notify:0-1
extra-certs:1 fast-io:0 float:0 force-tls-key-material-export:0+ fragment:1-2 genkey:0-3
group:1 hand-window:1 hash-size:2 help:0+ http-proxy:1-4 http-proxy-option:1-3
http-proxy-override:2-3 http-proxy-retry:0+ http-proxy-user-pass:1+ ifconfig:2 ifconfig-ipv6:2
ifconfig-ipv6-pool:1 ifconfig-ipv6-push:1-2 ifconfig-noexec:0 ifconfig-nowarn:0
ifconfig-pool:2-3 ifconfig-pool-persist:1-2 ifconfig-push:2-3 ifconfig-push-constraint:2
ignore-unknown-option:1+ inactive:1-2 ip-remote-hint:0-1 ipchange:1+ iroute:1-2 iroute-ipv6:1
keepalive:2 key:1 key-derivation:1+ key-direction:1 keying-material-exporter:2+
learn-address:1+ link-mtu:1 lladdr:1 log:1 log-append:1 lport:1 machine-readable-output:0
management:2-3 management-client:0 management-client-auth:0 management-client-group:1
management-client-user:1 management-external-cert:1 management-external-key:0+
management-forget-disconnect:0 management-hold:0 management-log-cache:1
management-query-passwords:0 management-query-proxy:0 management-query-remote:0
management-signal:0 management-up-down:0 mark:1 max-clients:1 max-packet-size:1 max-routes:0-1
max-routes-per-client:1 mktun:0 mlock:0 mode:1 msg-channel:1+ mssfix:0-2 mtu-disc:1
mtu-dynamic:0+ mtu-test:0 mute:1 mute-replay-warnings:0 ncp-ciphers:1 nice:1
no-name-remapping:0 no-replay:0 nobind:0 ns-cert-type:1 opt-verify:0 parameter:0+ passtos:0
peer-fingerprint:1 peer-id:1 persist-key:0 persist-local-ip:0 persist-remote-ip:0
persist-tun:0 ping:1 ping-exit:1 ping-restart:1 ping-timer-rem:0 pkcs11-cert-private:0+
pkcs11-id:1 pkcs11-id-management:0 pkcs11-pin-cache:1 pkcs11-private-mode:1+
pkcs11-protected-authentication:0+ pkcs11-providers:1+ pkcs12:1 plugin:1+ port:1
port-share:2-3 preresolve:0-1 prng:1-2 proto:1 proto-force:1 protocol-flags:1+ providers:1+
pull:0 pull-filter:2 push:1 push-continuation:1 push-peer-info:0 push-remove:1 push-reset:0
rcvbuf:1 redirect-gateway:0+ redirect-private:0+ remap-usr1:1 remote:1-3 remote-cert-eku:1
remote-cert-ku:0+ remote-cert-tls:1 remote-random:0 remote-random-hostname:0 reneg-bytes:1
reneg-pkts:1 reneg-sec:1-2 replay-persist:1 replay-window:0-2 resolv-retry:1 rmtun:0 route:1-4
route-delay:0-2 route-gateway:1 route-ipv6:1-3 route-ipv6-gateway:1 route-method:1
route-metric:1 route-noexec:0 route-nopull:0 route-pre-down:1+ route-up:1+ rport:1
script-security:1 secret:1-2 server:2-3 server-bridge:0,1,4 server-ipv6:1
server-poll-timeout:1 session-timeout:1 setenv:1+ setenv-safe:1-2 shaper:1 show-ciphers:0
show-curves:0 show-digests:0 show-engines:0 show-groups:0 show-pkcs11-ids:0-2 show-tls:0
single-session:0 sndbuf:1 socket-flags:0+ socks-proxy:1-3 socks-proxy-retry:0+
stale-routes-check:1-2 status:1-2 status-version:1 suppress-timestamps:0 syslog:0-1
tcp-nodelay:0 tcp-queue-limit:1 test-crypto:0 tls-auth:1-2 tls-cert-profile:1 tls-cipher:1
tls-ciphersuites:1 tls-client:0 tls-crypt:1-2 tls-crypt-v2:1-2 tls-crypt-v2-verify:1
tls-exit:0 tls-export-cert:1 tls-groups:1 tls-server:0 tls-timeout:1 tls-verify:1+
tls-version-max:1 tls-version-min:1-2 tmp-dir:1 topology:1 tran-window:1 tun-ipv6:0
tun-mtu:1-2 tun-mtu-extra:1 txqueuelen:1 udp-mtu:1 up:1+ up-delay:0 up-restart:0
use-prediction-resistance:0 user:1 username-as-common-name:0 verb:1 verify-client-cert:0-1
verify-hash:1 verify-x509-name:1-2 version:0 vlan-accept:1 vlan-pvid:1 vlan-tagging:0
writepid:1 x509-track:1 x509-username-field:1+
"""
_ARITY_ONLY = {
    (2, 6): """
dhcp-option:1-2 http-proxy-timeout:1 local:1 multihome:0 static-challenge:2
tun-mtu-max:1-2
""",
    (2, 7): """
allow-deprecated-insecure-static-crypto:0+ dhcp-option:1+ dns-updown:1+ http-proxy-timeout:0+
local:1-3 multihome:0-1 override-username:1 route-table:1 static-challenge:2-3
tls-crypt-v2-max-age:1+ tun-mtu-max:1
""",
}


def _parse_arity(text):
    table = {}
    for item in text.split():
        name, spec = item.rsplit(":", 1)
        if spec.endswith("+"):
            counts = range(int(spec[:-1]), MAX_PARMS)
        elif "-" in spec:
            low, high = spec.split("-")
            counts = range(int(low), int(high) + 1)
        else:
            counts = [int(count) for count in spec.split(",")]
        table[name] = frozenset(counts)
    return table


_ARITY_CACHE = {}


def option_arity(series):
    """``{option: frozenset(parameter counts)}`` for an OpenVPN series such as ``(2, 6)``.

    Read-only and built once per series: the linter asks for every directive.
    """
    key = tuple(series[:2])
    table = _ARITY_CACHE.get(key)
    if table is None:
        table = _parse_arity(_ARITY_BOTH)
        table.update(_parse_arity(_ARITY_ONLY.get(key, "")))
        table = _ARITY_CACHE[key] = MappingProxyType(table)
    return table


# Every option name some supported openvpn knows: only these names are ever quoted back.
KNOWN_OPTIONS = frozenset(option_arity((2, 6))) | frozenset(option_arity((2, 7)))


def is_known_option(name):
    return name in KNOWN_OPTIONS


def safe_text(value):
    """``value`` as text every JSON encoder accepts: bytes that were not UTF-8 (kept as
    surrogates by surrogateescape) become ``\\xNN`` escapes."""
    if not isinstance(value, str) or value.isascii():
        return value
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        pass
    try:
        data = value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:   # a surrogate no decoder made: escape it as it is
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    return data.decode("utf-8", "backslashreplace")


def safe_data(value):
    """``safe_text`` over a result: dicts, lists and tuples are walked."""
    if isinstance(value, dict):
        return {safe_text(key): safe_data(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [safe_data(item) for item in value]
    return safe_text(value)


def describe_error(error):
    """One error dict as ``FILE:LINE: MSG``, or just ``MSG`` when it has no place."""
    if error.get("file") is None:
        return safe_text(error["msg"])
    if error.get("line") is None:
        return safe_text("%s: %s" % (error["file"], error["msg"]))
    return safe_text("%s:%s: %s" % (error["file"], error["line"], error["msg"]))


class Directive:
    """One option as openvpn sees it, with where it came from.

    ``name`` is the option without a leading ``--``; ``args`` its parameters (an inline block
    has its content as the single parameter). ``line``/``end_line`` are 1-based lines in
    ``file``; ``raw`` is the exact text of those lines. ``children`` holds the options inside
    a ``<connection>`` block, ``included`` the directives of a ``config`` include.
    ``malformed`` marks the lines after a malformed opening tag of a secret block (see
    ``_Reader._malformed``): openvpn reads them as options, this model keeps them as one
    secret block so nothing quotes them. ``declared`` is set for an unknown option the config
    names in ``ignore-unknown-option``.
    """

    def __init__(self, name, args, file, line, raw, end_line=None, inline=False, level=1,
                 malformed=False):
        self.name = name
        self.args = list(args)
        self.file = file
        self.line = line
        self.end_line = end_line if end_line is not None else line
        self.raw = raw
        self.inline = inline
        self.level = level
        self.malformed = malformed
        self.declared = False
        self.children = []
        self.included = []

    def __repr__(self):
        return "Directive(%r, %r, %s:%d)" % (self.name, self.args, self.file, self.line)

    @property
    def secret(self):
        """Content that must not leave: every inline block but the public ones and
        <connection> (whose options are its children, each judged on its own)."""
        if self.malformed:
            return True
        if not self.inline or self.name == "connection":
            return False
        return self.name not in PUBLIC_INLINE or bool(_NOT_PUBLIC.search("".join(self.args)))

    @property
    def known(self):
        return self.name in KNOWN_OPTIONS or self.declared

    def as_dict(self):
        """A plain dict for module results.

        Unknown options come back as ``name: None`` without parameters or text; secret
        blocks and parameters as ``REDACTED``; <connection> without its text, which may
        hold key blocks (its options are in ``children``).
        """
        result = {
            "name": self.name,
            "args": list(self.args),
            "file": self.file,
            "line": self.line,
            "end_line": self.end_line,
            "raw": self.raw,
            "inline": self.inline,
            "level": self.level,
            "children": [child.as_dict() for child in self.children],
        }
        if not self.known:
            result.update(name=None, args=[], raw=None)
        elif self.secret or self.name == "connection" and self.inline:
            result.update(args=[REDACTED], raw="<%s>\n%s\n</%s>\n" % (self.name, REDACTED, self.name))
        elif self.name in SECRET_ARGS:
            result.update(args=[REDACTED] * len(self.args), raw=None)
        return safe_data(result)


class ParsedConfig:
    """A whole config: directives in the order openvpn applies them, includes expanded.

    ``directives`` holds every directive, those of included files right after the ``config``
    line that included them (which is kept too). ``errors`` are the problems openvpn refuses
    to start with (dicts ``file, line, msg``); ``warnings`` those it only logs.
    """

    def __init__(self, path):
        self.path = path
        self.directives = []
        self.errors = []
        self.warnings = []
        self.files = []

    def find(self, name):
        return [directive for directive in self.directives if directive.name == name]

    def names(self):
        return [directive.name for directive in self.directives]


_PLAIN_SPLIT = re.compile("[%s]+" % re.escape(_C_SPACE_TEXT))


def tokenize(line):
    """Split one line into parameters as openvpn's ``parse_line()`` does.

    Returns ``(params, error)``: ``error`` is None or openvpn's reason for refusing the line,
    and ``params`` is then empty. A comment or blank line gives ``([], None)``.
    """
    if '"' not in line and "'" not in line and "\\" not in line:
        return _tokenize_plain(line)
    return _tokenize_quoted(line)


def _tokenize_plain(line):
    """The common line without quotes or backslashes: words up to the first one that starts
    a comment, at most MAX_PARMS; the same result as the state machine, many times faster."""
    params = []
    for word in _PLAIN_SPLIT.split(line):
        if not word:
            continue
        if word[0] in ";#":
            break
        if len(word) > OPTION_PARM_SIZE:
            return [], "too long"
        params.append(word)
        if len(params) >= MAX_PARMS:
            break
    return params, None


def _tokenize_quoted(line):
    params = []
    state = "initial"
    backslash = False
    parm = []
    text = line + "\0"
    for char in text:
        out = None
        if not backslash and char == "\\" and state != "squoted":
            backslash = True
            continue
        if state == "initial":
            if char not in _C_SPACE:
                if char in ";#":
                    break
                if not backslash and char == '"':
                    state = "quoted"
                elif not backslash and char == "'":
                    state = "squoted"
                else:
                    out = char
                    state = "unquoted"
        elif state == "unquoted":
            if not backslash and char in _C_SPACE:
                state = "done"
            else:
                out = char
        elif state == "quoted":
            if not backslash and char == '"':
                state = "done"
            else:
                out = char
        elif state == "squoted":
            if char == "'":
                state = "done"
            else:
                out = char
        if state == "done":
            params.append("".join(parm))
            parm = []
            state = "initial"
        if backslash and out is not None and not (out in '\\"' or out in _C_SPACE):
            return [], "Bad backslash ('\\') usage"
        backslash = False
        if out is not None and out != "\0":  # C stores nothing for NUL: `if (out)`
            if len(parm) >= OPTION_PARM_SIZE:
                return [], "too long"
            parm.append(out)
        if len(params) >= MAX_PARMS:
            break
    if state == "quoted":
        return [], 'No closing quotation (")'
    if state == "squoted":
        return [], "No closing single quotation (')"
    if state != "initial":
        return [], "Residual parse state (2)"
    return params, None


def _split_lines(text):
    """Lines with their line ends, split on ``\\n`` only, as fgets() reads them."""
    lines = text.split("\n")
    result = [line + "\n" for line in lines[:-1]]
    if lines[-1]:
        result.append(lines[-1])
    return result


def _byte_len(text):
    try:
        return len(text.encode("utf-8", "surrogateescape"))
    except UnicodeEncodeError:
        return len(text.encode("utf-8", "surrogatepass"))


def _read_file(path):
    """The text of a regular file of at most MAX_FILE_BYTES (``_files.read_regular_file``: no
    FIFO, device or endless file is ever read), worded as an OpenVPN config."""
    try:
        data = read_regular_file(path, MAX_FILE_BYTES)
    except FileReadError as exc:
        if exc.kind == "too_large":
            raise _too_large(path)
        hint = "; give the path of the config file itself" if exc.kind == "not_regular" else ""
        raise ConfigParseError(safe_text("read OpenVPN config %s: %s%s" % (path, exc.cause, hint)), path=safe_text(path))
    return data.decode("utf-8", errors="surrogateescape")


def _reason(exc):
    return getattr(exc, "strerror", None) or str(exc)


def _too_large(path):
    return ConfigParseError(safe_text(
        "read OpenVPN config %s: it is larger than %d bytes (1 MiB), the most this module reads "
        "of one file; is it a config? (openvpn configs are a few KiB, with inline CRLs a few "
        "hundred)" % (path, MAX_FILE_BYTES)), path=safe_text(path))


class _Reader:
    """State of one parse: openvpn's working directory and the chain of open includes.

    ``cwd`` None means the directory is not known (config text given without one): a
    relative include is then refused instead of guessed. ``budget`` is a one-element list
    of the bytes still allowed, shared with the readers of <connection> blocks.
    """

    def __init__(self, config, cwd, read, budget=None, stack=None, follow=True):
        self.config = config
        self.cwd = cwd
        self.read = read
        self.stack = stack if stack is not None else []
        self.budget = budget if budget is not None else [MAX_TOTAL_BYTES]
        self.follow = follow

    def read_file(self, path, level, included_at=None):
        where = "%s:%d" % included_at if included_at else None
        if self.cwd is None and not os.path.isabs(path):
            raise ConfigParseError(safe_text(
                "read OpenVPN config %s: the include at %s is a relative path and no directory "
                "to resolve it is known; set cwd to the directory openvpn runs in (its --cd) or "
                "use an absolute path" % (path, where)), path=safe_text(included_at[0]), line=included_at[1])
        try:
            full = os.path.normpath(os.path.join(self.cwd or os.sep, path))
            real = os.path.realpath(full)
        except (OSError, ValueError) as exc:
            raise ConfigParseError(safe_text("read OpenVPN config %s: %s" % (path, _reason(exc))),
                                   path=safe_text(included_at[0] if included_at else path),
                                   line=included_at[1] if included_at else None)
        if real in self.stack:
            chain = " -> ".join(self.stack[self.stack.index(real):] + [real])
            raise ConfigParseError(safe_text(
                "read OpenVPN config %s: include loop %s (openvpn stops with 'Maximum recursive "
                "include levels exceeded'); remove the config line at %s" % (full, chain, where or full)),
                path=safe_text(included_at[0] if included_at else full),
                line=included_at[1] if included_at else None)
        if level > MAX_INCLUDE_LEVELS:
            raise ConfigParseError(safe_text(
                "read OpenVPN config %s: more than %d nested config includes, which openvpn "
                "refuses ('Maximum recursive include levels exceeded')" % (full, MAX_INCLUDE_LEVELS)),
                path=safe_text(included_at[0] if included_at else full),
                line=included_at[1] if included_at else None)
        try:
            text = self.read(full)
            self.charge(text, full)
        except (OSError, ValueError) as exc:
            raise self._refused("read OpenVPN config %s: %s" % (full, _reason(exc)), full, included_at) from None
        except ConfigParseError as error:
            raise self._refused(str(error), full, included_at) from None
        self.config.files.append(full)
        self.stack.append(real)
        try:
            self.parse_text(text, full, level)
        finally:
            self.stack.pop()

    @staticmethod
    def _refused(msg, full, included_at):
        """The error of a file that cannot be read, placed at the config line that included it."""
        if included_at is None:
            return ConfigParseError(safe_text(msg), path=safe_text(full))
        return ConfigParseError(safe_text("%s (the config line at %s:%d)" % ((msg,) + tuple(included_at))),
                                path=safe_text(included_at[0]), line=included_at[1])

    def charge(self, text, name):
        size = _byte_len(text)
        if size > MAX_FILE_BYTES:
            raise _too_large(name)
        self.budget[0] -= size
        if self.budget[0] < 0:
            raise ConfigParseError(safe_text(
                "read OpenVPN config %s: the config and its includes are larger than %d bytes "
                "(4 MiB) in all, the most this module reads; look for a config line that "
                "includes a file again and again" % (name, MAX_TOTAL_BYTES)), path=safe_text(name))

    def parse_text(self, text, name, level):
        lines = _split_lines(text)
        if lines and lines[0].startswith("\ufeff"):
            lines[0] = lines[0][1:]
        closes = []   # built on first need: tag -> indexes of lines that look like its end tag
        index = 0
        while index < len(lines):
            start = index
            line = lines[index]
            index += 1
            too_long = _byte_len(line) >= OPTION_LINE_SIZE
            params, error = ([], None) if too_long else tokenize(line)
            if params and len(params[0]) >= 3 and params[0].startswith("--"):
                params[0] = params[0][2:]
            tag = params[0] if len(params) == 1 else ""
            if not (len(tag) >= 2 and tag[0] == "<" and tag[-1] == ">"):
                tag = ""
                match = _TAG_OPEN.match(line)
                if match and match.group(1).lower() in SECRET_INLINE:
                    index = self._malformed(lines, start, match.group(1).lower(), name, level, closes)
                    continue
            where = "%s:%d" % (name, start + 1)
            if too_long:
                self._error(name, start + 1, "In %s: Maximum option line length (%d) exceeded"
                            % (where, OPTION_LINE_SIZE))
                continue
            if error == "too long":
                self._error(name, start + 1, "Parameter at %s is too long (%d chars max)"
                            % (where, OPTION_PARM_SIZE))
                continue
            if error:
                self._error(name, start + 1, "%s in %s" % (error, where))
                continue
            if not params:
                continue
            if tag:
                index = self._inline(lines, start, tag[1:-1], name, level)
                continue
            directive = Directive(params[0], params[1:], name, start + 1, line, level=level)
            self.config.directives.append(directive)
            self._follow(directive, level)

    def _inline(self, lines, start, tag, name, level):
        close = "</%s>" % tag
        index = start + 1
        while index < len(lines) and not lines[index].lstrip(_C_SPACE_TEXT).startswith(close):
            index += 1
        if index >= len(lines):
            if tag in KNOWN_OPTIONS:
                self._error(name, start + 1, "Endtag %s missing" % close)
            else:
                self._error(name, start + 1, "Endtag missing for the inline block that starts at "
                            "%s:%d (openvpn reads to the end of the file)" % (name, start + 1))
            return len(lines)
        content = "".join(lines[start + 1:index])
        raw = "".join(lines[start:index + 1])
        directive = Directive(tag, [content], name, start + 1, raw, end_line=index + 1,
                              inline=True, level=level)
        self.config.directives.append(directive)
        if tag == "connection":
            directive.children = self._connection(content, name, start + 2, level)
        return index + 1

    def _malformed(self, lines, start, tag, name, level, closes):
        """A line that tries to open a secret block but is no opening tag to openvpn
        (``<key >``, ``< key>``, ``<key``): openvpn refuses it as an unknown option and reads
        the key lines after it as options. They are kept as one secret block up to a line
        that looks like its end tag (or to the end of the file), so no result quotes them."""
        if not closes:
            table = {}
            for number, text in enumerate(lines):
                match = _TAG_CLOSE.match(text)
                if match:
                    table.setdefault(match.group(1).lower(), []).append(number)
            closes.append(table)
        ends = closes[0].get(tag, [])
        found = bisect.bisect_right(ends, start)
        end = ends[found] if found < len(ends) else len(lines) - 1
        directive = Directive(tag, ["".join(lines[start + 1:end])], name, start + 1,
                              "".join(lines[start:end + 1]), end_line=end + 1, inline=True,
                              level=level, malformed=True)
        self.config.directives.append(directive)
        self._error(name, start + 1, "In %s:%d: malformed <%s> tag: openvpn does not read it as the "
                    "start of an inline block and refuses it; put <%s> and </%s> alone on their "
                    "lines, without spaces (lines %d-%d are not shown: they may hold key material)"
                    % (name, start + 1, tag, tag, tag, start + 1, end + 1))
        return end + 1

    def _connection(self, content, name, first_line, level):
        """Options of a <connection> block, numbered by their lines in the file. openvpn
        refuses config and cd there, so they are not followed."""
        sub = ParsedConfig(name)
        reader = _Reader(sub, self.cwd, self.read, self.budget, self.stack, follow=False)
        reader.parse_text(content, name, level)
        for directive in sub.directives:
            directive.line += first_line - 1
            directive.end_line += first_line - 1
        for error in sub.errors:
            error["line"] += first_line - 1
            error["msg"] = error["msg"].replace(
                "%s:%d" % (name, error["line"] - first_line + 1), "%s:%d" % (name, error["line"]))
            self.config.errors.append(error)
        return sub.directives

    def _follow(self, directive, level):
        """What openvpn does at once while reading: change directory, read an include."""
        if not self.follow:
            return
        if directive.name == "cd" and len(directive.args) == 1:
            target = directive.args[0]
            if os.path.isabs(target):
                self.cwd = os.path.normpath(target)
            elif self.cwd is not None:
                self.cwd = os.path.normpath(os.path.join(self.cwd, target))
        elif directive.name == "config" and len(directive.args) == 1:
            if directive.args[0] == "stdin":
                self.config.warnings.append({
                    "file": directive.file, "line": directive.line,
                    "msg": "'config stdin' reads options from standard input; they are not checked"})
                return
            before = len(self.config.directives)
            self.read_file(directive.args[0], level + 1, (directive.file, directive.line))
            directive.included = self.config.directives[before:]

    def _error(self, name, line, msg):
        self.config.errors.append({"file": safe_text(name), "line": line, "msg": safe_text(msg)})


def _walk(directives):
    for directive in directives:
        yield directive
        yield from _walk(directive.children)


def _mark_declared(config):
    """Unknown options the config itself names in ignore-unknown-option may be shown."""
    declared = set()
    for directive in _walk(config.directives):
        if directive.name == "ignore-unknown-option" and not directive.inline:
            declared.update(arg[2:] if arg.startswith("--") else arg for arg in directive.args)
    if declared:
        for directive in _walk(config.directives):
            directive.declared = directive.name in declared and not directive.inline


def parse_file(path, cwd=None, read=_read_file):
    """Parse the config at ``path``; includes resolve against ``cwd``.

    ``cwd`` is openvpn's working directory (its ``--cd``); it defaults to the directory of
    ``path``, which is what the systemd units of Debian and upstream do. Raises
    ``ConfigParseError`` when a file cannot be read, is not a regular file, is too large, or
    the includes loop.
    """
    try:
        path = os.path.abspath(path)
    except (OSError, ValueError) as exc:
        raise ConfigParseError(safe_text("read OpenVPN config %s: %s" % (path, _reason(exc))), path=safe_text(path))
    config = ParsedConfig(path)
    reader = _Reader(config, cwd or os.path.dirname(path), read)
    reader.read_file(path, 1)
    _mark_declared(config)
    return config


def parse_text(text, name="<content>", cwd=None, read=_read_file):
    """Parse config text that is not in a file; includes resolve against ``cwd``.

    Without ``cwd`` a relative ``config`` include (or one after a relative ``cd``) raises
    ``ConfigParseError``: the directory openvpn would run in is not known.
    """
    config = ParsedConfig(name)
    reader = _Reader(config, cwd, read)
    reader.charge(text, name)
    reader.parse_text(text, name, 1)
    _mark_declared(config)
    return config
