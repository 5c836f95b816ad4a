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

from ansible_collections.ovpnfleet.dco.plugins.module_utils._generations import GENERATIONS
from ansible_collections.ovpnfleet.dco.plugins.module_utils.access_server._server import DCO_KEY
from ansible_collections.ovpnfleet.dco.plugins.plugin_utils import _rollout

PHASE_OF_MODE = {"server": "servers", "p2p": "servers", "client": "clients"}


def host_plan(tunnels, config_checks=None, kmod=None):
    """The plan of one host: what enable_dco does to it, decided once.

    ``tunnels`` is the host's tunnel_info result, ``config_checks`` the looped check-mode
    ``config`` results of ``to_check`` (each with the instance in ``item``; None: not checked
    yet), ``kmod`` the kmod role's decision ``{"skip", "why", "plan_line"}`` (None: not asked,
    because nothing is to switch). Returns a dict:

    - ``dco_possible``, ``why_not``: whether the host can run DCO at all, and why not (on an
      Access Server host: for AS, or for its own instances).
    - ``needs_checks``: configs are to be checked and the kmod role asked (an instance could
      switch, or Access Server could); false means this plan is already the final one.
    - ``to_check``: instances whose config preflight checks (``{name, unit, mode, config}``).
    - ``held_back``: why the host is left alone although it could run DCO (the module decision),
      else None; ``outcome`` the matching ``{phase, result, reason}`` for the report.
    - ``units``: units to restart, servers first; ``phases``: the same split per phase;
      ``switch``: their instances (for the config edits); ``probes``: ``{unit, target}`` to ping.
    - ``offloaded``: units in DCO now (what disable_dco moves back, upgrade_kmod checks again).
    - ``access_server``: on an Access Server host with something to do, ``access_server_state``
      (the kmod role's module, then the key through ovpnfleet.dco.access_server, then its gate);
      else None. ``access_server_offloaded``: disable_dco turns its key off.
    - ``needs_module``: the kmod role is asked (a unit switches, or Access Server does).
    - ``servers``, ``clients``: what the fleet views need of this host's instances.
    - ``lines``: the plan as printed; ``group``: ``dco_switch``, ``dco_converged`` or
      ``dco_not_possible``; ``converged``: nothing to do on this host.
    """
    tunnels = tunnels or {}
    own_possible, own_why_not = _rollout.dco_possible(tunnels)
    possible, why_not = own_possible, own_why_not
    server = access_server_state(tunnels)
    if server is not None:
        possible, why_not = _with_access_server(tunnels, possible, why_not, server)
    candidates = [_entry(instance) for instance in _rollout.switch_candidates(tunnels)]
    checks = list(config_checks or [])
    units = _rollout.switch_order(candidates, checks) if config_checks is not None else []
    held_back = (kmod.get("why") or "the module decision skips this host") if kmod and kmod.get("skip") and possible else None
    if held_back:
        units = []
    switch = [entry for entry in candidates if entry["unit"] in units]
    as_part = server if server and server["switch"] and not held_back else None
    plan = {
        "dco_possible": possible,
        "why_not": why_not,
        "needs_checks": bool(candidates) or bool(server and server["switch"]),
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
        "access_server": as_part,
        "access_server_offloaded": bool(server and server["offloaded"]),
        "needs_module": bool(units or as_part),
        "converged": not units and not as_part and not held_back,
    }
    plan["group"] = ("dco_not_possible" if not possible or held_back
                     else "dco_switch" if plan["needs_module"] else "dco_converged")
    plan["lines"] = _lines(tunnels, plan, checks, kmod, server)
    if possible and not own_possible and _own_instances(tunnels):
        plan["lines"].insert(0, "the host's own OpenVPN: DCO not possible, left alone: " + own_why_not)
    return plan


