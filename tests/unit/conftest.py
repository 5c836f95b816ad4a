# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import json

import pytest
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args


class ModuleExit(Exception):
    """What a module passed to exit_json or fail_json, and which of the two."""

    def __init__(self, failed, result):
        super().__init__(json.dumps(result, default=str))
        self.failed = failed
        self.result = result


@pytest.fixture
def run_module(monkeypatch):
    """Run a module's main() with arguments; return (failed, result)."""

    def exit_json(self, **result):
        raise ModuleExit(False, result)

    def fail_json(self, msg, **result):
        result["msg"] = msg
        raise ModuleExit(True, result)

    monkeypatch.setattr(basic.AnsibleModule, "exit_json", exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", fail_json)

    def run(main, args=None, check_mode=False):
        args = dict(args or {})
        if check_mode:
            args["_ansible_check_mode"] = True
        with patch_module_args(args):
            try:
                main()
            except ModuleExit as done:
                return done.failed, done.result
        raise AssertionError("the module returned without exit_json or fail_json")

    return run
