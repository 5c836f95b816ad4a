# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether openvpn keeps data channel offload (DCO) on for a config, and what blocks it.

Pure: ``evaluate(parsed, version)`` takes a ``_config.ParsedConfig`` and an OpenVPN version
and returns a verdict; nothing here reads the host. The work is split by job: ``_dco_state``
applies the options, ``_dco_postprocess`` rewrites and verifies them, ``_rules`` holds one
class per reason DCO goes off (its stable id, check, OpenVPN's note and fix), ``_verify`` the
other refusals; this module runs them in openvpn's order and adds the notes.

The rules are openvpn's own, not what option names suggest. openvpn applies the options in
order to one state (``options.c`` ``add_option``), rewrites it (``options_postprocess_mutate``:
``--server`` and ``--client`` helpers, the default topology, cipher and compression defaults)
and only then asks ``dco.c``: ``dco_check_option()`` (cipher fallback, compression, data
ciphers), then ``dco_check_startup_option()`` (TLS, device type, per connection fragment and
proxies, bind-dev, topology, management-query-proxy) and last whether the kernel has the
module. It prints the first reason only and runs in userspace. ``--mktun`` turns DCO off later
(``init.c``). These modules emulate that state, so they see what openvpn sees:

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
from ansible_collections.ovpnfleet.dco.plugins.module_utils.openvpn._dco_postprocess import mutate
from ansible_collections.ovpnfleet.dco.plugins.module_utils.openvpn._dco_postprocess import verify as verify_known
from ansible_collections.ovpnfleet.dco.plugins.module_utils.openvpn._dco_state import DCO_CIPHERS, DEFAULT_DATA_CIPHERS, State, apply, normalize_cipher
from ansible_collections.ovpnfleet.dco.plugins.module_utils.openvpn._rules import RULE_IDS, find_blockers, rule_ids
from ansible_collections.ovpnfleet.dco.plugins.module_utils.openvpn._verify import verify as verify_options

# Imported by the fixer and the tests from here, where the verdict is made.
__all__ = ["DCO_CIPHERS", "DEFAULT_DATA_CIPHERS", "MODE_CLIENT", "MODE_P2P", "MODE_SERVER", "RULE_IDS", "evaluate",
           "normalize_cipher", "resolve_version"]

# What "2.6" or "2.7" without a patch level stands for: the newest release the rules know.
NEWEST = {(2, 6): (2, 6, 22), (2, 7): (2, 7, 8)}

MODE_SERVER = "server"
MODE_CLIENT = "client"
MODE_P2P = "p2p"


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


def _mode(state):
    if state.mode:
        return MODE_SERVER
    if state.pull:
        return MODE_CLIENT
    return MODE_P2P


def evaluate(parsed, version, ignore_rules=()):
    """Verdict for a parsed config under OpenVPN ``version`` (``"2.6.14"``, ``"2.7"``, ...).

    Returns a dict:
    - ``dco_compatible``: True, False, or None when openvpn would refuse the config; suppressed
      blockers count, since openvpn does not know the caller ignores them;
    - ``blockers``: dicts ``option, file, line, reason, fix, rule`` in openvpn's order, those of
      the rules in ``ignore_rules`` left out; ``reason`` is openvpn's own note, ``rule`` the
      id of the rule (``_rules``). openvpn prints only the first; the others show once it is fixed;
    - ``suppressed``: the blockers of the rules in ``ignore_rules``, in the same shape;
    - ``errors``: dicts ``file, line, msg, stage`` for what openvpn refuses to start with;
    - ``notes``: dicts ``option, file, line, msg`` for options that behave differently or
      depend on the host;
    - ``mode`` (server, client or p2p) and ``openvpn_version``.

    Raises ``DcoError`` for an unknown version or rule id.
    """
    ignored = rule_ids(ignore_rules)
    resolved = resolve_version(version)
    state = State(resolved)
    for error in parsed.errors:
        state.errors.append(dict(error, stage="parse"))
    apply(state, parsed.directives)
    if state.mktun is None:
        mutate(state)
    found = find_blockers(state)
    if state.mktun is None:
        verify_known(state)
        verify_options(state)  # the refusals openvpn makes that verify_known() does not know
    if state.errors:
        compatible = None
    else:
        compatible = not found
    return {
        "dco_compatible": compatible,
        "blockers": [blocker for blocker in found if blocker["rule"] not in ignored],
        "suppressed": [blocker for blocker in found if blocker["rule"] in ignored],
        "errors": state.errors,
        "openvpn_warnings": parsed.warnings + state.warnings,
        "notes": _notes(state, bool(found)),
        "mode": _mode(state),
        "openvpn_version": ".".join(str(part) for part in resolved),
    }
