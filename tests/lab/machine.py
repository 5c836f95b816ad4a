# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The machine the lab runs on: root, and the Debian packages in apt-packages.txt.

CI starts from a fresh Debian 12 machine with nothing installed, so the lab installs what it
needs itself, and does nothing when everything is there.
"""

from __future__ import annotations

import os

from tests.lab.common import LabError, log, run

PACKAGE_LIST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "apt-packages.txt")


def require_root():
    if os.geteuid() != 0:
        raise LabError("the lab needs root (debootstrap, qemu, podman): run it with sudo")


def wanted_packages():
    with open(PACKAGE_LIST) as handle:
        return [line.split("#", maxsplit=1)[0].strip() for line in handle
                if line.split("#", maxsplit=1)[0].strip()]


def missing_packages(names):
    """Those of names dpkg does not report as installed (one dpkg-query call)."""
    result = run(["dpkg-query", "-W", "-f=${Package} ${db:Status-Status}\\n"] + names, check=False)
    installed = {line.split()[0] for line in result.stdout.splitlines()
                 if line.endswith(" installed")}
    return [name for name in names if name not in installed]


def ensure_packages():
    missing = missing_packages(wanted_packages())
    if not missing:
        return
    log("installing on this machine: %s" % " ".join(missing))
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run(["apt-get", "update", "-q"], env=env, timeout=900)
    run(["apt-get", "install", "-y", "-q", "--no-install-recommends"] + missing, env=env,
        timeout=1800)
    still = missing_packages(missing)
    if still:
        raise LabError("apt-get did not install %s; install them by hand" % " ".join(still))