def access_server_state(tunnels):
    """Where the host's Access Server stands with DCO, from tunnel_info; None without AS.

    ``switch``: enable_dco has something to do - the key is not ``true`` (the exact value
    ovpnfleet.dco.access_server leaves alone), or it is but a device runs in userspace, which
    only a ``sacli start`` after the module is loaded changes (``restart``). ``was_on``: DCO was
    on in AS's configuration before (a rollback turns the key back only when it was not).
    ``offloaded``: what disable_dco turns off - the key on, or a device in DCO.
    """
    summary = tunnels.get("access_server") or {}
    if not summary.get("is_access_server"):
        return None
    readiness = summary.get("readiness") or {}
    devices = _rollout.access_server_devices(tunnels)
    userspace = [device["name"] for device in devices if not device.get("dco_active")]
    possible = readiness.get("status") != "unsupported" and summary.get("flavour") is not None
    key_on = summary.get("dco_setting") == "true"
    state = {
        "version": summary.get("version"), "flavour": summary.get("flavour"), "possible": possible,
        "why_not": "" if possible else "; ".join(readiness.get("reasons") or [
            "Access Server %s cannot do DCO" % (summary.get("version") or "(version unknown)")]),
        "key": summary.get("dco_setting"), "was_on": bool(summary.get("dco_configured")),
        "devices": [device["name"] for device in devices], "userspace": userspace,
        "clients": summary.get("clients"), "set_key": possible and not key_on,
        "restart": possible and key_on and bool(userspace),
        "offloaded": bool(summary.get("dco_configured")) or len(userspace) < len(devices),
    }
    state["switch"] = state["set_key"] or state["restart"]
    return state


def access_server_upgrade(tunnels):
    """What upgrade_kmod does to the host's Access Server, from tunnel_info read before the upgrade.

    ``present`` False without AS (nothing else set). AS's own "upgrade the DCO module" order is: headers and the module (the kmod
    role, whose ``auto`` flavour follows AS's version and the kernel), then AS's daemons restarted
    so they open their devices on the new module, then a check. ``restart`` is False where AS does
    not use DCO (it cannot, or its key is off and no device is in DCO): the module is upgraded
    under it and AS is left running. ``link_kind`` is the kind every ``as0*`` device must have
    afterwards (``ovpn`` for AS 3.2 and newer on Linux 6.16+, ``ovpn-dco`` otherwise); ``was_on``
    whether the key was on before (a rollback that turns it off says how to turn it back on).
    """
    server = access_server_state(tunnels)
    if server is None:
        return {"present": False, "restart": False, "link_kind": None, "line": None}
    generation = GENERATIONS.get(server["flavour"]) if server["flavour"] else None
    in_dco = [name for name in server["devices"] if name not in server["userspace"]]
    restart = bool(server["possible"] and generation is not None and (server["key"] == "true" or server["was_on"] or in_dco))
    name = "Access Server %s" % (server["version"] or "(version unknown)")
    if not server["possible"]:
        line = "%s: DCO not possible, left alone: %s" % (name, server["why_not"])
    elif not restart:
        line = "%s: DCO off in its configuration (%s %s), left running on the upgraded module" % (
            name, DCO_KEY, _key(server["key"]))
    else:
        line = ("%s: the %s module via the kmod role, then sacli start through ovpnfleet.dco.access_server "
                "(restart); gate: API and every daemon on, %s of link kind %s%s" % (
                    name, server["flavour"], ", ".join(server["devices"]) or "its as0* devices", generation.link_kind,
                    ", %d client(s) back as kernel peers" % server["clients"] if server["clients"] else ""))
    return {"present": True, "version": server["version"], "flavour": server["flavour"], "restart": restart,
            "link_kind": generation.link_kind if restart else None, "devices": server["devices"],
            "in_dco": in_dco, "key": server["key"], "was_on": server["was_on"], "clients": server["clients"],
            "line": line}


def access_server_upgrade_gate_failures(before, after, link_kind):
    """What keeps Access Server from passing upgrade_kmod's gate (empty: passed).

    enable_dco's gate (AS up, every ``as0*`` device in DCO, at least as many kernel peers as
    ``sacli VPNSummary`` counted before), and every device of ``link_kind``: a device still of the
    old generation's kind means AS did not move to the module this upgrade installed.
    """
    failures = _rollout.access_server_gate_failures(before, after)
    if link_kind:
        failures += ["%s: link kind %s, not %s (the module this upgrade installed)" % (
            device["name"], device.get("link_kind"), link_kind) for device in _rollout.access_server_devices(after)
            if device.get("dco_active") and device.get("link_kind") != link_kind]
    return failures


