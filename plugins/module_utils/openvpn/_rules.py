# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The DCO rules: each one reason openvpn turns DCO off, with a stable id, its check, OpenVPN's
note for it and its fix, side by side. Pure.

A rule's ``check(state)`` reads the option state (``_dco_state``, rewritten by
``_dco_postprocess.mutate``) and returns blockers, dicts ``option, file, line, reason, fix,
rule``; ``reason`` is openvpn's own note, byte for byte. A rule's ``edit(...)`` is the smallest
change of the blocker's line that removes it, with its ``impact`` on the peers (``none``,
``compatible``, ``breaking``); a rule whose ``impact`` is None has no safe edit and says what
the operator does instead (``advice``). ``_config_fix`` picks the rule by the blocker's ``rule``
id, never by its text.

``ORDER`` is ``dco.c``'s order: ``dco_check_option()`` (fallback cipher, compression, data
ciphers), then ``dco_check_startup_option()`` (TLS, device type, per connection entry
``dco_check_option_ce()``: fragment and proxies, bind-dev, topology, management-query-proxy).
openvpn prints the first note only; the others show once it is fixed.
"""

from __future__ import annotations

from ansible_collections.ovpnfleet.dco.plugins.module_utils._errors import DcoError
from ansible_collections.ovpnfleet.dco.plugins.module_utils.openvpn._dco_state import DCO_CIPHERS, DEFAULT_DATA_CIPHERS, device_kind, device_name, is_dev_type
from ansible_collections.ovpnfleet.dco.plugins.module_utils.openvpn._edits import Edit, comment_out, insert_after, replace

_PROXY_ADVICE = "DCO cannot reach the server through a proxy; connect directly, or keep this profile in userspace."
_TAP_ADVICE = ("DCO carries IP packets only; a tap (bridged) tunnel stays in userspace. Move to a routed tun setup "
               "by hand.")
_NO_FALLBACK = "removed, a non-AEAD fallback keeps DCO off"
_NO_FALLBACK_WHY = "peers that cannot negotiate ciphers (OpenVPN 2.3 and older, or 2.4 with ncp-disable) cannot connect"


def _text(d):
    return " ".join([d.name] + d.args)


class Rule:
    """One reason DCO goes off. Subclasses set ``id``, ``message`` (openvpn's note, or a format
    of it), ``impact`` and ``advice``, and implement ``check`` and, when they have an edit, ``edit``."""

    id = ""
    message = ""
    impact = None       # of the edit: "none", "compatible", "breaking"; None: never edited
    advice = None       # what the operator does, for a rule without an edit

    def check(self, state):
        return []

    def blocker(self, directive, fix, reason=None, option=None):
        return {
            "option": option or directive.name,
            "file": directive.file if directive is not None else None,
            "line": directive.line if directive is not None else None,
            "reason": self.message if reason is None else reason,
            "fix": fix,
            "rule": self.id,
        }

    def edit(self, lines, index, directive, context):
        """(new lines, Edit) for the blocker on ``lines[index]`` (``directive``), or (None, why
        not). ``context``: ``mode`` and ``parsed`` of the text, ``fix`` of the blocker."""
        return None, self.advice

    def _edited(self, lines, new, index, directive, why, impact=None):
        return new, Edit(directive.name, index + 1, lines[index], new[index], impact or self.impact, why, self.id)

    def _comment(self, lines, index, directive, mark, why, impact=None):
        return self._edited(lines, comment_out(lines, index, mark), index, directive, why, impact)


class DisableDco(Rule):
    id = "dco-disabled"
    message = "--disable-dco is set, so openvpn does not try DCO at all (it logs no note for this)"
    impact = "none"

    def check(self, state):
        if state.disable_dco is None:
            return []
        return [self.blocker(state.disable_dco, "Remove the disable-dco line.")]

    def edit(self, lines, index, directive, context):
        return self._comment(lines, index, directive, "removed, it keeps DCO off", self.message)


class CipherFallback(Rule):
    """A data-ciphers fallback (``data-ciphers-fallback``, a p2p ``cipher``, ``compat-mode``
    below 2.4.0) that DCO cannot run."""

    id = "dco-cipher-fallback"
    message = "Note: %s with cipher '%s' disables data channel offload."
    impact = "breaking"

    def check(self, state):
        if state.fallback is None or state.ciphername[0] in DCO_CIPHERS:
            return []
        cipher, by = state.ciphername
        spelled = "--data-cipher-fallback" if state.version < (2, 6, 10) else "--data-ciphers-fallback"
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
        return [self.blocker(by, fix, self.message % (spelled, cipher))]

    def edit(self, lines, index, directive, context):
        return self._comment(lines, index, directive, _NO_FALLBACK, _NO_FALLBACK_WHY)


class Compression(Rule):
    """Any compression option, ``comp-lzo no`` and a bare ``compress`` included, or
    ``allow-compression yes/asym``."""

    id = "dco-compression"
    message = "Note: '--allow-compression' is not set to 'no', disabling data channel offload."
    impact = "compatible"

    def check(self, state):
        culprits = []
        if state.comp_alg is not None:
            culprits.append(state.comp_alg[1])
        if state.comp_flags & {"allow_asym", "allow_compress"}:
            culprits.extend(state.comp_flag_by)
        reason = self.message
        if state.mode and "migrate" not in state.comp_flags:
            reason += " Consider using the '--compress migrate' option."
        return [self.blocker(d, self._fix(state, d), reason) for d in culprits]

    @staticmethod
    def _fix(state, d):
        if d.name == "allow-compression":
            return "Set 'allow-compression no' (the default since 2.6) or remove the line."
        if state.mode:
            return ("Replace '%s' by 'compress migrate': it keeps serving clients that still "
                    "announce compression, in userspace, and lets the others use DCO." % _text(d))
        return ("Remove '%s': any compression option, 'comp-lzo no' and a bare 'compress' "
                "included, selects compression framing. Remove the matching option on the "
                "server side too, or give the server 'compress migrate'." % _text(d))

    def edit(self, lines, index, directive, context):
        if directive.name == "allow-compression":
            return self._comment(lines, index, directive, "removed, 'allow-compression no' is the default",
                                 "compressed packets from peers are no longer accepted; 'compress migrate' tells clients to stop")
        if context["mode"] == "server":
            has_migrate = any(d.name == "compress" and d.args == ["migrate"] for d in context["parsed"].directives)
            new = (comment_out(lines, index, "replaced by 'compress migrate'") if has_migrate
                   else replace(lines, index, "compress migrate"))
            return self._edited(lines, new, index, directive,
                                "clients that still compress keep connecting (in userspace framing), the others use DCO")
        return self._comment(lines, index, directive, "removed for DCO, the server must use 'compress migrate' or no compression",
                             "the server must have 'compress migrate' (ovpnfleet.dco sets it on servers first) or no compression")


class DataCiphers(Rule):
    """A cipher in ``data-ciphers`` that DCO does not implement."""

    id = "dco-data-ciphers"
    message = "Note: cipher '%s' in --data-ciphers is not supported by ovpn-dco, disabling data channel offload."
    impact = "compatible"

    def check(self, state):
        bad = [name for name in state.data_cipher_list if name not in DCO_CIPHERS]
        if not bad:
            return []
        fix = ("Remove %s from data-ciphers; DCO supports %s."
               % (", ".join("'%s'" % name for name in bad), ", ".join(DCO_CIPHERS)))
        by = state.cipher_list_by
        return [self.blocker(by, fix, self.message % bad[0], option=None if by is not None else "data-ciphers")]

    def edit(self, lines, index, directive, context):
        if directive.name in ("data-ciphers", "ncp-ciphers") and directive.args:
            kept = ([name for name in directive.args[0].split(":") if name.upper() in DCO_CIPHERS]
                    or DEFAULT_DATA_CIPHERS.split(":"))
            new = replace(lines, index, "%s %s" % (directive.name, ":".join(kept)))
            return self._edited(lines, new, index, directive,
                                "peers of OpenVPN 2.4 or newer negotiate one of %s; older peers cannot connect" % ":".join(kept))
        if directive.name == "compat-mode":
            # compat-mode below 2.5.0 adds the cipher to the list; dropping it is what breaks old peers.
            return self._comment(lines, index, directive, _NO_FALLBACK, _NO_FALLBACK_WHY, impact="breaking")
        return None, "no automatic edit for '%s'; %s" % (directive.name, context["fix"])


class StaticKey(Rule):
    """No TLS: a static key (``secret``) or nothing at all."""

    id = "dco-static-key"
    message = "No tls-client or tls-server option in configuration detected. Disabling data channel offload."
    advice = "Static-key tunnels cannot use DCO; move to TLS with certificates (ovpnfleet.dco.pki) by hand."

    def check(self, state):
        if device_name(state) is None or state.tls_server or state.tls_client:
            return []
        return [self.blocker(state.secret, "Use TLS: tls-server/tls-client with certificates or --peer-fingerprint "
                             "instead of a static key (--secret); 2.7 refuses static keys unless "
                             "--allow-deprecated-insecure-static-crypto is given.",
                             option="secret" if state.secret else "tls-server")]


class DevType(Rule):
    """A device that is not tun (tap, or an unknown type)."""

    id = "dco-dev-type"
    message = "Note: dev-type not tun, disabling data channel offload."
    advice = _TAP_ADVICE

    def check(self, state):
        if state.dev_kind in (None, "tun"):
            return []
        return [self.blocker(state.dev_type or state.dev,
                             "DCO carries IP packets only: use a tun device ('dev tun' and no "
                             "'dev-type %s'); bridging (tap) stays in userspace." % state.dev_kind)]


class AfUnix(Rule):
    """2.7: an AF_UNIX ``dev-node``."""

    id = "dco-afunix"
    message = "Note: afunix tun type selected, disabling data channel offload"
    advice = "An AF_UNIX device is not a kernel device; remove 'dev-node unix:...' by hand if it is not needed."

    def check(self, state):
        if (state.v27 and state.dev_kind == "tun" and state.dev_node is not None
                and state.dev_node.args[0].startswith("unix:")):
            return [self.blocker(state.dev_node, "Remove the 'dev-node unix:...' line.")]
        return []


class NullDevice(Rule):
    """2.7: the null device (which 2.7 counts as tun), unless an AF_UNIX dev-node came first."""

    id = "dco-null-device"
    message = "Note: null tun type selected, disabling data channel offload"
    advice = "The null device carries no packets, so there is nothing to offload; use 'dev tun' by hand if the tunnel should carry traffic."

    def check(self, state):
        if not state.v27 or state.dev_kind != "tun" or AfUnix().check(state) or not is_dev_type(state, "null"):
            return []
        return [self.blocker(state.dev_type or state.dev, "The null device carries nothing; use 'dev tun'.")]


class EntryRule(Rule):
    """A rule openvpn checks once per connection entry (``dco_check_option_ce()``)."""

    attr = ""
    fix = ""

    def check_entry(self, state, entry):
        d = getattr(entry, self.attr)
        return [] if d is None else [self.blocker(d, self.fix)]


class Fragment(EntryRule):
    id = "dco-fragment"
    attr = "fragment"
    message = "Note: --fragment disables data channel offload."
    fix = "Remove 'fragment' on every peer; let path MTU discovery or a lower tun-mtu handle the MTU."
    impact = "breaking"

    def edit(self, lines, index, directive, context):
        return self._comment(lines, index, directive, "removed, DCO does not fragment",
                             "both ends must drop 'fragment' together, or the tunnel carries nothing")


class HttpProxy(EntryRule):
    id = "dco-http-proxy"
    attr = "http_proxy"
    message = "Note: --http-proxy disables data channel offload."
    fix = "DCO cannot tunnel through an HTTP proxy: connect directly, or keep this profile in userspace."
    advice = _PROXY_ADVICE


class SocksProxy(EntryRule):
    id = "dco-socks-proxy"
    attr = "socks_proxy"
    message = "Note: --socks-proxy disables data channel offload."
    fix = "DCO cannot tunnel through a SOCKS proxy: connect directly, or keep this profile in userspace."
    advice = _PROXY_ADVICE


class BindDev(Rule):
    """``bind-dev`` on 2.6.18 and later 2.6 (commit 30041d6c, GH #683); 2.7's dco.c has no such check."""

    id = "dco-bind-dev"
    message = "Note: bind-dev not supported with DCO, disabling data channel offload"
    impact = "none"

    def check(self, state):
        if state.bind_dev is None or state.v27 or state.version < (2, 6, 18):
            return []
        return [self.blocker(state.bind_dev, "Remove 'bind-dev' (OpenVPN 2.7 keeps DCO with it).")]

    def edit(self, lines, index, directive, context):
        return self._comment(lines, index, directive, "removed, it keeps DCO off", self.message)


class Topology(Rule):
    """A server whose topology is not subnet, given or by default (2.6 defaults to net30)."""

    id = "dco-topology"
    message = "Note: NOT using '--topology subnet' disables data channel offload."
    impact = "compatible"

    def check(self, state):
        if not state.mode or state.topology_value == "subnet":
            return []
        if state.topology is not None:
            fix = "Set 'topology subnet' (every 2.x client follows the pushed topology)."
        else:
            fix = ("Add 'topology subnet': OpenVPN 2.6 defaults to net30 even in server mode "
                   "(2.7 defaults to subnet there).")
        return [self.blocker(state.topology or state.server or state.mode, fix)]

    def edit(self, lines, index, directive, context):
        if directive.name == "topology":
            return self._edited(lines, replace(lines, index, "topology subnet"), index, directive,
                                "clients follow the pushed topology and get addresses in subnet form; "
                                "static ifconfig-push addresses in a client-config-dir must change too")
        if directive.name in ("server", "mode"):
            # No topology line: the default applies, so the line goes below what made it a server.
            new = insert_after(lines, index, "topology subnet")
            return new, Edit("topology", index + 2, "", "topology subnet", self.impact,
                             "OpenVPN 2.6 defaults to net30; clients follow the pushed topology", self.id)
        return None, "no automatic edit for '%s'; %s" % (directive.name, context["fix"])


class QueryProxy(Rule):
    """``management-query-proxy``, checked by 2.6.10 and later and by all of 2.7."""

    id = "dco-management-query-proxy"
    message = "Note: --management-query-proxy disables data channel offload."
    impact = "none"

    def check(self, state):
        if state.query_proxy is None or state.version < (2, 6, 10):
            return []
        return [self.blocker(state.query_proxy, "Remove 'management-query-proxy'.")]

    def edit(self, lines, index, directive, context):
        return self._comment(lines, index, directive, "removed, it keeps DCO off", self.message)


class Mktun(Rule):
    """``--mktun``: init.c do_persist_tuntap() creates a plain device and exits before any other
    check, so this is the only verdict openvpn gives (``disable-dco`` aside)."""

    id = "dco-mktun"
    message = "Note: --mktun does not support DCO. Creating TUN interface."
    advice = "--mktun only creates a device and exits; there is nothing to offload."
    _fix = ("Do not pre-create the device with --mktun; let openvpn create its DCO device when "
            "it starts.")

    def check(self, state):
        if device_name(state) is None:
            state.error("You must define TUN/TAP device (--dev)", state.mktun, "verify")
        elif state.remotes or state.seen.keys() & {"ifconfig", "secret", "tls-server", "tls-client"}:
            state.error("options --mktun or --rmtun should only be used together with --dev",
                        state.mktun, "verify")
        state.dev_kind = device_kind(state)
        blockers = DISABLE_DCO.check(state)
        if blockers:
            return blockers
        if state.dev_kind != "tun":
            return [self.blocker(state.mktun, self._fix, "--mktun creates a %s device, which is never a DCO "
                                 "device" % state.dev_kind)]
        return [self.blocker(state.mktun, self._fix)]


DISABLE_DCO = DisableDco()
MKTUN = Mktun()
ENTRY_RULES = (Fragment(), HttpProxy(), SocksProxy())
# dco.c's order; a tuple is checked per connection entry, each rule in turn.
ORDER = (DISABLE_DCO, CipherFallback(), Compression(), DataCiphers(), StaticKey(), DevType(), AfUnix(),
         NullDevice(), ENTRY_RULES, BindDev(), Topology(), QueryProxy())
RULES = {rule.id: rule for rule in [MKTUN] + [step for item in ORDER for step in (item if isinstance(item, tuple) else (item,))]}
RULE_IDS = tuple(sorted(RULES))


def find_blockers(state):
    """Every blocker of a mutated state, in openvpn's order."""
    if state.mktun is not None:
        return MKTUN.check(state)
    blockers = []
    for step in ORDER:
        if isinstance(step, tuple):
            blockers.extend(_entry_blockers(state, step))
        else:
            blockers.extend(step.check(state))
    return blockers


def _entry_blockers(state, rules):
    # Entries copied from the global one share its directives: report each line once.
    blockers, seen = [], set()
    for entry in state.entries:
        for rule in rules:
            for blocker in rule.check_entry(state, entry):
                key = (blocker["rule"], blocker["file"], blocker["line"])
                if key not in seen:
                    seen.add(key)
                    blockers.append(blocker)
    return blockers


def rule_ids(ids):
    """``ids`` as a set, each a known rule id; raises ``DcoError`` naming the known ones."""
    unknown = sorted(set(ids or ()) - set(RULES))
    if unknown:
        raise DcoError("check ignore_rules: unknown DCO rule id%s %s; use the ids config_info returns in "
                       "blockers[].rule: %s" % ("s" if len(unknown) > 1 else "", ", ".join(repr(i) for i in unknown),
                                                ", ".join(RULE_IDS)))
    return set(ids or ())
