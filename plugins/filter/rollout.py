# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters behind the rollout role: the plan of a host, the health gates (its own units', Access
Server's), and the fleet views."""

from __future__ import annotations

from ansible_collections.ovpnfleet.dco.plugins.plugin_utils import _rollout, _rollout_plan


class FilterModule:
    def filters(self):
        return {
            "rollout_plan": _rollout_plan.host_plan,
            "rollout_gate_failures": _rollout.gate_failures,
            "rollout_access_server_gate_failures": _rollout.access_server_gate_failures,
            "rollout_outages": _rollout_plan.outages,
            "rollout_mark_rolled_back": _rollout.mark_rolled_back,
            "rollout_clients": _rollout_plan.client_phase,
            "rollout_reconnect_clients": _rollout_plan.reconnect_clients,
            "rollout_batch_halt_reason": _rollout_plan.batch_halt_reason,
            "rollout_report": _rollout_plan.report,
        }