def _own_instances(tunnels):
    return [instance for instance in tunnels.get("instances") or [] if instance.get("manager") != _rollout.ACCESS_SERVER]


def _with_access_server(tunnels, possible, why_not, server):
    """The host can run DCO for something it runs: its Access Server, or its own instances."""
    own = _own_instances(tunnels)
    if server["possible"] or (possible and own):
        return True, ""
    return False, "; ".join(part for part in (server["why_not"], why_not if own else "") if part)


def _entry(instance):
    return {key: instance.get(key) for key in ("name", "unit", "mode", "config")}


def _clients(tunnels, checks, units):
    """The clients this host switches, with the server address they ping and whether the peer
    would notice their edits (every edit of impact ``none``: it would not)."""
    edits = {(check.get("item") or {}).get("name"): check.get("edits") or [] for check in checks}
    return [{"name": instance.get("name"), "unit": instance.get("unit"), "target": (instance.get("ping") or {}).get("target"),
             "peer_notices": not all(edit.get("impact") == "none" for edit in edits.get(instance.get("name"), []))}
            for instance in tunnels.get("instances") or [] if instance.get("mode") == "client" and instance.get("unit") in units]


def _lines(tunnels, plan, checks, kmod, server):
    lines = []
    if not plan["dco_possible"]:
        lines.append("DCO not possible here, left alone: " + plan["why_not"])
    if plan["held_back"]:
        lines.append("left alone, its tunnels stay in userspace: " + plan["held_back"])
    if kmod and kmod.get("plan_line"):
        lines.append(kmod["plan_line"])
    if server is not None:
        lines.append(_access_server_line(server, plan))
    # Access Server's devices are its line's: the rollout reaches them only through its key.
    own = _own_instances(tunnels)
    lines += ["%s: already in DCO, left running" % instance.get("name") for instance in own if instance.get("dco_active")]
    lines += [_rollout.plan_line(check) for check in checks]
    lines += [_rollout.plan_line(entry) for entry in _rollout.unmanaged_instances({"instances": own})]
    if plan["units"]:
        lines.append("restart, in this order: " + ", ".join(plan["units"]))
    else:
        lines.append("no restart" if server is None else "no restart of the host's own OpenVPN units")
    return lines


def _access_server_line(server, plan):
    name = "Access Server %s" % (server["version"] or "(version unknown)")
    devices = ", ".join(server["devices"]) or "no as0t*/as0u* device"
    if not server["possible"]:
        return "%s: DCO not possible, left alone: %s" % (name, server["why_not"])
    if not server["switch"]:
        return "%s: %s is true and %s in DCO, left running" % (name, DCO_KEY, devices)
    if plan["held_back"]:
        return "%s: left alone with the host: %s stays %s" % (name, DCO_KEY, _key(server["key"]))
    if server["set_key"]:
        step = "%s from %s to true with ovpnfleet.dco.access_server (its sacli start restarts AS's daemons)" % (
            DCO_KEY, _key(server["key"]))
    else:
        step = "%s is true but %s in userspace: sacli start through ovpnfleet.dco.access_server (restart)" % (
            DCO_KEY, ", ".join(server["userspace"]))
    clients = server["clients"] or 0
    return ("%s: the %s module via the kmod role, then %s; gate: API and every daemon on, %s in DCO%s; "
            "rollback: %s" % (name, server["flavour"], step, devices,
                              ", %d client(s) back as kernel peers" % clients if clients else "",
                              "the key back to false" if not server["was_on"] else "none, the key was on before"))


def _key(raw):
    return "unset" if raw is None else repr(raw)


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


def reconnect_clients(hosts, hostvars, server_host, server_units):
    """``_rollout.clients_to_reconnect`` over the hosts of the run, read from their ``rollout_before``."""
    facts = _fleet_facts(hosts, hostvars)
    return _rollout.clients_to_reconnect({name: host.get("rollout_before") or {} for name, host in facts.items()},
                                         server_host, server_units)


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
