# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Light hosts in podman containers: many of them, sharing this machine's kernel (no DCO).

runc, not crun (crun fails here: cgroups in hybrid mode), and explicit rlimits (the defaults
fail: setrlimit RLIMIT_NOFILE not permitted); see shared/LAB-FACTS.md.
"""

from __future__ import annotations

import os

from tests.lab.common import LabError, log, run
from tests.lab.images import recipe_hash

PODMAN = ["podman", "--runtime", "runc"]
NAME_PREFIX = "ovpnlab-"


def image_tag():
    return "localhost/ovpnfleet-lab-container:%s" % recipe_hash("container")


def ensure_container_image(image_dir):
    tag = image_tag()
    if run(PODMAN + ["image", "exists", tag], check=False, quiet=True).returncode == 0:
        return tag
    log("importing %s" % tag)
    archive = os.path.join(image_dir, "rootfs.tar")
    if not os.path.exists(archive):
        run(["tar", "-C", os.path.join(image_dir, "rootfs"), "-cf", archive, "."], quiet=True)
    run(PODMAN + ["import", archive, tag], quiet=True)
    return tag


def start_container(name, tag):
    full = NAME_PREFIX + name
    exists = run(PODMAN + ["container", "exists", full], check=False, quiet=True).returncode == 0
    if not exists:
        run(PODMAN + [
            "run", "-d", "--name", full, "--hostname", name,
            "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024",
            "--cap-add", "NET_ADMIN", "--device", "/dev/net/tun",
            tag, "sh", "-c", "mkdir -p /run/sshd; exec /usr/sbin/sshd -D",
        ], quiet=True)
    else:
        run(PODMAN + ["start", full], quiet=True)
    address = run(PODMAN + ["inspect", "-f", "{{.NetworkSettings.IPAddress}}", full], quiet=True).stdout.strip()
    if not address:
        raise LabError("container %s has no address on podman's bridge" % full)
    return {"name": name, "container": full, "address": address, "port": 22}


def remove_container(container):
    run(PODMAN + ["rm", "-f", "-t", "2", container["container"]], check=False, quiet=True)
    log("removed %s" % container["container"])


def leftover_containers():
    out = run(PODMAN + ["ps", "-a", "--format", "{{.Names}}"], check=False, quiet=True).stdout
    return [name for name in out.split() if name.startswith(NAME_PREFIX)]
