# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""No module returns a key Ansible reserves, or gives one of them another meaning.

A module that returns ``skipped`` shows as skipped and its handlers never run although it wrote
a file; ``failed`` or a non-zero ``rc`` fails the task; a ``msg`` or ``warnings`` that are not
strings break the callback. Checked twice: every key each module documents in RETURN, and every
result the module unit tests make a module return (recorded in a pytest run of those tests with
this file loaded as a plugin), plus scenarios of our own for modules without unit tests.
"""

from __future__ import annotations

import ast
import glob
import json
import os
import subprocess
import sys

import pytest
import yaml
from ansible.module_utils import basic

from ansible_collections.ovpnfleet.dco.plugins.module_utils._probe import RC_NOT_FOUND, CommandResult
from ansible_collections.ovpnfleet.dco.tests.unit.host_probes import ReplayProbe, load_fixture, without_access_server
from ansible_collections.ovpnfleet.dco.tests.unit.tunnel_hosts import ReplayTunnelHost

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", "..", ".."))
MODULES_DIR = os.path.join(ROOT, "plugins", "modules")
MODULES = sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(MODULES_DIR, "*.py")) if not p.endswith("__init__.py"))
FIXTURES = os.path.join(HERE, "..", "..", "fixtures")
LOG_ENV = "OVPNFLEET_RESULT_KEYS_LOG"
PLUGIN = "ansible_collections.ovpnfleet.dco.tests.unit.plugins.modules.test_result_keys"

# Keys ansible-core (2.19) reads in a module's result, and where (paths in ansible-core's
# lib/ansible/): executor/task_result.py (_IGNORE, _PRESERVE, is_skipped, is_changed, is_failed),
# executor/task_executor.py (failed from rc, changed, ansible_facts, async, loops, *_when_result),
# plugins/action/__init__.py (results, stdout_lines, module_stdout), vars/clean.py
# (remove_internal_keys: _ansible_*, constants.INTERNAL_RESULT_KEYS), module_utils/basic.py
# (_return_formatted: invocation, warnings, deprecations), plugins/callback/__init__.py (diff).
# Value: "never" - a module must not return it; otherwise the rule it must follow.
RESERVED = {
    "skipped": "never",
    "failed": "fail_json only",
    "changed": "bool",
    "msg": "str",
    "warnings": "list of str",
    "deprecations": "list of str",
    "results": "never",
    "invocation": "never",
    "ansible_facts": "facts modules only",
    "rc": "command failures only",
    "stdout": "command failures only",
    "stderr": "command failures only",
    "diff": "diff shape",
    "exception": "never",
    "attempts": "never",
    "retries": "never",
    "add_host": "never",
    "add_group": "never",
    "ansible_job_id": "never",
    "finished": "never",
    "started": "never",
    "failed_when_result": "never",
    "changed_when_result": "never",
    "item": "never",
    "ansible_loop_var": "never",
    "ansible_index_var": "never",
    "module_stdout": "never",
    "module_stderr": "never",
    "stdout_lines": "never",
    "stderr_lines": "never",
}
# None of ours set facts: the _info modules return their data under their own keys.
FACTS_MODULES = frozenset()
DIFF_KEYS = {"before", "after", "before_header", "after_header"}


def _is_str_list(value):
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _is_diff(value):
    diffs = value if isinstance(value, list) else [value]
    return all(isinstance(diff, dict) and {"before", "after"} <= set(diff) and set(diff) <= DIFF_KEYS
               and all(isinstance(diff[key], str) for key in diff) for diff in diffs)


def violations(module, failed, result):
    """Each reserved key in ``result`` used against its meaning, as text."""
    found = []
    for key, value in result.items():
        rule = "never" if key.startswith("_ansible_") else RESERVED.get(key)
        if rule is None:
            continue
        ok = {
            "never": False,
            "fail_json only": failed and value is True,
            "bool": isinstance(value, bool),
            "str": isinstance(value, str),
            "list of str": _is_str_list(value),
            "facts modules only": module in FACTS_MODULES and isinstance(value, dict),
            "command failures only": failed and "cmd" in result,
            "diff shape": _is_diff(value),
        }[rule]
        if not ok:
            found.append("%s: %r (%s)" % (key, value, rule))
    if failed and not isinstance(result.get("msg"), str):
        found.append("msg: a failure needs a str msg, got %r" % (result.get("msg"),))
    if not failed and not isinstance(result.get("changed", False), bool):
        found.append("changed: %r (bool)" % (result.get("changed"),))
    return found


def _documented_return_keys(module):
    with open(os.path.join(MODULES_DIR, module + ".py"), encoding="utf-8") as handle:
        tree = ast.parse(handle.read())
    texts = [node.value.value for node in tree.body if isinstance(node, ast.Assign)
             and [getattr(target, "id", None) for target in node.targets] == ["RETURN"]]
    return yaml.safe_load(texts[0]) or {} if texts else {}


@pytest.mark.parametrize("module", MODULES)
def test_return_documents_no_reserved_key(module):
    keys = _documented_return_keys(module)
    assert keys, "%s documents no RETURN keys" % module
    reserved = sorted(key for key in keys if key in RESERVED or key.startswith("_ansible_"))
    assert reserved == [], "%s documents keys Ansible reserves: %s" % (module, reserved)


def test_the_checker_catches_each_misuse():
    assert violations("config", False, {"changed": True, "skipped": []})
    assert violations("config", False, {"changed": "yes"})
    assert violations("config", False, {"changed": False, "failed": False})
    assert violations("config", True, {"msg": ["a"]})
    assert violations("config", False, {"warnings": [{"msg": "x"}]})
    assert violations("config", False, {"rc": 0})
    assert violations("config", True, {"msg": "x", "rc": 1})
    assert violations("config", False, {"diff": {"before": "a"}})
    assert violations("config_info", False, {"ansible_facts": {}})
    assert violations("kmod", False, {"_ansible_no_log": True})
    assert not violations("kmod", True, {"msg": "x", "cmd": ["modprobe"], "rc": 1, "stdout": "", "stderr": "e"})
    assert not violations("config", False, {"changed": True, "diff": {"before": "a", "after": "b", "before_header": "p"}})


# The recording half: loaded with ``-p`` into a pytest run of the module tests, it wraps
# whatever exit_json/fail_json are in place once a test's fixtures are set up.
def _calling_module():
    frame = sys._getframe(2)
    while frame is not None:
        path = os.path.realpath(frame.f_code.co_filename)
        if os.path.dirname(path) == os.path.realpath(MODULES_DIR):
            return os.path.basename(path)[:-3]
        frame = frame.f_back
    return None


def _record(failed, result):
    line = json.dumps({"module": _calling_module(), "failed": failed, "result": result},
                      default=lambda value: {"unserializable": repr(value)})
    with open(os.environ[LOG_ENV], "a", encoding="utf-8") as handle:
        handle.write(line + "\n")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    if not os.environ.get(LOG_ENV):
        yield
        return
    exit_json, fail_json = basic.AnsibleModule.exit_json, basic.AnsibleModule.fail_json

    def recording_exit(self, **result):
        _record(False, dict(result))
        return exit_json(self, **result)

    def recording_fail(self, msg=None, **result):
        _record(True, dict(result, msg=msg))
        return fail_json(self, msg, **result)

    basic.AnsibleModule.exit_json, basic.AnsibleModule.fail_json = recording_exit, recording_fail
    try:
        yield
    finally:
        basic.AnsibleModule.exit_json, basic.AnsibleModule.fail_json = exit_json, fail_json


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    log = tmp_path_factory.mktemp("result-keys") / "results.jsonl"
    log.touch()
    tests = sorted(path for path in glob.glob(os.path.join(HERE, "test_*.py")) if path != os.path.abspath(__file__))
    env = dict(os.environ, **{LOG_ENV: str(log)})
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", PLUGIN, "-p", "no:cacheprovider"] + tests,
                          cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=600)
    results = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert results, "the module tests recorded no results:\n%s\n%s" % (done.stdout[-3000:], done.stderr[-3000:])
    return results


class _QuietHost:
    """A recorded host that answers questions it was never asked as a host without that thing
    would (no file, no command), so the scenario outlives changes to what tunnel_info asks."""

    def __init__(self, replay, absent):
        self._replay = replay
        self._absent = absent

    def __getattr__(self, name):
        method = getattr(self._replay, name)
        if not callable(method):
            return method

        def answer(*args):
            try:
                return method(*args)
            except AssertionError:
                return self._absent(name)
        return answer


def _absent(name):
    return {"run": CommandResult(RC_NOT_FOUND, "", "not recorded"), "exists": False, "listdir": None}.get(name)


def _own_scenarios(run_module, monkeypatch, module):
    """Successful runs of modules whose unit tests exercise only failures, or none at all."""
    # Imported here: a module that does not import fails its own case, not the static checks.
    from ansible_collections.ovpnfleet.dco.plugins.module_utils.kmod import _service as _kmod_service
    from ansible_collections.ovpnfleet.dco.plugins.modules import kmod, tunnel_info

    out = []
    hosts = (("debian12-dco", "debian12-fresh"), ("debian13-bpo-dco", "debian13-bpo-fresh"))
    for tunnels, facts in hosts:
        facts_probe = load_fixture(os.path.join(FIXTURES, "host_info", facts + ".json"))["probe"]
        if module == "kmod":
            for args in ({}, {"state": "absent"}, {"method": "package"}):
                # state absent also lists the kmod role's staged modules: none on these hosts.
                listdir = dict(facts_probe.get("listdir", {}), **{"/var/lib/ovpnfleet-dco/artifacts": None})
                probe = ReplayProbe(without_access_server(dict(facts_probe, run=dict(facts_probe["run"]),
                                                               listdir=listdir)))
                monkeypatch.setattr(_kmod_service, "ModuleProbe", lambda _module, probe=probe: probe)
                out.append(run_module(kmod.main, args, check_mode=True))
        elif module == "tunnel_info":
            fixture = load_fixture(os.path.join(FIXTURES, "tunnels", tunnels + ".json"))
            record = {kind: dict(answers) for kind, answers in facts_probe.items()}
            for kind, answers in fixture["probe"].items():
                record.setdefault(kind, {}).update(answers)
            replay = ReplayTunnelHost(fixture)
            replay.probe = _QuietHost(ReplayProbe(record), _absent)
            host = _QuietHost(replay, lambda name: None)
            monkeypatch.setattr(tunnel_info, "TunnelHost", lambda _probe, host=host: host)
            monkeypatch.setattr(tunnel_info, "ModuleProbe", lambda _module: None)
            out.append(run_module(tunnel_info.main, fixture["options"], check_mode=True))
    return [{"module": module, "failed": failed, "result": result} for failed, result in out]


@pytest.mark.parametrize("module", MODULES)
def test_results_use_no_reserved_key_against_its_meaning(module, recorded, run_module, monkeypatch):
    results = [entry for entry in recorded if entry["module"] == module]
    results += _own_scenarios(run_module, monkeypatch, module)
    assert [entry for entry in results if not entry["failed"]], "no successful %s result was exercised" % module
    found = ["%s result %d: %s" % ("failed" if entry["failed"] else "ok", number, problem)
             for number, entry in enumerate(results)
             for problem in violations(module, entry["failed"], entry["result"])]
    assert found == []
