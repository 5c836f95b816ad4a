# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters behind upgrade_kmod on OpenVPN Access Server hosts: what it does to AS, and AS's gate."""

from __future__ import annotations

from ansible_collections.ovpnfleet.dco.plugins.plugin_utils import _rollout_plan


class FilterModule:
    def filters(self):
        return {
            "rollout_access_server_upgrade": _rollout_plan.access_server_upgrade,
            "rollout_access_server_upgrade_gate_failures": _rollout_plan.access_server_upgrade_gate_failures,
        }
