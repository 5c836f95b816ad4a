# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""survey_vars: check and type a playbook's variables (survey answers, -e, inventory) before any change."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.ovpnfleet.dco.plugins.plugin_utils import _survey


def survey_vars(values, playbook, defaults=False):
    try:
        return _survey.normalize(values, playbook, defaults=defaults)
    except _survey.SurveyError as exc:
        raise AnsibleFilterError(str(exc)) from None


class FilterModule:
    def filters(self):
        return {"survey_vars": survey_vars}
