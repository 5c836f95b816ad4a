# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""survey_vars as a playbook calls it: through Jinja, failing the task with the variable's name."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.ovpnfleet.dco.plugins.filter import survey_vars


def test_the_filter_is_registered():
    assert survey_vars.FilterModule().filters()["survey_vars"] is survey_vars.survey_vars


def test_survey_strings_become_typed_values():
    raw = {"dco_serial": "[1, '30%', '100%']", "dco_gate_timeout": "240", "dco_allow_breaking": "false"}
    assert survey_vars.survey_vars(raw, "ovpnfleet.dco.enable_dco") == {
        "dco_serial": [1, "30%", "100%"], "dco_gate_timeout": 240, "dco_allow_breaking": False}


def test_a_bad_value_is_a_filter_error_naming_the_variable():
    with pytest.raises(AnsibleFilterError) as caught:
        survey_vars.survey_vars({"dco_serial": "1,abc"}, "enable_dco")
    assert "dco_serial is '1,abc': expected batch sizes" in str(caught.value)


def _playbook(tmp_path, extra_vars):
    """Run a one-task playbook that calls the filter as enable_dco would; return (rc, output)."""
    playbook = tmp_path / "check.yml"
    playbook.write_text(
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n"
        "    - ansible.builtin.debug:\n"
        "        msg: \"{{ {'dco_serial': dco_serial} | ovpnfleet.dco.survey_vars('enable_dco', defaults=true) | to_json }}\"\n")
    command = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,", "-c", "local",
               str(playbook), "-e", json.dumps(extra_vars)]
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=120,
                          env=dict(os.environ, ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1"))
    return done.returncode, done.stdout + done.stderr


def test_a_playbook_gets_typed_values_from_survey_strings(tmp_path):
    rc, output = _playbook(tmp_path, {"dco_serial": "[1, '30%', '100%']"})
    assert rc == 0, output
    assert '\\"dco_serial\\": [1, \\"30%\\", \\"100%\\"]' in output
    assert '\\"dco_gate_timeout\\": 180' in output


def test_a_playbook_stops_at_a_bad_value_naming_it(tmp_path):
    rc, output = _playbook(tmp_path, {"dco_serial": "1,abc"})
    assert rc != 0
    assert "dco_serial is '1,abc': expected batch sizes" in output
