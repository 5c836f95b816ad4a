# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared ``attributes`` documentation for the collection's modules."""

from __future__ import annotations


class ModuleDocFragment:
    # Use together with INFO_MODULE or ACTIONGROUP-free modules that change things.
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
"""

    INFO_MODULE = r"""
options: {}
attributes:
  check_mode:
    support: full
    details:
      - This module only reads state, so it runs normally in check mode.
  diff_mode:
    support: N/A
    details:
      - This module does not change anything, so there is no diff.
"""
