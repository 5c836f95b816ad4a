# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab's Ansible inventory, .lab/inventory.yml, written from the lab state.

Hosts carry their connection variables themselves (under lab_vms or lab_containers), so a play
may use any group. Scalars are written as JSON strings, which YAML reads as they are.
"""

from __future__ import annotations

import json

from tests.lab.state import INVENTORY, write_if_changed

# ServerAlive: a connection to a VM that stops answering fails within a minute instead of hanging a play.
SSH_COMMON_ARGS = "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ServerAliveInterval=15 -o ServerAliveCountMax=4"


def groups(state):
    vms, containers = state["vms"], state["containers"]
    tunnels = state.get("tunnels", [])
    return {
        "lab_vms": sorted(vms),
        "lab_containers": sorted(containers),
        "debian12": sorted(n for n, vm in vms.items() if vm["platform"] == "debian12"),
        "debian13_bpo": sorted(n for n, vm in vms.items() if vm["platform"] == "debian13-bpo"),
        "debian13": sorted(n for n, vm in vms.items() if vm["platform"] == "debian13"),
        "debian12_sig": sorted(n for n, vm in vms.items() if vm["platform"] == "debian12-sig"),
        "debian13_bpo_sig": sorted(n for n, vm in vms.items() if vm["platform"] == "debian13-bpo-sig"),
        "debian12_sb": sorted(n for n, vm in vms.items() if vm["platform"] == "debian12-sb"),
        "openvpn_servers": sorted({t["server"] for t in tunnels}),
        "openvpn_clients": sorted({t["client"] for t in tunnels}),
    }


def host_vars(host):
    variables = {
        "ansible_host": host["address"],
        "ansible_port": host["port"],
        "ansible_user": "root",
        "ansible_ssh_private_key_file": host["identity_file"],
        "ansible_ssh_common_args": SSH_COMMON_ARGS,
        "ansible_python_interpreter": "/usr/bin/python3",
    }
    if "lan_ip" in host:
        variables["lab_lan_ip"] = host["lan_ip"]
    return variables


def render(state):
    lines = ["# Written by `python3 -m tests.lab up` from .lab/state.json; do not edit.",
             "all:", "  children:"]
    hosts = dict(state["vms"], **state["containers"])
    for group, members in groups(state).items():
        lines.append("    %s:" % group)
        if not members:
            lines.append("      hosts: {}")
            continue
        lines.append("      hosts:")
        for name in members:
            if group in ("lab_vms", "lab_containers"):
                lines.append("        %s:" % name)
                for key, value in host_vars(hosts[name]).items():
                    lines.append("          %s: %s" % (key, json.dumps(value)))
            else:
                lines.append("        %s: {}" % name)
    return "\n".join(lines) + "\n"


def write(state):
    """True when the file changed."""
    return write_if_changed(INVENTORY, render(state))
