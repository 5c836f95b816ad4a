# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The EE image: the base, the collection tarball from `git archive HEAD`, ansible-builder.

The image is labelled with a key over what went in (the commit's tree, the EE definition, the
base image, the tool pins); an image with the same key is kept, so `ee` is idempotent. podman's
layer cache makes a rebuild with a new key fast where the early stages did not change.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time

from tests.awx import base
from tests.awx.common import (CACHE, EE_IMAGE, KEY_LABEL, TOP, AwxError, log, podman_env, run)

EE_FILE = os.path.join(TOP, "awx", "execution-environment.yml")
TOOLS_REQUIREMENTS = os.path.join(TOP, "tests", "awx", "requirements.txt")
WORK = os.path.join(TOP, ".tmp", "ee")
TARBALL = os.path.join(WORK, "ovpnfleet-dco.tar.gz")  # the name the EE definition copies


def _sha(*parts):
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part if isinstance(part, bytes) else part.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def _read(path):
    with open(path, "rb") as handle:
        return handle.read()


def tools_venv():
    """A venv with ansible-builder and ansible-runner as pinned in tests/awx/requirements.txt."""
    venv = os.path.join(CACHE, "tools-" + _sha(_read(TOOLS_REQUIREMENTS)))
    if not os.path.exists(os.path.join(venv, ".complete")):
        log("installing %s into %s" % (os.path.relpath(TOOLS_REQUIREMENTS, TOP), venv))
        shutil.rmtree(venv, ignore_errors=True)
        run(["python3", "-m", "venv", venv])
        run([os.path.join(venv, "bin", "pip"), "install", "-q", "-r", TOOLS_REQUIREMENTS])
        _touch(os.path.join(venv, ".complete"))
    return venv


def _touch(path):
    with open(path, "w"):
        pass


def head_tree():
    return run(["git", "-C", TOP, "rev-parse", "HEAD^{tree}"]).stdout.strip()


def export_head(dest):
    """The committed tree at HEAD, as AWX's project sync sees it: no work-tree edits, no ignored files."""
    shutil.rmtree(dest, ignore_errors=True)
    os.makedirs(dest)
    with subprocess.Popen(["git", "-C", TOP, "archive", "--format=tar", "HEAD"],
                          stdout=subprocess.PIPE) as archive:
        run(["tar", "-x", "-C", dest], stdin=archive.stdout)
    if archive.returncode:
        raise AwxError("git archive HEAD failed in %s" % TOP)
    return dest


def build_collection():
    src = export_head(os.path.join(WORK, "src"))
    dist = os.path.join(WORK, "dist")
    shutil.rmtree(dist, ignore_errors=True)
    galaxy = os.path.join(TOP, ".venv", "bin", "ansible-galaxy")
    if not os.path.exists(galaxy):
        raise AwxError("%s not found: run `make venv` first" % galaxy)
    run([galaxy, "collection", "build", "--output-path", dist], cwd=src)
    built = [name for name in os.listdir(dist) if name.endswith(".tar.gz")]
    if len(built) != 1:
        raise AwxError("ansible-galaxy collection build made %s in %s, expected one tarball"
                       % (built or "nothing", dist))
    shutil.copy(os.path.join(dist, built[0]), TARBALL)
    return built[0]


def image_key(tree, base_id):
    return _sha(tree, _read(EE_FILE), base_id, _read(TOOLS_REQUIREMENTS))


def image_label(env):
    done = run(["podman", "image", "inspect", "--format",
                '{{ index .Labels "%s" }}' % KEY_LABEL, EE_IMAGE], check=False, env=env)
    return done.stdout.strip() if done.returncode == 0 else None


def builder_argv(venv, context, key):
    return [os.path.join(venv, "bin", "ansible-builder"), "build", "-f", EE_FILE, "-c", context,
            "-t", EE_IMAGE, "--container-runtime", "podman", "-v", "2",
            "--extra-build-cli-args", "--label %s=%s" % (KEY_LABEL, key)]


def ensure_ee(force=False):
    """Build what is missing; a dict of what happened and the seconds each step took."""
    started = time.monotonic()
    os.makedirs(WORK, exist_ok=True)
    env = podman_env()
    base_tag, base_times = base.ensure_base()
    base_id = run(["podman", "image", "inspect", "--format", "{{.Id}}", base_tag], env=env).stdout.strip()
    venv = tools_venv()
    key = image_key(head_tree(), base_id)
    report = {"base": base_times, "key": key, "image": EE_IMAGE}
    if not force and image_label(env) == key:
        report["built"] = False
        report["seconds"] = round(time.monotonic() - started, 1)
        log("%s is current (key %s): nothing to build" % (EE_IMAGE, key))
        return report
    report["collection"] = build_collection()
    context = os.path.join(WORK, "context")
    shutil.rmtree(context, ignore_errors=True)
    build_started = time.monotonic()
    log("ansible-builder build (streamed below)")
    run(builder_argv(venv, context, key), env=env, cwd=TOP, stream=True, timeout=3600)
    report["builder_seconds"] = round(time.monotonic() - build_started, 1)
    report["built"] = True
    if image_label(env) != key:
        raise AwxError("ansible-builder finished but %s does not carry key %s" % (EE_IMAGE, key))
    report["versions"] = run(["podman", "run", "--rm", EE_IMAGE, "sh", "-c",
                              "ansible --version | head -1; ansible-runner --version; "
                              "ansible-galaxy collection list ovpnfleet.dco | tail -1"],
                             env=env).stdout.strip().splitlines()
    report["seconds"] = round(time.monotonic() - started, 1)
    return report
