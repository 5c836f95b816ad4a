# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""kmod_swap: who the kmod role stops while it swaps a loaded DCO module."""

from __future__ import annotations

from ansible_collections.ovpnfleet.dco.plugins.plugin_utils import _kmod_swap


class FilterModule:
    def filters(self):
        return {"kmod_swap": _kmod_swap.module_swap}
