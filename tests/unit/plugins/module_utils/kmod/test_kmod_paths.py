# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Values that become paths are checked by one rule; removals stay in what kmod owns."""

from __future__ import annotations

import os
import re
from urllib.parse import unquote

import pytest
import yaml

from ansible_collections.ovpnfleet.dco.plugins.module_utils._generations import GENERATIONS, OVPN_DCO_V2
from ansible_collections.ovpnfleet.dco.plugins.module_utils.kmod import _plan as _kmod
from ansible_collections.ovpnfleet.dco.plugins.module_utils.kmod import _runner as _kmod_runner
from ansible_collections.ovpnfleet.dco.plugins.module_utils.kmod._plan import (
    KmodError,
    check_path_component,
    check_path_inputs,
    plan_kmod,
)

K1 = "6.1.0-56-amd64"
SHA = "8e84e1a7091a55b970019bfa3f5398965a2d18f45091b5ba9263a54b71ccd0a6"
SOURCES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "..", "kmod", "sources.yml")
RULE = "use only letters, digits and . _ + ~ -"


def request(**overrides):
    base = {"state": "present", "src": "/x.deb", "src_sha256": SHA, "src_version": "0.0+git20231103",
            "src_subdir": None, "artifact": None, "kernels": None}
    base.update(overrides)
    return base


BAD_NAMES = ["../../../home", "0.0/../../etc", "a/b", "..", ".", ".hidden", "-r", "", "x y",
             "$(id)", '1"; rm -rf /; "', "1.0\n", "v" * 129, "caf\u00e9"]


@pytest.mark.parametrize("value", BAD_NAMES)
@pytest.mark.parametrize("param, overrides, kernels", [
    ("src_version", lambda v: {"src_version": v}, [K1]),
    ("kernels", lambda v: {"kernels": [K1, v]}, None),
    ("kernel release", lambda v: {}, None),
])
def test_value_that_would_leave_its_directory_is_refused_with_the_rule(value, param, overrides, kernels):
    req = request(**overrides(value))
    targets = kernels or req["kernels"] or [value]
    with pytest.raises(KmodError, match=r"^check %s: .* cannot be part of a path; %s" % (param, re.escape(RULE))):
        check_path_inputs(req, OVPN_DCO_V2, targets)


@pytest.mark.parametrize("subdir", ["../x", "usr/src/../../../x", "/usr/src/x", "usr/./src", "usr/$(id)"])
def test_src_subdir_must_stay_inside_the_archive(subdir):
    with pytest.raises(KmodError, match=r"^check src_subdir: .* cannot be part of a path; %s" % re.escape(RULE)):
        check_path_inputs(request(src_subdir=subdir), OVPN_DCO_V2, [K1])


@pytest.mark.parametrize("artifact, message", [
    ("/var/tmp/..", "check artifact: '..' cannot be part of a path"),
    ("/var/tmp/-k.ko", "check artifact: '-k.ko' cannot be part of a path"),
    ("/var/tmp/ovpn-dco-v2.bin", "check artifact: ovpn-dco-v2.bin is not a .ko file name"),
])
def test_artifact_file_name_is_checked(artifact, message):
    with pytest.raises(KmodError, match="^" + message):
        check_path_inputs(request(src=None, src_version=None, artifact=artifact), OVPN_DCO_V2, [K1])


@pytest.mark.parametrize("kernel", ["6.1.0-56-amd64", "6.12.95+bpo-amd64", "6.5.6-300.fc39.x86_64",
                                    "5.15.0-1034-azure", "6.16.3-1~exp1"])
def test_real_values_pass(kernel):
    req = request(src_subdir="usr/src/ovpn-dco-0.0+git20231103/", artifact="/var/lib/ovpnfleet-dco/x.ko")
    assert check_path_inputs(req, OVPN_DCO_V2, [kernel]) is None


with open(SOURCES) as handle:
    PINNED = yaml.safe_load(handle)["ovpn_dco_sources"]


@pytest.mark.parametrize("name", sorted(PINNED))
def test_every_pinned_source_names_only_safe_paths(name):
    entry = PINNED[name]
    # The role joins these into /usr/src, the build tree and the controller's cache.
    check_path_component("src_version", entry["version"])
    check_path_component("flavour", entry["flavour"])
    check_path_component("url", unquote(entry["url"].rsplit("/", 1)[1]))
    if entry.get("subdir"):
        _kmod.check_relative_path("src_subdir", entry["subdir"])
    check_path_inputs(request(src_version=entry["version"], src_subdir=entry.get("subdir")),
                      GENERATIONS[entry["flavour"]], [K1])


# The DKMS source tree: replaced only when this module put it there ------------------------------
class Commands:
    check_mode = False

    def __init__(self):
        self.commands = []

    def get_bin_path(self, name, opt_dirs=None):
        return "/usr/bin/" + name

    def run_command(self, argv, cwd=None, environ_update=None):
        self.commands.append(argv[1:3])
        return 0, "", ""


@pytest.fixture
def usr_src(tmp_path, monkeypatch):
    root = tmp_path / "usr-src"
    root.mkdir()
    monkeypatch.setattr(_kmod_runner, "DKMS_SRC_ROOT", str(root))
    tree = tmp_path / "unpacked"
    tree.mkdir()
    (tree / "Makefile").write_text("all:\n")
    return root, tree


