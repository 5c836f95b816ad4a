# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters behind the enable_dco and disable_dco playbooks: what to switch, and the health gate."""

from __future__ import annotations

from ansible_collections.ovpnfleet.dco.plugins.plugin_utils import _rollout


def _server_table(hosts, hostvars):
    """rollout_server_table over the hosts of the run, read from hostvars (what each host's
    servers phase left: dco_before, dco_switched_units, dco_outcome)."""
    fleet = {}
    for name in hosts or []:
        facts = hostvars[name] if name in hostvars else {}
        fleet[name] = {"before": facts.get("dco_before"), "switched": facts.get("dco_switched_units"),
                       "outcome": facts.get("dco_outcome")}
    return _rollout.server_table(fleet)


def _report_notes(hosts, hostvars):
    """rollout_report_notes for every host of the run that has any, read from hostvars."""
    notes = {}
    for name in hosts or []:
        facts = hostvars[name] if name in hostvars else {}
        found = _rollout.report_notes(facts.get("dco_outcome"), facts.get("dco_held_clients"))
        if found:
            notes[name] = found
    return notes


def _run_summary(hosts, hostvars):
    """rollout_run_summary over the hosts of the run, read from hostvars."""
    fleet = {}
    for name in hosts or []:
        facts = hostvars[name] if name in hostvars else {}
        fleet[name] = {"switched": facts.get("dco_switched_units"), "held_clients": facts.get("dco_held_clients"),
                       "outcome": facts.get("dco_outcome")}
    return _rollout.run_summary(fleet)


class FilterModule:
    def filters(self):
        return {
            "rollout_dco_possible": lambda tunnels: _rollout.dco_possible(tunnels)[0],
            "rollout_why_not": lambda tunnels: _rollout.dco_possible(tunnels)[1],
            "rollout_candidates": _rollout.switch_candidates,
            "rollout_offloaded_units": _rollout.offloaded_units,
            "rollout_unmanaged": _rollout.unmanaged_instances,
            "rollout_stays_in_userspace": _rollout.stays_in_userspace,
            "rollout_switch_order": _rollout.switch_order,
            "rollout_gate_failures": _rollout.gate_failures,
            "rollout_probe_targets": _rollout.probe_targets,
            "rollout_ping_outage": _rollout.ping_outage,
            "rollout_plan_line": _rollout.plan_line,
            "rollout_outage_line": _rollout.outage_line,
            "rollout_mark_rolled_back": _rollout.mark_rolled_back,
            "rollout_server_table": _server_table,
            "rollout_held_back_clients": _rollout.held_back_clients,
            "rollout_batch_halt_reason": _rollout.batch_halt_reason,
            "rollout_report_notes": _report_notes,
            "rollout_run_summary": _run_summary,
        }
