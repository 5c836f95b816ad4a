# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The variable table: survey answers (strings) and -e values become their types, wrong ones are
refused naming the variable, and the survey JSON, the playbooks and the roles agree with it."""

from __future__ import annotations

import json
import os
import re

import pytest
import yaml

from ansible_collections.ovpnfleet.dco.plugins.plugin_utils import _survey

TOP = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..")


def _read(*parts):
    with open(os.path.join(TOP, *parts), encoding="utf-8") as handle:
        return handle.read()


@pytest.mark.parametrize("raw, expected", [
    ("[1, '30%', '100%']", [1, "30%", "100%"]),
    ('[1, "30%", "100%"]', [1, "30%", "100%"]),
    ("[1, 30%, 100%]", [1, "30%", "100%"]),
    ("1,30%,100%", [1, "30%", "100%"]),
    (" 1 , 30% ,100% ", [1, "30%", "100%"]),
    ("5", [5]),
    ("50%", ["50%"]),
    (3, [3]),
    ([1, "30%", "100%"], [1, "30%", "100%"]),
    (["2", "100%"], [2, "100%"]),
])
def test_dco_serial_in_every_form_becomes_a_batch_list(raw, expected):
    assert _survey.normalize({"dco_serial": raw}, "enable_dco") == {"dco_serial": expected}


@pytest.mark.parametrize("raw", ["1,,100%", "0", "0%", "101%", "-1", "abc", "1;30%", "[]", "1.5", "30 %",
                                 [1, 2.5], [True], {"a": 1}, 0, False, "[1, '30%'"])
def test_a_bad_dco_serial_is_refused_naming_it(raw):
    with pytest.raises(_survey.SurveyError) as caught:
        _survey.normalize({"dco_serial": raw}, "enable_dco")
    message = str(caught.value)
    assert "dco_serial is " in message
    assert "expected batch sizes" in message
    assert message.startswith("check the variables of enable_dco before any change: ")


@pytest.mark.parametrize("variable, raw, expected", [
    ("dco_gate_timeout", "240", 240),
    ("dco_gate_timeout", " 240 ", 240),
    ("dco_gate_timeout", 240, 240),
    ("dco_gate_timeout", 240.0, 240),
    ("dco_max_fail_percentage", "0", 0),
    ("dco_max_unhealthy_hosts", "-1", -1),
    ("dco_probe_interval", "0.5", 0.5),
    ("dco_probe_interval", "1", 1.0),
    ("dco_probe_interval", 2, 2.0),
    ("dco_allow_breaking", "true", True),
    ("dco_allow_breaking", "Yes", True),
    ("dco_allow_breaking", "off", False),
    ("dco_allow_breaking", "0", False),
    ("dco_allow_breaking", False, False),
    ("dco_allow_breaking", 1, True),
    ("dco_hosts", "servers:&debian12", "servers:&debian12"),
    ("dco_report_dir", "/srv/reports/dco", "/srv/reports/dco"),
    ("kmod_method", "dkms", "dkms"),
])
def test_good_values_become_their_type(variable, raw, expected):
    result = _survey.normalize({variable: raw}, "enable_dco")
    assert result == {variable: expected}
    assert type(result[variable]) is type(expected)


@pytest.mark.parametrize("variable, raw, expected", [
    ("dco_gate_timeout", "abc", "a whole number from 1 to 86400"),
    ("dco_gate_timeout", "0", "a whole number from 1 to 86400"),
    ("dco_gate_timeout", "2.5", "a whole number from 1 to 86400"),
    ("dco_gate_timeout", True, "a whole number from 1 to 86400"),
    ("dco_max_fail_percentage", "101", "a whole number from 0 to 100"),
    ("dco_probe_interval", "fast", "a number from 0.01 to 10.0"),
    ("dco_probe_interval", "nan", "a number from 0.01 to 10.0"),
    ("dco_probe_interval", "0", "a number from 0.01 to 10.0"),
    ("dco_allow_breaking", "maybe", "true or false"),
    ("dco_allow_breaking", 2, "true or false"),
    ("dco_hosts", "web servers", "a host pattern"),
    ("dco_hosts", ["web"], "a host pattern"),
    ("dco_report_dir", "dco-report", "an absolute path"),
    ("dco_report_dir", "/srv/a\nb", "an absolute path"),
    ("kmod_method", "magic", "one of auto, inkernel, package, dkms, source"),
])
def test_bad_values_are_refused_naming_the_variable_and_what_it_expects(variable, raw, expected):
    with pytest.raises(_survey.SurveyError) as caught:
        _survey.normalize({variable: raw}, "enable_dco")
    assert "%s is %r: expected %s" % (variable, raw, expected) in str(caught.value)


def test_every_bad_variable_is_named_in_one_message():
    with pytest.raises(_survey.SurveyError) as caught:
        _survey.normalize({"dco_serial": "x", "dco_gate_delay": "soon", "dco_hosts": "all"}, "disable_dco")
    message = str(caught.value)
    assert "dco_serial is 'x'" in message and "dco_gate_delay is 'soon'" in message
    assert "dco_hosts" not in message
    assert message.endswith("Nothing was changed; correct them and run again.")


def test_a_long_value_is_cut_in_the_message():
    with pytest.raises(_survey.SurveyError) as caught:
        _survey.normalize({"dco_gate_delay": "9" * 500}, "disable_dco")
    assert "9" * 100 not in str(caught.value)


def test_empty_answers_and_unknown_names_are_left_out():
    raw = {"dco_report_dir": "", "kmod_cache_dir": None, "dco_phase": "servers", "dco_gate_delay": " "}
    assert _survey.normalize(raw, "enable_dco") == {}


def test_defaults_fill_what_was_not_given():
    result = _survey.normalize({"dco_serial": "2"}, "disable_dco", defaults=True)
    assert result == {"dco_hosts": "all", "dco_serial": [2], "dco_max_fail_percentage": 20,
                      "dco_gate_timeout": 180, "dco_gate_delay": 5}


def test_a_variable_of_another_playbook_is_not_checked():
    assert _survey.normalize({"dco_allow_breaking": "maybe"}, "disable_dco") == {}


@pytest.mark.parametrize("name", ["enable_dco", "enable_dco.yml", "playbooks/enable_dco.yml", "ovpnfleet.dco.enable_dco"])
def test_playbook_names(name):
    assert _survey.playbook_name(name) == "enable_dco"


def test_an_unknown_playbook_is_refused_with_the_known_ones():
    with pytest.raises(_survey.SurveyError, match="unknown playbook; known are enable_dco, check_health"):
        _survey.normalize({}, "site")


def test_values_that_are_not_a_dict_are_refused():
    with pytest.raises(_survey.SurveyError, match="expected a dict of variable names and values, got list"):
        _survey.normalize(["dco_serial"], "enable_dco")


@pytest.mark.parametrize("playbook", _survey.PLAYBOOKS)
def test_the_survey_json_is_the_table(playbook):
    on_disk = json.loads(_read("awx", "surveys", playbook + ".json"))
    assert on_disk == _survey.survey_spec(playbook), "run python3 awx/generate_surveys.py"


@pytest.mark.parametrize("playbook", _survey.PLAYBOOKS)
def test_every_survey_default_passes_the_check(playbook):
    spec = _survey.survey_spec(playbook)
    answers = {question["variable"]: question["default"] for question in spec["spec"]}
    result = _survey.normalize(answers, playbook)
    for variable, table in _survey.variables(playbook):
        if table["default"] is not None:
            assert result[variable] == table["default"]
        for question in spec["spec"]:
            if question["variable"] == variable and question["type"] == "multiplechoice":
                assert str(question["default"]) in question["choices"]


@pytest.mark.parametrize("playbook", _survey.PLAYBOOKS)
def test_every_variable_the_playbook_defaults_is_a_question(playbook):
    # A variable with `| default(...)` in a playbook is one an operator sets: it needs a question.
    text = _read("playbooks", playbook + ".yml")
    if "ovpnfleet.dco.rollout" in text:
        # The rollout role's tasks run as the playbook's own (its defaults are the playbook's).
        for name in sorted(os.listdir(os.path.join(TOP, "roles", "rollout", "tasks"))):
            text += _read("roles", "rollout", "tasks", name)
    used = set(re.findall(r"\b((?:dco|kmod|health)_[a-z0-9_]+) \| default\(", text))
    # Facts the playbook sets itself (set_fact keys, vars, register) and those the kmod role sets.
    assigned = set(re.findall(r"^\s*-?\s*((?:dco|kmod|health)_[a-z0-9_]+):", text, re.MULTILINE))
    assigned |= set(re.findall(r"register: ((?:dco|kmod|health)_[a-z0-9_]+)", text))
    for name in os.listdir(os.path.join(TOP, "roles", "health", "tasks")):
        assigned |= set(re.findall(r"register: (health_[a-z0-9_]+)", _read("roles", "health", "tasks", name)))
    roles_kmod = os.path.join(TOP, "roles", "kmod", "tasks")
    for name in os.listdir(roles_kmod):
        with open(os.path.join(roles_kmod, name), encoding="utf-8") as handle:
            assigned |= set(re.findall(r"^\s*-?\s*(kmod_[a-z0-9_]+):", handle.read(), re.MULTILINE))
    assigned |= {"dco_rollback_reason", "dco_outages"}
    used -= assigned
    asked = {variable for variable, _spec in _survey.variables(playbook)}
    assert used <= asked, used - asked


def test_defaults_agree_with_the_playbook_vars_and_the_roles():
    rollout = yaml.safe_load(_read("roles", "rollout", "defaults", "main.yml"))
    health = yaml.safe_load(_read("roles", "health", "defaults", "main.yml"))
    kmod = yaml.safe_load(_read("roles", "kmod", "defaults", "main.yml"))
    for playbook in _survey.PLAYBOOKS:
        for variable, spec in _survey.variables(playbook):
            for source in (rollout, health, kmod):
                if variable in source and spec["default"] is not None and "{{" not in str(source[variable]):
                    assert spec["default"] == source[variable], (playbook, variable)


def test_module_sources_are_the_pinned_ones():
    pinned = yaml.safe_load(_read("kmod", "sources.yml"))["ovpn_dco_sources"]
    for playbook in ("enable_dco", "upgrade_kmod"):
        spec = dict(_survey.variables(playbook))["kmod_source"]
        assert set(spec["choices"]) == {"auto"} | set(pinned)
        assert spec["default"] in spec["choices"]
