# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""upgrade_kmod restarts OpenVPN around loading a module that was not loaded.

On the lab, after the reboot into Debian's backports kernel OpenVPN 2.7 had started without
ovpn; upgrade_kmod loaded ovpn, restarted nothing (only a replace or unload did), passed its
gate (no tunnel had been in DCO) and left every tunnel in userspace. The role's condition is
rendered here with Jinja, as Ansible renders it.
"""

from __future__ import annotations

import os
import re

import jinja2
import pytest
import yaml

ROLES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "roles")


def load(*parts):
    with open(os.path.join(ROLES, *parts)) as handle:
        return yaml.safe_load(handle)


def restart_condition():
    (task,) = [task for task in load("kmod", "tasks", "install.yml")
               if "kmod_restart_openvpn" in (task.get("ansible.builtin.set_fact") or {})]
    return task["ansible.builtin.set_fact"]["kmod_restart_openvpn"]


def render(template, **values):
    env = jinja2.Environment()
    env.filters["bool"] = lambda value: value in (True, "true", "True", "yes", 1)
    env.tests["match"] = lambda value, pattern: re.match(pattern, value) is not None
    return env.from_string(template).render(**values).strip()


@pytest.mark.parametrize("steps, on_load, expected", [
    (["load ovpn", "persist ovpn in /etc/modules-load.d/ovpnfleet-dco.conf"], True, "True"),
    (["load ovpn"], False, "False"),
    (["replace the loaded ovpn_dco_v2 with the installed one"], False, "True"),
    (["persist ovpn in /etc/modules-load.d/ovpnfleet-dco.conf"], True, "False"),
])
def test_a_fresh_load_restarts_only_where_asked(steps, on_load, expected):
    values = dict(load("kmod", "defaults", "main.yml"), kmod_when_in_use="restart",
                  kmod_restart_on_load=on_load, kmod_plan={"steps": steps})
    assert render(restart_condition(), **values) == expected


def test_the_default_is_no_restart_on_load():
    assert load("kmod", "defaults", "main.yml")["kmod_restart_on_load"] is False


def test_upgrade_asks_for_it_and_the_switch_does_not():
    # enable_dco's switch restarts the units itself after their configs change: a second
    # restart there would only add downtime.
    upgrade = yaml.safe_dump(load("rollout", "tasks", "upgrade.yml"))
    assert "kmod_restart_on_load: true" in upgrade
    assert "kmod_restart_on_load" not in yaml.safe_dump(load("rollout", "tasks", "switch_host.yml"))
