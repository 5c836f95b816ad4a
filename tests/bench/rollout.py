# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Running enable_dco / disable_dco for the bench, and reading the outages enable_dco measured.

enable_dco pings each tunnel's far end while a unit switches and prints, per host, "down during
the switch: UNIT -> TARGET N.N s" (playbooks/enable_dco.yml, Fleet report); the bench reads
those lines instead of measuring a second way.
"""

from __future__ import annotations

import os
import re

from tests.bench import lab

HOST_MSG = re.compile(r'^ok: \[([^\]]+)\] => \{\s*\n\s*"msg": "(.*)"\s*\n\}', re.M)
OUTAGE = re.compile(r"(\S+) -> (\S+) (no answer at all|([0-9.]+) s)")


def playbook(name, report_dir, extra=(), forks=25, env_extra=None):
    argv = ["ansible-playbook", "-i", lab.INVENTORY, "-f", str(forks), os.path.join(lab.TOP, "playbooks", name + ".yml"),
            "-e", "dco_report_dir=%s" % report_dir] + list(extra)
    return lab.timed(argv, lab.ansible_env(env_extra), timeout=5400)


def outages(stdout, run):
    """Per tunnel the longest gap between two ping answers while its unit switched."""
    found = []
    for host, message in HOST_MSG.findall(stdout):
        if "down during the switch:" not in message:
            continue
        tail = message.split("down during the switch:", 1)[1]
        for unit, target, text, seconds in OUTAGE.findall(tail):
            role = "server" if "server" in unit else "client" if "client" in unit else ""
            found.append({"run": run, "host": host, "tunnel": "%s -> %s" % (unit, target), "role": role,
                          "seconds": float(seconds) if seconds else None,
                          "note": "no answer during the probe" if not seconds else ""})
    return found
