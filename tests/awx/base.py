# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The EE's base image, built here: no container registry is reachable from this machine.

debootstrap Debian 12 (minbase) with Python, pip and venv, packed as a tarball in
/var/cache/ovpnfleet-ee/ keyed by a hash of the recipe, this file and the local CA certificates
(so a second build only imports it), then `podman import`ed.

ansible-builder v3 runs its scripts with `$PKGMGR install -y PKGS` and `$PKGMGR clean all`, dnf's
verbs; `options.package_manager_path` sets PKGMGR. The image carries PKGMGR_SHIM, which speaks
those two verbs with apt-get, so bindep's Debian lines (`[platform:dpkg]`) are installed the
way ansible-builder installs RPMs: the ssh client in the final image, compilers only in the
builder stage.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import time

from tests.awx.common import (BASE_IMAGE, CACHE, MIRROR, SECURITY_MIRROR, log,
                              podman_env, run)

RECIPE = {
    "suite": "bookworm",
    "variant": "minbase",
    # venv: ansible-builder's assemble script makes a venv; ca-certificates: pip's TLS.
    "include": ["python3", "python3-pip", "python3-venv", "ca-certificates"],
    "sources": ["bookworm main", "bookworm-updates main", "security bookworm-security main"],
}
SHIM_PATH = "/usr/local/sbin/ee-apt"
PKGMGR_SHIM = """\
#!/bin/sh
# ansible-builder's scripts speak dnf: `$PKGMGR install -y [options] PKGS`, `$PKGMGR clean all`.
set -eu
verb=${1:-}
[ $# -gt 0 ] && shift
case "$verb" in
install)
    packages=
    for arg in "$@"; do
        case "$arg" in -*) ;; *) packages="$packages $arg" ;; esac
    done
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $packages
    ;;
clean)
    apt-get clean
    rm -rf /var/lib/apt/lists/*
    ;;
*)
    echo "ee-apt: unsupported verb '$verb' (ansible-builder uses install and clean)" >&2
    exit 2
    ;;
esac
"""
# The machine's TLS egress goes through a CA of its own (/usr/local/share/ca-certificates);
# pip inside the build must trust it as the host's pip does.
LOCAL_CAS = "/usr/local/share/ca-certificates/*.crt"
# What runs in the tree after debootstrap; part of the cache key with RECIPE.
CHROOT_STEPS = [["update-ca-certificates"], ["apt-get", "update", "-q"],
                ["apt-get", "-y", "-q", "--no-install-recommends", "upgrade"],
                [SHIM_PATH, "clean", "all"]]
IMPORT_CHANGES = ["ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt",
                  "ENV REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt",
                  "ENV LANG=C.UTF-8", "CMD [\"/bin/bash\"]"]


def recipe_hash():
    """The recipe, the shim, the steps and the local CAs; not this file, so a comment or a
    refactoring here does not cost a debootstrap."""
    digest = hashlib.sha256(json.dumps({"recipe": RECIPE, "shim": PKGMGR_SHIM, "steps": CHROOT_STEPS,
                                        "changes": IMPORT_CHANGES}, sort_keys=True).encode())
    for path in sorted(glob.glob(LOCAL_CAS)):
        with open(path, "rb") as handle:
            digest.update(handle.read())
    return digest.hexdigest()[:12]


def tarball_path():
    return os.path.join(CACHE, "base-bookworm-%s.tar" % recipe_hash())


def ensure_base():
    """The base image tag and a dict of the seconds each step took (0 when cached)."""
    times = {"debootstrap": 0.0, "import": 0.0}
    tarball = tarball_path()
    if not os.path.exists(tarball):
        started = time.monotonic()
        _build_tarball(tarball)
        remove_stale(tarball)
        times["debootstrap"] = round(time.monotonic() - started, 1)
    hashed_tag = "localhost/ovpnfleet-ee-base:" + recipe_hash()
    env = podman_env()
    if run(["podman", "image", "exists", hashed_tag], check=False, env=env).returncode:
        started = time.monotonic()
        argv = ["podman", "import"]
        for change in IMPORT_CHANGES:
            argv += ["--change", change]
        run(argv + [tarball, hashed_tag], env=env)
        times["import"] = round(time.monotonic() - started, 1)
    run(["podman", "tag", hashed_tag, BASE_IMAGE], env=env)
    return BASE_IMAGE, times


def _build_tarball(tarball):
    log("building the base image tree (debootstrap %s, cold cache)" % RECIPE["suite"])
    rootfs = tarball + ".rootfs"
    shutil.rmtree(rootfs, ignore_errors=True)
    try:
        run(["debootstrap", "--variant=" + RECIPE["variant"], "--include=" + ",".join(RECIPE["include"]),
             RECIPE["suite"], rootfs, MIRROR], timeout=1800)
        _write(rootfs, "etc/apt/sources.list", "".join(_source_line(s) for s in RECIPE["sources"]))
        _write(rootfs, SHIM_PATH.lstrip("/"), PKGMGR_SHIM, mode=0o755)
        for path in sorted(glob.glob(LOCAL_CAS)):
            shutil.copy(path, os.path.join(rootfs, "usr/local/share/ca-certificates"))
        _write(rootfs, "usr/sbin/policy-rc.d", "#!/bin/sh\nexit 101\n", mode=0o755)
        for step in CHROOT_STEPS:
            _chroot(rootfs, step)
        os.unlink(os.path.join(rootfs, "usr/sbin/policy-rc.d"))
        _write(rootfs, "etc/resolv.conf", "")  # podman writes its own
        partial = tarball + ".partial"
        run(["tar", "-C", rootfs, "--numeric-owner", "-cf", partial, "."], timeout=600)
        os.rename(partial, tarball)
    finally:
        shutil.rmtree(rootfs, ignore_errors=True)
    log("base tarball %s" % tarball)


def _source_line(source):
    if source.startswith("security "):
        return "deb %s %s\n" % (SECURITY_MIRROR, source[len("security "):])
    return "deb %s %s\n" % (MIRROR, source)


def _chroot(rootfs, argv):
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C", "HOME": "/root",
           "DEBIAN_FRONTEND": "noninteractive"}
    return run(["chroot", rootfs] + argv, env=env)


def _write(rootfs, relative, text, mode=0o644):
    path = os.path.join(rootfs, relative)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        handle.write(text)
    os.chmod(path, mode)


def remove_stale(keep):
    """Old base tarballs (another recipe hash) go: each is about 300 MB."""
    removed = []
    for path in glob.glob(os.path.join(CACHE, "base-bookworm-*.tar")):
        if path != keep:
            os.unlink(path)
            removed.append(path)
    if removed:
        log("removed stale base tarballs: %s" % ", ".join(removed))
    return removed
