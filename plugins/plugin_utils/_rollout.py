# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decisions of the enable_dco rollout, as pure functions of tunnel_info and config results.

Which instances a host switches and in what order, whether the health gate after the switch
passed, and how long a tunnel was down according to a continuous ping through it. The
playbooks call these through the ``ovpnfleet.dco.rollout`` filters.
"""

from __future__ import annotations

import re

from ansible_collections.ovpnfleet.dco.plugins.plugin_utils._fleet_report import peer_count

# Servers first: their clients reconnect to a server already in DCO, and a client restarted
# before its server would only have to reconnect twice.
MODE_ORDER = {"server": 0, "p2p": 1, "client": 2}

# tunnel_info's manager of Access Server's devices, and the name the rollout's outcomes and
# switched units give Access Server as a whole (the fleet report's row is named so too).
ACCESS_SERVER = "access_server"
ACCESS_SERVER_UNIT = "access-server"

PING_LINE = re.compile(r"^\[(?P<time>\d+(?:\.\d+)?)\]\s+(?P<rest>.*)$")
PING_REPLY = re.compile(r"bytes from .*icmp_seq=(?P<seq>\d+)")
# Duplicates and replies to a sequence number ping never sent (0: it counts from 1) are not
# answers: the lab's qemu network was seen echoing garbage for an unrouted address.
PING_NOT_AN_ANSWER = re.compile(r"\(DUP!\)|icmp_seq=0\b")


def dco_possible(tunnels):
    """Whether the host can run DCO at all (tunnel_info's readiness), and if not, why."""
    readiness = tunnels.get("readiness") or {}
    if readiness.get("status") == "unsupported":
        return False, "; ".join(readiness.get("reasons") or ["host_info found no DCO module for this host"])
    return True, ""


def switch_candidates(tunnels):
    """Instances to move to DCO: managed by systemd, with a config file, not in DCO yet.

    An instance already in DCO is left running; one without a unit cannot be restarted
    safely by us and is reported instead.
    """
    possible, _why = dco_possible(tunnels)
    if not possible:
        return []
    return _managed_servers_first(tunnels, dco_active=False)


def offloaded_units(tunnels):
    """Units in DCO now (with a config file), servers first: what disable_dco moves back and
    what upgrade_kmod must find in DCO again."""
    return [instance["unit"] for instance in _managed_servers_first(tunnels, dco_active=True)]


def _managed_servers_first(tunnels, dco_active):
    """Instances under systemd with a config file, in DCO or not as asked, servers first."""
    chosen = [instance for instance in tunnels.get("instances") or []
              if instance.get("unit") and instance.get("config") and bool(instance.get("dco_active")) == dco_active]
    return sorted(chosen, key=lambda instance: (MODE_ORDER.get(instance.get("mode"), 3), instance["name"]))


def unmanaged_instances(tunnels):
    """Instances this rollout does not touch, each with the reason (for the plan)."""
    left = []
    for instance in tunnels.get("instances") or []:
        if instance.get("dco_active"):
            continue
        if instance.get("manager") == "access_server":
            # Access Server regenerates its daemons' configs: only its own switch reaches them.
            left.append({"name": instance["name"], "why": "an Access Server daemon: switch DCO with ovpnfleet.dco.access_server"})
        elif not instance.get("unit"):
            left.append({"name": instance["name"], "why": "not started by systemd: restart it yourself after the rollout"})
        elif not instance.get("config"):
            left.append({"name": instance["name"], "why": "its config file is unknown"})
    return left


def stays_in_userspace(config_check):
    """Why a config would still turn DCO off after the edits the rollout may make, or None."""
    if config_check.get("failed"):
        return config_check.get("msg") or "the config could not be checked"
    if config_check.get("dco_compatible"):
        return None
    reasons = [item.get("why") or item.get("reason") or item.get("option") for item in config_check.get("not_edited") or []]
    reasons += [item.get("reason") or item.get("option") for item in config_check.get("blockers") or []]
    return "; ".join(dict.fromkeys(reason for reason in reasons if reason)) or "the config still turns DCO off"


def switch_order(candidates, config_checks):
    """Units to restart, servers first, leaving out instances whose config keeps DCO off."""
    verdicts = {check.get("item", {}).get("name"): check for check in config_checks}
    units = []
    for instance in candidates:
        check = verdicts.get(instance["name"], {})
        if stays_in_userspace(check) is None:
            units.append(instance["unit"])
    return units


def probe_targets(before, units):
    """Tunnel addresses to ping during the switch: a client's server, a server's known peers."""
    targets = []
    for instance in (before or {}).get("instances") or []:
        if instance.get("unit") not in units:
            continue
        if instance.get("mode") == "client":
            found = [(instance.get("ping") or {}).get("target")]
        else:
            found = [peer.get("vpn_ipv4") for peer in instance.get("peers") or []]
            found += [client.get("vpn_ipv4") for client in (instance.get("management") or {}).get("clients") or []]
        for address in dict.fromkeys(address for address in found if address):
            targets.append({"unit": instance["unit"], "target": address})
    return targets


def gate_failures(before, after, switched_units, require_dco=True):
    """What keeps a host from passing the health gate after its switch (empty: passed).

    Every switched instance must run (in DCO unless ``require_dco`` is false, as after a
    rollback); a server must hold at least as many peers as before the switch (when that
    number was known); a client must answer through its tunnel.
    """
    earlier = {instance.get("unit"): instance for instance in (before or {}).get("instances") or []}
    now = {instance.get("unit"): instance for instance in (after or {}).get("instances") or []}
    failures = []
    for unit in switched_units:
        instance = now.get(unit)
        if instance is None:
            failures.append("%s: no longer found after the restart" % unit)
            continue
        if instance.get("state") != "active":
            failures.append("%s: %s after the restart" % (unit, instance.get("state")))
            continue
        if require_dco and not instance.get("dco_active"):
            failures.append("%s: still in userspace (%s)" % (
                unit, instance.get("dco_off_reason") or "link kind %s" % instance.get("link_kind")))
            continue
        if instance.get("mode") == "client":
            ping = instance.get("ping") or {}
            if not ping.get("ok"):
                failures.append("%s: no answer from the server's tunnel address %s" % (unit, ping.get("target")))
        elif instance.get("mode") == "server":
            had = peer_count(earlier.get(unit) or {})
            has = peer_count(instance)
            if had and (has or 0) < had:
                failures.append("%s: %s of %d peers back" % (unit, has or 0, had))
    return failures


def access_server_devices(tunnels):
    """tunnel_info's instances for Access Server's ``as0t*``/``as0u*`` devices."""
    return [instance for instance in (tunnels or {}).get("instances") or [] if instance.get("manager") == ACCESS_SERVER]


def access_server_gate_failures(before, after, dco=True):
    """What keeps Access Server from passing its health gate (empty: passed).

    From tunnel_info alone: its ``access_server`` key is access_server_info's reading (the API and
    every daemon on, ``sacli VPNSummary``), its instances the kernel's view of the ``as0*``
    devices. ``dco``: True after switching on (every device's link kind is DCO, and the clients
    ``VPNSummary`` counted before are back as kernel peers), False after switching off (every
    device in userspace), None after a rollback that left the key as it was (either).
    Outside DCO the kernel has no peers, so there ``VPNSummary``'s count must be back.
    """
    server = (after or {}).get("access_server") or {}
    if not server.get("is_access_server"):
        return ["Access Server: not found any more (no sacli)"]
    failures = []
    if not server.get("ready"):
        failures.append("Access Server: not every service is on: %s" % (
            "; ".join(server.get("problems") or []) or "read sacli status"))
    devices = access_server_devices(after)
    if not devices:
        failures.append("Access Server: no as0t*/as0u* device found")
    for device in devices:
        if dco and not device.get("dco_active"):
            failures.append("%s: still in userspace (%s)" % (
                device["name"], device.get("dco_off_reason") or "link kind %s" % device.get("link_kind")))
        elif dco is False and device.get("dco_active"):
            failures.append("%s: still in DCO (link kind %s)" % (device["name"], device.get("link_kind")))
    had = ((before or {}).get("access_server") or {}).get("clients")
    if had and not failures:
        if dco:
            counts = [peer_count(device) for device in devices]
            has = sum(count for count in counts if count)
            where = "kernel peers on %s" % ", ".join(device["name"] for device in devices)
        else:
            has, where = server.get("clients") or 0, "sacli VPNSummary"
        if has < had:
            failures.append("Access Server: %d of %d clients back (%s)" % (has, had, where))
    return failures


def ping_outage(output, interval):
    """How long a ``ping -D -O -i INTERVAL`` saw no answers, from its timestamped output.

    ``longest_outage_s`` is the longest time between two answers (or between the start or end
    of the probe and the nearest answer) minus one interval; 0.0 when every probe was answered.
    """
    stamps = []
    answers = []
    for line in (output or "").splitlines():
        match = PING_LINE.match(line.strip())
        if not match:
            continue
        stamp = float(match.group("time"))
        stamps.append(stamp)
        if PING_REPLY.search(match.group("rest")) and not PING_NOT_AN_ANSWER.search(match.group("rest")):
            answers.append(stamp)
    if not stamps:
        return {"probes_answered": 0, "longest_outage_s": None, "probe_seconds": 0.0}
    start, end = min(stamps), max(stamps)
    if not answers:
        return {"probes_answered": 0, "longest_outage_s": round(end - start, 1), "probe_seconds": round(end - start, 1)}
    points = [start] + answers + [end]
    gaps = [later - earlier for earlier, later in zip(points, points[1:])]
    longest = max(0.0, max(gaps) - interval)
    return {"probes_answered": len(answers), "longest_outage_s": round(longest, 1), "probe_seconds": round(end - start, 1)}


def server_table(fleet):
    """Every server tunnel of this run, by its tunnel addresses, and whether it runs in DCO.

    ``fleet`` maps each host of the run to what the servers phase left on it: ``before``
    (tunnel_info at preflight), ``switched`` (units that passed the health gate) and ``outcome``
    (``{"phase", "result", "reason"}`` when the host failed or was held back). A server counts as
    switched when it was in DCO already or passed its gate; otherwise ``why`` says what kept it.
    """
    table = []
    for host_name in sorted(fleet or {}):
        facts = fleet[host_name] or {}
        outcome = facts.get("outcome") or {}
        switched = set(facts.get("switched") or [])
        for instance in (facts.get("before") or {}).get("instances") or []:
            if instance.get("mode") != "server":
                continue
            addresses = [instance["vpn_ipv4"]] if instance.get("vpn_ipv4") else []
            if instance.get("dco_active") or instance.get("unit") in switched:
                why = None
            elif outcome.get("reason"):
                why = "%s %s in the %s phase: %s" % (host_name, outcome.get("result"), outcome.get("phase"), outcome["reason"])
            else:
                why = "%s stays in userspace on %s" % (instance.get("name"), host_name)
            table.append({"host": host_name, "unit": instance.get("unit"), "addresses": addresses, "why": why})
    return table


def clients_to_reconnect(fleet, server_host, server_units):
    """This run's clients of the servers ``server_host`` just restarted, to be told to reconnect.

    A server restarted without ``explicit-exit-notify`` in its old config leaves its clients
    waiting for their ``ping-restart`` (minutes, with common keepalive settings). A SIGUSR1 is
    the soft restart OpenVPN itself does at ping-restart, so sending it right after the server
    is back only brings that reconnection forward. ``fleet`` maps each host of the run to its
    tunnel_info at preflight; a client belongs to a server when the tunnel address it pings is
    the server's. Returns ``[{"host", "unit", "pid", "name", "server"}]``: clients under
    systemd are signalled through their unit, others through their pid.
    """
    servers = [instance for instance in ((fleet or {}).get(server_host) or {}).get("instances") or []
               if instance.get("mode") == "server" and instance.get("unit") in (server_units or []) and instance.get("vpn_ipv4")]
    targets = []
    for host_name in sorted(fleet or {}):
        for instance in (fleet[host_name] or {}).get("instances") or []:
            if instance.get("mode") != "client" or instance.get("manager") or not instance.get("pid"):
                continue
            target = (instance.get("ping") or {}).get("target")
            server = next((entry for entry in servers if target and target == entry["vpn_ipv4"]), None)
            if server is not None:
                targets.append({"host": host_name, "unit": instance.get("unit"), "pid": instance["pid"],
                                "name": instance.get("name"), "server": server.get("unit")})
    return targets


def held_back_clients(clients, servers):
    """The clients a host keeps on their current config: their server did not move to DCO.

    A client must keep a config its server still accepts. When the server (found by the tunnel
    address the client pings, in ``server_table``) did not switch, failed, was held back or is
    not in this run, the client switches only if the peer would not notice its edits; otherwise
    it is held back with the reason. ``clients`` are the plan's ``{unit, name, target,
    peer_notices}``. Returns ``[{"unit", "name", "why"}]``.
    """
    held = []
    for client in clients or []:
        target = client.get("target")
        server = next((entry for entry in servers or [] if target and target in entry["addresses"]), None)
        if server is None:
            why = "its server (tunnel address %s) is not in this run" % (target or "unknown")
        elif server["why"] is None:
            continue
        else:
            why = "its server %s did not switch: %s" % (server["unit"], server["why"])
        if client.get("peer_notices"):
            held.append({"unit": client["unit"], "name": client.get("name"),
                         "why": "held back, keeps a config its server accepts: %s" % why})
    return held


def batch_halt_reason(outcomes, phase, max_fail_percentage):
    """Why the later batches of a phase must not run (Ansible's max_fail_percentage, kept by us).

    Hosts whose switch fails are rescued, so that the fleet report is written on every run; the
    batch's failure share is therefore checked here: above ``max_fail_percentage`` percent of
    the batch failed in this phase, the rest of the fleet is held back. Empty when it may go on.
    """
    outcomes = [outcome or {} for outcome in outcomes or []]
    failed = [outcome for outcome in outcomes if outcome.get("phase") == phase and outcome.get("result") == "failed"]
    if not outcomes or 100.0 * len(failed) / len(outcomes) <= float(max_fail_percentage):
        return ""
    return "%d of %d hosts of an earlier batch failed in the %s phase (more than %s%%)" % (
        len(failed), len(outcomes), phase, max_fail_percentage)


def report_notes(outcome, held_clients):
    """What enable_dco did to a host, as notes for the fleet report (``_fleet_report.rows``).

    ``outcome`` is the host's ``{"phase", "result", "reason", "units"}`` when it failed or was
    held back (no units: every instance of the host); ``held_clients`` the clients it kept on
    their config because their server did not switch. Only failures are problems.
    """
    notes = []
    if outcome:
        if outcome.get("result") == "held_back":
            text = "held back by enable_dco in the %s phase: %s" % (outcome.get("phase"), outcome.get("reason"))
        elif outcome.get("phase") == "build":
            text = "not switched by enable_dco, the module build failed: %s" % outcome.get("reason")
        else:
            text = "rolled back to userspace by enable_dco: %s" % outcome.get("reason")
        failed = outcome.get("result") == "failed"
        notes += [{"unit": unit, "why": text, "problem": failed} for unit in outcome.get("units") or [None]]
        if outcome.get("units"):
            # The host's other instances were not tried: enable_dco stops on a failed host.
            notes.append({"unit": None, "why": "not switched: enable_dco stopped on this host when its %s phase failed"
                          % outcome.get("phase"), "problem": failed})
    notes += [{"unit": held["unit"], "why": held["why"], "problem": False} for held in held_clients or []]
    return notes


def run_summary(fleet):
    """What a run did per host, for ``set_stats`` (the next node of an AWX workflow).

    ``fleet`` maps each host of the run to its ``switched`` units, ``held_clients`` and
    ``outcome`` (see server_table); every host gets ``result``: ``switched``, ``unchanged``,
    ``failed`` or ``held_back``, with the phase and reason where there is one.
    """
    summary = {}
    for host_name in sorted(fleet or {}):
        facts = fleet[host_name] or {}
        outcome = facts.get("outcome") or {}
        switched = list(facts.get("switched") or [])
        entry = {"result": outcome.get("result") or ("switched" if switched else "unchanged"),
                 "switched": switched,
                 "held_back_clients": [held["unit"] for held in facts.get("held_clients") or []]}
        if outcome:
            entry.update(phase=outcome.get("phase"), reason=outcome.get("reason"))
        summary[host_name] = entry
    return summary


def plan_line(entry):
    """One line of the preflight plan, from a config check result or an unmanaged instance."""
    if "why" in entry:
        return "%s: left alone, %s" % (entry["name"], entry["why"])
    instance = entry.get("item") or {}
    name = instance.get("name", "?")
    blocked = stays_in_userspace(entry)
    edits = entry.get("edits") or []
    if blocked:
        return "%s: stays in userspace, %s" % (name, blocked)
    if not edits:
        return "%s (%s): config already DCO-ready; restart to open a DCO device" % (name, instance.get("config"))
    return "%s (%s): %d edit(s): %s" % (name, instance.get("config"), len(edits), "; ".join(
        "%s [%s]" % (edit.get("after") or "remove '%s'" % edit.get("before"), edit.get("impact")) for edit in edits))


def outage_line(outage):
    seconds = outage.get("longest_outage_s")
    return "%s -> %s %s" % (outage.get("unit"), outage.get("target"),
                            "no answer at all" if outage.get("probes_answered") == 0 else "%.1f s" % (seconds or 0.0))


def mark_rolled_back(tunnels, units, reason):
    """The tunnel_info result after a rollback, each rolled-back instance carrying the reason
    (``access-server`` among ``units``: every Access Server device)."""
    marked = dict(tunnels or {}, instances=[])
    for instance in (tunnels or {}).get("instances") or []:
        if instance.get("unit") in units or (ACCESS_SERVER_UNIT in units and instance.get("manager") == ACCESS_SERVER):
            problem = "rolled back to userspace by enable_dco: %s" % reason
            instance = dict(instance, healthy=False, problems=list(instance.get("problems") or []) + [problem])
        marked["instances"].append(instance)
    marked["healthy"] = all(instance.get("healthy") for instance in marked["instances"])
    return marked
