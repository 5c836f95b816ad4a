# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""access_server and access_server_info, replayed against the case tables in
tests/unit/fixtures/access_server/: each case lists every command the module must run, in order.

The outputs there are constructed from Access Server's documented formats; no real Access
Server produced them (see that directory's README.md).
"""

from __future__ import annotations

import json
import os

import pytest
import yaml
from ansible.module_utils import basic

from ansible_collections.ovpnfleet.dco.plugins.module_utils.access_server import _server as _access_server
from ansible_collections.ovpnfleet.dco.plugins.modules import access_server, access_server_info

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "access_server")
SECRET = "CONSTRUCTED-NOT-A-SECRET-7f3c"


def _cases(name):
    with open(os.path.join(FIXTURES, name), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _answer(command):
    out = command.get("out", "")
    if "out_file" in command:
        with open(os.path.join(FIXTURES, command["out_file"]), encoding="utf-8") as handle:
            out = handle.read()
    return command.get("rc", 0), out, command.get("err", "")


class ScriptedHost:
    """Stands in for the command seam and the clock: answers exactly the scripted commands."""

    def __init__(self, commands):
        self.expected = list(commands)
        self.ran = []
        self.clock = 0.0

    def run(self, argv):
        assert self.expected, "unexpected command after the script ended: %s" % argv
        command = self.expected.pop(0)
        assert list(argv) == command["argv"], "ran %s, the case expects %s" % (argv, command["argv"])
        self.ran.append(list(argv))
        return _answer(command)

    def sleep(self, seconds):
        assert seconds >= 0
        self.clock += seconds


@pytest.fixture
def scripted(monkeypatch):
    def install(commands):
        host = ScriptedHost(commands)
        monkeypatch.setattr(_access_server.AccessServerHost, "_run_command", lambda _self, argv: host.run(argv))
        monkeypatch.setattr(_access_server.AccessServerHost, "_now", staticmethod(lambda: host.clock))
        monkeypatch.setattr(_access_server.AccessServerHost, "_sleep", staticmethod(host.sleep))
        return host
    return install


@pytest.fixture
def warnings(monkeypatch):
    seen = []
    monkeypatch.setattr(basic.AnsibleModule, "warn", lambda self, text: seen.append(text))
    return seen


def _run(run_module, scripted, main, case):
    host = scripted(case["commands"])
    args = dict(case.get("args") or {})
    if case.get("diff"):
        args["_ansible_diff"] = True
    failed, result = run_module(main, args, check_mode=case.get("check_mode", False))
    assert host.expected == [], "commands the module did not run: %s" % [c["argv"] for c in host.expected]
    return host, failed, result


FAILURE_KEYS = {"msg", "cmd", "rc", "stdout", "stderr"}


def _assert_documented(module, failed, result):
    # Ansible reads skipped, failed, results... itself: nothing undocumented may slip in.
    if failed:
        assert set(result) <= FAILURE_KEYS and isinstance(result["msg"], str)
    else:
        assert set(result) <= set(yaml.safe_load(module.RETURN)) | {"changed", "diff"}
        assert isinstance(result["changed"], bool)


def _assert_subset(expected, result):
    for key, value in expected.items():
        assert key in result, "%s missing from %s" % (key, sorted(result))
        assert result[key] == value, "%s: %r, the case expects %r" % (key, result[key], value)


@pytest.mark.parametrize("case", _cases("cases-access_server.yaml"), ids=lambda case: case["id"])
def test_access_server(run_module, scripted, warnings, case):
    host, failed, result = _run(run_module, scripted, access_server.main, case)
    assert failed == case.get("failed", False), result
    _assert_documented(access_server, failed, result)
    if failed:
        assert case["msg_contains"] in result["msg"]
    _assert_subset(case.get("result") or {}, result)
    for expected in case.get("warnings") or []:
        assert any(expected in text for text in warnings), "no warning says %r: %s" % (expected, warnings)
    if case.get("warnings") == []:
        assert warnings == []
    assert SECRET not in json.dumps(result) + " ".join(warnings)


@pytest.mark.parametrize("case", _cases("cases-access_server_info.yaml"), ids=lambda case: case["id"])
def test_access_server_info(run_module, scripted, case):
    host, failed, result = _run(run_module, scripted, access_server_info.main, case)
    assert not failed, result
    _assert_documented(access_server_info, failed, result)
    assert result["changed"] is False
    _assert_subset(case.get("result") or {}, result)
    for expected in case.get("problems_contain") or []:
        assert any(expected in text for text in result["problems"]), \
            "no problem says %r: %s" % (expected, result["problems"])
    assert SECRET not in json.dumps(result)


def _sacli(*args):
    return [_access_server.SACLI] + list(args)


def test_start_runs_only_after_a_change(run_module, scripted, warnings):
    # The same converged host twice over: neither run may write the key or restart AS.
    case = next(c for c in _cases("cases-access_server.yaml") if c["id"] == "as_3_1_already_on")
    for attempt in ("first run", "second run"):
        host, failed, result = _run(run_module, scripted, access_server.main, case)
        assert not failed and result["changed"] is False, attempt
        assert _sacli("start") not in host.ran, attempt
        assert not any(argv[-1] == "ConfigPut" for argv in host.ran), attempt


def test_a_case_that_expects_no_restart_fails_when_the_module_restarts(run_module, scripted):
    # The harness itself must catch a stray sacli start: script a converged host, then make
    # the plan claim a change.
    case = next(c for c in _cases("cases-access_server.yaml") if c["id"] == "as_3_1_already_on")
    scripted(case["commands"])
    original = _access_server.plan_dco
    try:
        _access_server.plan_dco = lambda wanted, raw, default: "true"
        with pytest.raises(AssertionError, match="unexpected command|ran .*ConfigPut"):
            run_module(access_server.main, case["args"])
    finally:
        _access_server.plan_dco = original


@pytest.mark.parametrize("args, message", [
    ({}, "missing required arguments: dco"),
    ({"dco": "on"}, "value of dco must be one of: enabled, disabled"),
    ({"dco": "enabled", "timeout": -1}, "check timeout: -1 is negative"),
])
def test_bad_arguments_are_refused_before_any_command(run_module, scripted, args, message):
    scripted([])
    failed, result = run_module(access_server.main, args)
    assert failed
    assert message in result["msg"]
