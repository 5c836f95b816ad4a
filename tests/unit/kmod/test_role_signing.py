# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The kmod role's signing: modules signed with one key never come out of the cache for another.

Found while writing the lab Secure Boot run: a second run with a new key would find the module the first run had
signed with the old key in the controller cache (the cache path named source, version and arch
only), install it, and after the new key's enrolment the kernel would refuse it.
"""

from __future__ import annotations

import os
import re

import yaml

ROLE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "roles", "kmod")


def tasks(name):
    with open(os.path.join(ROLE, "tasks", name)) as handle:
        return yaml.safe_load(handle)


def _set_facts(task_list):
    merged = {}
    for task in task_list:
        merged.update(task.get("ansible.builtin.set_fact") or {})
    return merged


def test_cache_path_of_signed_modules_names_the_key():
    root = _set_facts(tasks("locate.yml"))["kmod_artifact_root"]
    assert "kmod_signing_suffix" in root
    mok = tasks("mok.yml")
    facts = _set_facts(mok)
    assert "fingerprint_sha256" in facts["kmod_signing_suffix"]
    # The build group too: hosts trusting different keys must not share a builder.
    assert "fingerprint_sha256" in facts["kmod_build_key"]


def test_fingerprint_is_checked_before_it_becomes_a_path():
    mok = tasks("mok.yml")
    names = [task.get("name", "") for task in mok]
    check = next(i for i, task in enumerate(mok) if "ansible.builtin.assert" in task)
    suffix = next(i for i, task in enumerate(mok) if "kmod_signing_suffix" in (task.get("ansible.builtin.set_fact") or {}))
    assert check < suffix, names
    (condition,) = mok[check]["ansible.builtin.assert"]["that"]
    pattern = re.search(r"match\('(.*)'\)", condition).group(1).replace("\\\\", "\\")
    assert re.match(pattern, "ab" * 32) and not re.match(pattern, "../../etc") and not re.match(pattern, "ab" * 32 + "\n")


def test_module_waits_unloaded_until_the_key_is_enrolled():
    (wait,) = [task for task in tasks("mok.yml") if "kmod_load" in (task.get("ansible.builtin.set_fact") or {})]
    assert wait["ansible.builtin.set_fact"]["kmod_load"] is False
    assert "console_action" in wait["ansible.builtin.set_fact"]["kmod_warnings"]
    assert "kmod_mok.mok_state != 'enrolled'" in wait["when"]