def registering(tree, sha=SHA):
    module = Commands()
    run = _kmod_runner.KmodRunner(module, OVPN_DCO_V2, {"src_sha256": sha})
    run.source_tree = lambda: str(tree)
    return run, module


def test_version_climbing_out_of_usr_src_removes_nothing(usr_src, tmp_path):
    root, tree = usr_src
    (root / "ovpn-dco-0.0").mkdir()
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious").write_text("data\n")
    run, module = registering(tree)
    with pytest.raises(KmodError, match="^check src_version: '0.0/../../victim' cannot be part of a path"):
        run.do_dkms_register({"name": "ovpn-dco", "version": "0.0/../../victim"})
    assert (victim / "precious").read_text() == "data\n"
    assert module.commands == []


@pytest.mark.parametrize("kind", ["a package's tree", "a symlink to a tree that looks like ours"])
def test_tree_this_module_did_not_put_there_is_left_alone(usr_src, tmp_path, kind):
    root, tree = usr_src
    dest = root / "ovpn-dco-1.0"
    if kind.startswith("a package"):
        dest.mkdir()
        (dest / "dkms.conf").write_text("PACKAGE_NAME=ovpn-dco\n")
        kept = dest / "dkms.conf"
    else:
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        (elsewhere / _kmod_runner.SRC_MARKER).write_text("old\n")
        dest.symlink_to(elsewhere)
        kept = elsewhere / _kmod_runner.SRC_MARKER
    run, module = registering(tree)
    with pytest.raises(KmodError, match="was not put there by this module .* left alone; remove it"):
        run.do_dkms_register({"name": "ovpn-dco", "version": "1.0"})
    assert kept.exists()
    assert module.commands == []


def test_own_tree_of_another_source_is_replaced_whole(usr_src):
    root, tree = usr_src
    dest = root / "ovpn-dco-1.0"
    dest.mkdir()
    (dest / _kmod_runner.SRC_MARKER).write_text("0" * 64 + "\n")
    (dest / "stale.c").write_text("old\n")
    run, module = registering(tree)
    run.do_dkms_register({"name": "ovpn-dco", "version": "1.0"})
    assert sorted(os.listdir(dest)) == [_kmod_runner.SRC_MARKER, "Makefile", "dkms.conf"]
    assert (dest / _kmod_runner.SRC_MARKER).read_text() == SHA + "\n"
    assert os.listdir(root) == ["ovpn-dco-1.0"]
    assert module.commands == [["remove", "ovpn-dco/1.0"], ["add", "-m"]]


def test_own_tree_of_the_same_source_is_kept(usr_src):
    root, tree = usr_src
    dest = root / "ovpn-dco-1.0"
    dest.mkdir()
    (dest / _kmod_runner.SRC_MARKER).write_text(SHA + "\n")
    run, module = registering(tree)
    run.do_dkms_register({"name": "ovpn-dco", "version": "1.0"})
    assert os.listdir(dest) == [_kmod_runner.SRC_MARKER]
    assert module.commands == []


@pytest.mark.parametrize("where", ["outside", "nested"])
def test_recursive_removal_only_of_a_marked_tree_directly_in_the_root(usr_src, tmp_path, where):
    root, _tree = usr_src
    target = tmp_path / "outside" if where == "outside" else root / "ovpn-dco-1.0" / "inner"
    target.mkdir(parents=True)
    (target / _kmod_runner.SRC_MARKER).write_text(SHA)
    with pytest.raises(KmodError, match="is not a source tree this module put in"):
        _kmod_runner.remove_own_source_tree(str(target))
    assert (target / _kmod_runner.SRC_MARKER).exists()


# Module files named in the install record ----------------------------------------------------------
@pytest.mark.parametrize("path", ["/etc/shadow", "/lib/modules/%s/updates/../../../../etc/shadow" % K1,
                                  "/lib/modules/%s/kernel/net/ovpn.ko" % K1,
                                  "/lib/modules/6.1.0-50-amd64/updates/ovpnfleet-dco/ovpn-dco-v2.ko",
                                  "/lib/modules/%s/updates/ovpnfleet-dco" % K1])
def test_record_entry_outside_our_module_files_is_not_removed(path):
    st = {"loaded": False, "record": {"kernels": {K1: {"path": path}}}, "dkms": [], "persist": None,
          "block": None}
    with pytest.raises(KmodError, match="^remove the module file .* left alone; fix or delete that entry"):
        plan_kmod({"state": "absent"}, OVPN_DCO_V2, None, [K1], st, K1)


def test_runner_removes_no_file_outside_our_module_files(tmp_path):
    victim = tmp_path / "shadow"
    victim.write_text("secret\n")
    run = _kmod_runner.KmodRunner(Commands(), OVPN_DCO_V2, {})
    with pytest.raises(KmodError, match="^remove the module file"):
        run.execute([{"action": "remove_ko", "path": str(victim), "kernel": K1, "describe": "remove"}], {})
    assert victim.read_text() == "secret\n"


def test_record_entry_without_a_file_is_skipped_not_fatal():
    st = {"loaded": False, "record": {"kernels": {K1: {"path": None}}}, "dkms": [], "persist": None,
          "block": None}
    assert plan_kmod({"state": "absent"}, OVPN_DCO_V2, None, [K1], st, K1) == []
