# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""enable_dco's plan for one host, and the fleet-wide views its later plays read.

``host_plan`` turns what preflight read on a host (tunnel_info, the config checks, the kmod
decision) into one dict; every later task of the ``rollout`` role reads fields of it. The
fleet functions take ``{host: facts}`` as the plays left them (``rollout_host_plan``, ``rollout_outcome``,
``rollout_switched_units``, ``rollout_held_clients``, ``rollout_outages``, ``rollout_before``). Pure functions;
the ``ovpnfleet.dco.rollout_*`` filters are their only callers in the collection.
"""

from __future__ import annotations

from ansible_collections.ovpnfleet.dco.plugins.module_utils.tunnels._host import CRYPTOGRAPHY_MISSING, PYROUTE2_MISSING
from ansible_collections.ovpnfleet.dco.plugins.plugin_utils import _rollout

# tunnel_info's own words for a library it lacks (the part before the advice): a host that says
# so gets the health role's requirements, and is read again, before anything is decided.
MISSING_REQUIREMENTS = tuple(text.split(":", 1)[0] for text in (PYROUTE2_MISSING, CRYPTOGRAPHY_MISSING))

PHASE_OF_MODE = {"server": "servers", "p2p": "servers", "client": "clients"}


def host_plan(tunnels, config_checks=None, kmod=None):
    """The plan of one host: what enable_dco does to it, decided once.

    ``tunnels`` is the host's tunnel_info result, ``config_checks`` the looped check-mode
    ``config`` results of ``to_check`` (each with the instance in ``item``; None: not checked
    yet), ``kmod`` the kmod role's decision ``{"skip", "why", "plan_line"}`` (None: not asked,
    because nothing is to switch). Returns a dict:

    - ``dco_possible``, ``why_not``: whether the host can run DCO at all, and why not.
    - ``requirements``: install tunnel_info's requirements (it said one is missing, or configs
      are to be checked and units may switch, which the health gate reads with them).
    - ``to_check``: instances whose config preflight checks (``{name, unit, mode, config}``).
    - ``held_back``: why the host is left alone although it could run DCO (the module decision),
      else None; ``outcome`` the matching ``{phase, result, reason}`` for the report.
    - ``units``: units to restart, servers first; ``phases``: the same split per phase;
      ``switch``: their instances (for the config edits); ``probes``: ``{unit, target}`` to ping.
    - ``offloaded``: units in DCO now (what disable_dco moves back, upgrade_kmod checks again).
    - ``servers``, ``clients``: what the fleet views need of this host's instances.
    - ``lines``: the plan as printed; ``group``: ``dco_switch``, ``dco_converged`` or
      ``dco_not_possible``; ``converged``: nothing to do on this host.
    """
    tunnels = tunnels or {}
    possible, why_not = _rollout.dco_possible(tunnels)
    candidates = [_entry(instance) for instance in _rollout.switch_candidates(tunnels)]
    checks = list(config_checks or [])
    units = _rollout.switch_order(candidates, checks) if config_checks is not None else []
    held_back = (kmod.get("why") or "the module decision skips this host") if kmod and kmod.get("skip") and possible else None
    if held_back:
        units = []
    switch = [entry for entry in candidates if entry["unit"] in units]
    plan = {
        "dco_possible": possible,
        "why_not": why_not,
        "requirements": _lacks_requirements(tunnels) or bool(candidates),
        "to_check": candidates,
        "held_back": held_back,
        "outcome": {"phase": "plan", "result": "held_back", "reason": held_back} if held_back else None,
        "units": units,
        "phases": {phase: [entry["unit"] for entry in switch if PHASE_OF_MODE.get(entry["mode"]) == phase]
                   for phase in ("servers", "clients")},
        "switch": switch,
        "probes": _rollout.probe_targets(tunnels, units),
        "offloaded": _rollout.offloaded_units(tunnels),
        "servers": [{"name": instance.get("name"), "unit": instance.get("unit"), "mode": "server",
                     "vpn_ipv4": instance.get("vpn_ipv4"), "dco_active": bool(instance.get("dco_active"))}
                    for instance in tunnels.get("instances") or [] if instance.get("mode") == "server"],
        "clients": _clients(tunnels, checks, units),
        "converged": not units and not held_back,
    }
    plan["group"] = "dco_not_possible" if not possible or held_back else "dco_switch" if units else "dco_converged"
    plan["lines"] = _lines(tunnels, plan, checks, kmod)
    return plan


def _entry(instance):
    return {key: instance.get(key) for key in ("name", "unit", "mode", "config")}


def _lacks_requirements(tunnels):
    problems = [problem for instance in tunnels.get("instances") or [] for problem in instance.get("problems") or []]
    return any(missing in str(problem) for problem in problems for missing in MISSING_REQUIREMENTS)


def _clients(tunnels, checks, units):
    """The clients this host switches, with the server address they ping and whether the peer
    would notice their edits (every edit of impact ``none``: it would not)."""
    edits = {(check.get("item") or {}).get("name"): check.get("edits") or [] for check in checks}
    return [{"name": instance.get("name"), "unit": instance.get("unit"), "target": (instance.get("ping") or {}).get("target"),
             "peer_notices": not all(edit.get("impact") == "none" for edit in edits.get(instance.get("name"), []))}
            for instance in tunnels.get("instances") or [] if instance.get("mode") == "client" and instance.get("unit") in units]


def _lines(tunnels, plan, checks, kmod):
    lines = []
    if not plan["dco_possible"]:
        lines.append("DCO not possible here, left alone: " + plan["why_not"])
    if plan["held_back"]:
        lines.append("left alone, its tunnels stay in userspace: " + plan["held_back"])
    if kmod and kmod.get("plan_line"):
        lines.append(kmod["plan_line"])
    lines += ["%s: already in DCO, left running" % instance.get("name")
              for instance in tunnels.get("instances") or [] if instance.get("dco_active")]
    lines += [_rollout.plan_line(check) for check in checks]
    lines += [_rollout.plan_line(entry) for entry in _rollout.unmanaged_instances(tunnels)]
    lines.append("restart, in this order: " + ", ".join(plan["units"]) if plan["units"] else "no restart")
    return lines


def _fleet_facts(hosts, hostvars):
    """``{host: the host's facts}`` for the hosts of the run (a host without facts: ``{}``)."""
    return {name: (hostvars[name] if name in hostvars else {}) for name in hosts or []}


def client_phase(hosts, hostvars):
    """Per host of the run, the clients it holds back and the client units it switches.

    A client must keep a config its server accepts: when its server (found by the tunnel
    address it pings) did not switch - failed, held back, left in userspace, or not in this run
    - it switches only if the peer would not notice its edits. Returns ``{host: {"held",
    "units"}}``; ``held`` from ``_rollout.held_back_clients``.
    """
    facts = _fleet_facts(hosts, hostvars)
    servers = _rollout.server_table({name: {"before": {"instances": (host.get("rollout_host_plan") or {}).get("servers") or []},
                                            "switched": host.get("rollout_switched_units"), "outcome": host.get("rollout_outcome")}
                                     for name, host in facts.items()})
    phase = {}
    for name, host in facts.items():
        plan = host.get("rollout_host_plan") or {}
        held = _rollout.held_back_clients(plan.get("clients"), servers)
        kept = {entry["unit"] for entry in held}
        phase[name] = {"held": held, "units": [unit for unit in (plan.get("phases") or {}).get("clients") or [] if unit not in kept]}
    return phase


def batch_halt_reason(batch, hostvars, phase, max_fail_percentage):
    """``_rollout.batch_halt_reason`` over the hosts of a batch, read from hostvars."""
    facts = _fleet_facts(batch, hostvars)
    return _rollout.batch_halt_reason([host.get("rollout_outcome") for host in facts.values()], phase, max_fail_percentage)


def report(hosts, hostvars):
    """What the report play needs of the run, per host, in one call.

    ``lines``: what the switch did (the play prints it); ``notes``: the rows' ``why`` for the
    fleet report (only hosts that have any); ``summary``: ``set_stats``'s ``dco_rollout``;
    ``gathered``: the preflight tunnel_info result of every host that never entered the build
    or switch plays - nothing on it changed, so the report reuses that read instead of another.
    """
    facts = _fleet_facts(hosts, hostvars)
    result = {"lines": {}, "notes": {}, "gathered": {}, "summary": _rollout.run_summary({
        name: {"switched": host.get("rollout_switched_units"), "held_clients": host.get("rollout_held_clients"),
               "outcome": host.get("rollout_outcome")} for name, host in facts.items()})}
    for name, host in facts.items():
        plan = host.get("rollout_host_plan") or {}
        result["lines"][name] = _report_line(host, plan)
        notes = _rollout.report_notes(host.get("rollout_outcome"), host.get("rollout_held_clients"))
        if notes:
            result["notes"][name] = notes
        if plan and plan.get("group") != "dco_switch" and host.get("rollout_before"):
            result["gathered"][name] = host["rollout_before"]
    return result


def _report_line(host, plan):
    outcome = host.get("rollout_outcome")
    if outcome:
        line = "%s in the %s phase: %s" % (outcome.get("result"), outcome.get("phase"), outcome.get("reason"))
    elif plan.get("dco_possible"):
        line = "switched: " + (", ".join(host.get("rollout_switched_units") or []) or "nothing to switch")
    else:
        line = "left alone: DCO not possible here"
    held = host.get("rollout_held_clients") or []
    if held:
        line += "; %s %s" % (", ".join(entry["name"] for entry in held), held[0]["why"])
    if host.get("rollout_outages") is not None:
        line += "; down during the switch: " + ", ".join(_rollout.outage_line(outage) for outage in host["rollout_outages"])
    return line


def outages(probe_results, interval):
    """How long each probed tunnel was down, from the looped async_status results of the probes
    (each with its probe, ``{unit, target}``, in ``item.item``)."""
    return [dict((result.get("item") or {}).get("item") or {}, **_rollout.ping_outage(result.get("stdout") or "", interval))
            for result in probe_results or []]
