# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a lab is made of, kept in .lab/ of the work tree that started it.

.lab/state.json      the hosts (VM pid files, overlays, ports; container names) and tunnels
.lab/ssh/id_ed25519  the lab's root key, given to each host when it starts (not baked in images)
.lab/pki/            the brownfield OpenVPN CA and certificates
.lab/run/            qemu overlays, pid files and serial consoles
.lab/inventory.yml   the Ansible inventory

Several work trees share this machine, so everything a lab starts carries the lab's id (a hash
of its .lab path): container names, the podman network, the VMs' multicast segment.
"""

from __future__ import annotations

import hashlib
import json
import os

from tests.lab.common import TOP, log, run

STATE_DIR = os.path.join(TOP, ".lab")
RUN_DIR = os.path.join(STATE_DIR, "run")
STATE_FILE = os.path.join(STATE_DIR, "state.json")
INVENTORY = os.path.join(STATE_DIR, "inventory.yml")
SSH_KEY = os.path.join(STATE_DIR, "ssh", "id_ed25519")


def lab_id():
    return hashlib.sha256(os.path.realpath(STATE_DIR).encode()).hexdigest()[:6]


def ensure_ssh_key():
    """The lab's SSH key (0600) in .lab/ssh/; created once per work tree."""
    if not os.path.exists(SSH_KEY):
        os.makedirs(os.path.dirname(SSH_KEY), mode=0o700, exist_ok=True)
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ovpnfleet-lab-" + lab_id(),
             "-f", SSH_KEY])
        log("created the lab SSH key %s" % SSH_KEY)
    os.chmod(SSH_KEY, 0o600)
    return SSH_KEY


def authorized_keys():
    """The file every lab host takes root's authorized_keys from: the lab key's public half."""
    return SSH_KEY + ".pub"


def empty():
    return {"lab_id": lab_id(), "vms": {}, "containers": {}, "tunnels": []}


def load():
    try:
        with open(STATE_FILE) as handle:
            state = json.load(handle)
    except FileNotFoundError:
        return empty()
    for key, value in empty().items():
        state.setdefault(key, value)
    return state


def save(state):
    """Write state.json whole or not at all: other tools read it while the lab runs."""
    os.makedirs(STATE_DIR, exist_ok=True)
    partial = STATE_FILE + ".partial"
    with open(partial, "w") as handle:
        json.dump(state, handle, indent=1, sort_keys=True)
        handle.write("\n")
    os.replace(partial, STATE_FILE)


def all_hosts(state):
    return dict(state["vms"], **state["containers"])


def write_if_changed(path, text, mode=0o644):
    """True when the file had to be (re)written."""
    try:
        with open(path) as handle:
            if handle.read() == text:
                return False
    except FileNotFoundError:
        pass
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        handle.write(text)
    os.chmod(path, mode)
    return True
