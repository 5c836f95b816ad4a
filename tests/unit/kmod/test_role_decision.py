# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The kmod role sequences the kmod module's decision and re-derives none of it (issue 17)."""

from __future__ import annotations

import os
import re

import yaml

from ansible_collections.ovpnfleet.dco.plugins.module_utils.kmod._plan import PATH_COMPONENT

ROLE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "roles", "kmod")


def tasks(name):
    with open(os.path.join(ROLE, "tasks", name)) as handle:
        return yaml.safe_load(handle)


def test_preflight_asks_the_module_and_decides_nothing_in_jinja():
    preflight = tasks("preflight.yml")
    (ask,) = [task for task in preflight if "ovpnfleet.dco.kmod" in task]
    assert ask["ovpnfleet.dco.kmod"]["decide_only"] is True
    assert ask["check_mode"] is True
    text = yaml.safe_dump(preflight)
    # The old rule lived here: 'inkernel' if recommendation.method == 'inkernel' else 'source'.
    assert "recommendation" not in text and "else 'source'" not in text and "host_info" not in text
    (taken,) = [task for task in preflight if task.get("name") == "Take the module's decision"]
    assert all(value.strip().startswith("{{ decision.") for value in taken["ansible.builtin.set_fact"].values()
               if value), taken


def test_controller_checks_names_with_the_modules_rule():
    with open(os.path.join(ROLE, "vars", "main.yml")) as handle:
        pattern = yaml.safe_load(handle)["kmod_path_component_pattern"]
    assert pattern == PATH_COMPONENT.pattern
    # As the role applies it: re.match with \\Z, so a trailing newline does not pass.
    for bad in ("../../etc", "6.1.0-56-amd64\n", "x86_64/..", ".hidden", "-k", ""):
        assert not re.match(pattern + r"\Z", bad)
    assert re.match(pattern + r"\Z", "6.12.118+deb13-amd64")


def test_controller_paths_come_only_from_checked_names():
    # kmod_artifact_root and the cache paths are built from these facts, all checked in preflight.
    checked = {"kmod_kernels", "kmod_arch", "kmod_flavour_resolved", "kmod_module_file",
               "kmod_signing_suffix"}  # mok.yml: checked 64 hex digits (test_role_signing.py)
    locate = yaml.safe_dump(tasks("locate.yml"))
    root = re.search(r"kmod_artifact_root: (.*)", locate).group(1)
    assert set(re.findall(r"kmod_\w+", root)) - {"kmod_cache_dir"} <= checked
    assert "kmod_host" not in locate + yaml.safe_dump(tasks("install.yml"))
