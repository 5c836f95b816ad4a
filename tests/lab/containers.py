# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Light hosts in podman containers: many of them, on this machine's kernel (so never DCO).

runc, not crun (crun fails here: "cgroups in hybrid mode not supported"), and explicit rlimits
(the defaults fail: "setrlimit RLIMIT_NOFILE: Operation not permitted"), both seen on this machine.
Passing them on each run leaves /etc/containers/containers.conf alone. Each lab has its own
podman network (a bridge podman makes and removes with it) and labels its containers, so
`down` removes exactly what this lab started.
"""

from __future__ import annotations

import os
import subprocess

from tests.lab.common import LabError, log, run
from tests.lab.images import recipe_hash

PODMAN = ["podman", "--runtime", "runc"]
LABEL = "ovpnfleet.lab"
RUN_OPTIONS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024",
               "--cap-add", "NET_ADMIN", "--device", "/dev/net/tun"]
# No systemd in a container: sshd is the main process.
ENTRYPOINT = ["sh", "-c", "mkdir -p /run/sshd && exec /usr/sbin/sshd -D -e"]


def prefix(lab_id):
    return "ovpnlab-%s-" % lab_id


def network_name(lab_id):
    return "ovpnlab-" + lab_id


def image_tag():
    return "localhost/ovpnfleet-lab-container:%s" % recipe_hash("container")


def ensure_image(image_dir):
    """Import the cached tree into podman once per recipe: tar | podman import."""
    tag = image_tag()
    if run(PODMAN + ["image", "exists", tag], check=False).returncode == 0:
        return tag
    log("importing %s" % tag)
    with subprocess.Popen(["tar", "-C", os.path.join(image_dir, "rootfs"), "-c", "."],
                          stdout=subprocess.PIPE) as tar:
        done = subprocess.run(PODMAN + ["import", "-", tag], stdin=tar.stdout, capture_output=True,
                              timeout=600, check=False)
    if done.returncode or tar.returncode:
        raise LabError("podman import of %s failed: %s" % (tag, done.stderr.decode()[-500:]))
    return tag


def ensure_network(lab_id, state_dir):
    name = network_name(lab_id)
    if run(PODMAN + ["network", "exists", name], check=False).returncode:
        run(PODMAN + ["network", "create", "--label", "%s=%s" % (LABEL, state_dir), name])
    return name


def start(name, tag, lab_id, state_dir, identity_file, authorized_keys):
    """Run (or restart) the container for host name, root trusting authorized_keys (a file);
    its SSH address on the lab network."""
    full = prefix(lab_id) + name
    if run(PODMAN + ["container", "exists", full], check=False).returncode:
        run(PODMAN + ["run", "-d", "--name", full, "--hostname", name,
                      "--label", "%s=%s" % (LABEL, state_dir), "--network", network_name(lab_id),
                      "-v", "%s:/root/.ssh/authorized_keys:ro" % authorized_keys]
            + RUN_OPTIONS + [tag] + ENTRYPOINT)
    elif not running(full):
        run(PODMAN + ["start", full])
    address = run(PODMAN + ["inspect", "-f", "{{(index .NetworkSettings.Networks \"%s\").IPAddress}}"
                            % network_name(lab_id), full]).stdout.strip()
    if not address:
        raise LabError("container %s has no address on podman network %s"
                       % (full, network_name(lab_id)))
    return {"name": name, "container": full, "address": address, "port": 22,
            "identity_file": identity_file, "image": tag}


def running(full_name):
    result = run(PODMAN + ["inspect", "-f", "{{.State.Running}}", full_name], check=False)
    return result.stdout.strip() == "true"


def lab_containers(state_dir):
    """Names of the containers this lab started, running or not."""
    out = run(PODMAN + ["ps", "-a", "--filter", "label=%s=%s" % (LABEL, state_dir),
                        "--format", "{{.Names}}"], check=False).stdout
    return sorted(out.split())


def remove(full_names):
    if full_names:
        run(PODMAN + ["rm", "-f", "-t", "2"] + list(full_names), timeout=300)
    return list(full_names)


def remove_network(lab_id):
    name = network_name(lab_id)
    if run(PODMAN + ["network", "exists", name], check=False).returncode == 0:
        run(PODMAN + ["network", "rm", name])
        return [name]
    return []
