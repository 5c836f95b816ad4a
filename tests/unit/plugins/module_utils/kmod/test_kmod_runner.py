# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The kmod runner's guards: sources checked before unpacking, modules in use left alone."""

from __future__ import annotations

import hashlib
import io
import tarfile

import pytest

from ansible_collections.ovpnfleet.dco.plugins.module_utils._generations import OVPN_DCO_V2
from ansible_collections.ovpnfleet.dco.plugins.module_utils.kmod import _plan as _kmod
from ansible_collections.ovpnfleet.dco.plugins.module_utils.kmod import _runner as _kmod_runner
from ansible_collections.ovpnfleet.dco.plugins.module_utils.kmod._plan import KmodError, ModuleInUseError


class RecordingModule:
    """Just enough of AnsibleModule for the runner: answers commands from a table."""

    check_mode = False

    def __init__(self, answers=None):
        self.answers = answers or {}
        self.commands = []

    def get_bin_path(self, name, opt_dirs=None):
        return "/usr/bin/" + name

    def run_command(self, argv, cwd=None, environ_update=None):
        self.commands.append(argv)
        return self.answers.get(tuple(argv), (0, "", ""))


def tarball(tmp_path, members):
    path = tmp_path / "src.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return str(path), hashlib.sha256(path.read_bytes()).hexdigest()


def runner(src, sha, subdir=None):
    request = {"src": src, "src_sha256": sha, "src_format": "tar", "src_subdir": subdir}
    return _kmod_runner.KmodRunner(RecordingModule(), OVPN_DCO_V2, request)


def test_source_with_the_pinned_sha_is_unpacked_to_its_tree(tmp_path):
    src, sha = tarball(tmp_path, {"ovpn-dco-1/Makefile": b"all:\n", "ovpn-dco-1/README": b"x"})
    tree = runner(src, sha).source_tree()
    assert tree.endswith("/ovpn-dco-1")


def test_source_with_another_sha_is_refused_before_unpacking(tmp_path, monkeypatch):
    src, _sha = tarball(tmp_path, {"ovpn-dco-1/Makefile": b"all:\n"})
    monkeypatch.setattr(_kmod_runner, "_extract_tar", lambda *args: pytest.fail("unpacked"))
    with pytest.raises(KmodError, match="nothing was unpacked"):
        runner(src, "0" * 64).source_tree()


def test_source_without_a_makefile_says_to_set_src_subdir(tmp_path):
    src, sha = tarball(tmp_path, {"a/b/Makefile": b"all:\n", "c": b""})
    with pytest.raises(KmodError, match="set src_subdir"):
        runner(src, sha).source_tree()


def test_module_used_by_openvpn_is_not_replaced(monkeypatch):
    monkeypatch.setattr(_kmod_runner, "running_openvpn", lambda: [("4548", "openvpn --config s.conf")])
    monkeypatch.setattr(_kmod_runner, "network_namespaces", lambda: {1: "1", 2: "4548"})
    module = RecordingModule({
        ("/usr/bin/nsenter", "--net=/proc/4548/ns/net", "ip", "-o", "link", "show", "type", "ovpn-dco"):
            (0, "2: tun-srv: <POINTOPOINT,NOARP,UP,LOWER_UP> mtu 1500 qdisc noqueue\\    link/none \n", ""),
    })
    run = _kmod_runner.KmodRunner(module, OVPN_DCO_V2, {})
    with pytest.raises(ModuleInUseError) as error:
        run.ensure_unused("ovpn_dco_v2")
    assert "openvpn --config s.conf (pid 4548)" in str(error.value)
    assert "device tun-srv" in str(error.value)


def test_module_without_users_may_be_replaced(monkeypatch):
    monkeypatch.setattr(_kmod_runner, "running_openvpn", lambda: [])
    monkeypatch.setattr(_kmod_runner, "network_namespaces", lambda: {1: "1"})
    run = _kmod_runner.KmodRunner(RecordingModule(), OVPN_DCO_V2, {})
    assert run.ensure_unused("ovpn_dco_v2") is None


@pytest.mark.parametrize("status, expected_verbs", [
    ("ovpn-dco/0.0+git20231103, 6.1.0-56-amd64, x86_64: installed\n", []),
    ("ovpn-dco/0.0+git20231103, 6.1.0-56-amd64, x86_64: built\n", ["install"]),
    ("ovpn-dco/0.0+git20231103: added\n", ["build", "install"]),
])
def test_dkms_install_does_only_what_dkms_has_not_done(monkeypatch, status, expected_verbs):
    key = ("/usr/bin/dkms", "status", "-m", "ovpn-dco", "-v", "0.0+git20231103", "-k", "6.1.0-56-amd64")
    module = RecordingModule({key: (0, status, "")})
    run = _kmod_runner.KmodRunner(module, OVPN_DCO_V2, {"src_sha256": None})
    monkeypatch.setattr(run, "_remember", lambda *args: None)
    run.do_dkms_install({"name": "ovpn-dco", "version": "0.0+git20231103", "kernel": "6.1.0-56-amd64"})
    verbs = [argv[1] for argv in module.commands if argv[0].endswith("dkms") and argv[1] != "status"]
    assert verbs == expected_verbs


def test_failed_package_install_removes_only_what_it_added_and_left_broken():
    wanted = ["dkms", "linux-headers-6.12.95+bpo-amd64", "openvpn-dco-dkms", "ovpn-tools"]
    query = ("/usr/bin/dpkg-query", "-W", "-f=${Package} ${db:Status-Status}\n")
    module = RecordingModule({
        query + tuple(wanted): (0, "dkms installed\nopenvpn-dco-dkms installed\n", ""),
        ("/usr/bin/apt-get", "install", "-y", "--no-install-recommends") + tuple(wanted): (100, "", "dkms failed"),
        # ovpn-tools: a package apt never found, so dpkg knows nothing to remove.
        query + ("linux-headers-6.12.95+bpo-amd64", "ovpn-tools"): (
            0, "linux-headers-6.12.95+bpo-amd64 half-configured\n", ""),
    })
    run = _kmod_runner.KmodRunner(module, OVPN_DCO_V2, {})
    with pytest.raises(_kmod_runner.CommandError, match="removed again so apt keeps working: linux-headers-6.12.95"):
        run.do_install_packages({"packages": wanted})
    removed = [argv[-1] for argv in module.commands if argv[:2] == ["/usr/bin/dpkg", "--remove"]]
    assert removed == ["linux-headers-6.12.95+bpo-amd64"]


def test_unload_goes_by_the_loaded_name_not_the_module_index(monkeypatch):
    module = RecordingModule()
    run = _kmod_runner.KmodRunner(module, OVPN_DCO_V2, {})
    monkeypatch.setattr(run, "ensure_unused", lambda name: None)
    run.do_reload({"module": "ovpn_dco_v2", "name": "ovpn-dco-v2"})
    assert module.commands == [["/usr/bin/rmmod", "ovpn_dco_v2"], ["/usr/bin/modprobe", "ovpn-dco-v2"]]


def test_removed_module_file_comes_back_when_a_later_step_fails(tmp_path, monkeypatch):
    monkeypatch.setattr(_kmod, "MODULES_ROOT", str(tmp_path))
    installed = tmp_path / "6.1.0-56-amd64" / "updates" / "ovpnfleet-dco" / "ovpn-dco-v2.ko"
    installed.parent.mkdir(parents=True)
    installed.write_bytes(b"module built from source")
    entry = {"path": str(installed), "origin_sha256": "S", "sha256": "H"}
    record = {"kernels": {"6.1.0-56-amd64": dict(entry)}}
    apt = ("/usr/bin/apt-get", "install", "-y", "--no-install-recommends", "openvpn-dco-dkms")
    module = RecordingModule({apt: (100, "", "dkms build failed")})
    run = _kmod_runner.KmodRunner(module, OVPN_DCO_V2, {})
    monkeypatch.setattr(run, "_dkms_log_tail", lambda *args: "")
    steps = [{"action": "remove_ko", "path": str(installed), "kernel": "6.1.0-56-amd64"},
             {"action": "install_packages", "packages": ["openvpn-dco-dkms"]}]
    with pytest.raises(_kmod_runner.CommandError, match="apt-get exited 100"):
        run.execute(steps, record)
    assert installed.read_bytes() == b"module built from source"
    assert record == {"kernels": {"6.1.0-56-amd64": entry}}
    assert module.commands[-1] == ["/usr/bin/depmod", "-a", "6.1.0-56-amd64"]


def test_removed_module_file_stays_removed_when_the_plan_succeeds(tmp_path, monkeypatch):
    monkeypatch.setattr(_kmod, "MODULES_ROOT", str(tmp_path))
    installed = tmp_path / "6.1.0-56-amd64" / "updates" / "ovpnfleet-dco" / "ovpn-dco-v2.ko"
    installed.parent.mkdir(parents=True)
    installed.write_bytes(b"module built from source")
    record = {"kernels": {"6.1.0-56-amd64": {"path": str(installed)}}}
    run = _kmod_runner.KmodRunner(RecordingModule(), OVPN_DCO_V2, {})
    run.execute([{"action": "remove_ko", "path": str(installed), "kernel": "6.1.0-56-amd64"}], record)
    assert not installed.exists()
    assert record == {"kernels": {}}


# File errors become the collection's errors, naming what was being done -------------------------
def test_missing_source_file_is_named_not_a_traceback(tmp_path):
    missing = str(tmp_path / "gone.tar.gz")
    with pytest.raises(KmodError, match=r"^read %s: No such file or directory \(%s\)$" % (missing, missing)):
        runner(missing, "0" * 64).source_tree()


def test_src_subdir_missing_from_the_archive_says_so(tmp_path):
    src, sha = tarball(tmp_path, {"ovpn-dco-1/Makefile": b"all:\n"})
    with pytest.raises(KmodError, match=r"^find the source tree in .*: it has no directory usr/src/ovpn-dco-1; "
                                        r"set src_subdir"):
        runner(src, sha, subdir="usr/src/ovpn-dco-1").source_tree()


@pytest.mark.parametrize("error, cause", [
    (FileNotFoundError(2, "No such file or directory", "/var/tmp/build"),
     "No such file or directory (/var/tmp/build)"),
    (OSError(5, "Input/output error"), "Input/output error"),
    (OSError(), "OSError"),
    (UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"), "can't decode byte 0xff"),
])
def test_a_step_failing_on_a_file_names_the_step(monkeypatch, error, cause):
    run = _kmod_runner.KmodRunner(RecordingModule(), OVPN_DCO_V2, {})

    def fails(step):
        raise error

    monkeypatch.setattr(run, "do_make_install", fails)
    step = {"action": "make_install", "kernel": "6.1.0-56-amd64",
            "describe": "compile ovpn-dco-v2 1.0 for 6.1.0-56-amd64"}
    with pytest.raises(KmodError) as raised:
        run.execute([step], {})
    assert str(raised.value).startswith("compile ovpn-dco-v2 1.0 for 6.1.0-56-amd64: ")
    assert cause in str(raised.value)
    assert "None" not in str(raised.value) and "[Errno" not in str(raised.value)


def test_copying_a_vanished_source_tree_is_an_error_naming_the_step(tmp_path):
    run = _kmod_runner.KmodRunner(RecordingModule(), OVPN_DCO_V2, {"src_sha256": "0" * 64})
    run.source_tree = lambda: str(tmp_path / "vanished")
    step = {"action": "make_install", "kernel": "6.1.0-56-amd64", "ko_in_tree": "x.ko",
            "describe": "compile ovpn-dco-v2 1.0 for 6.1.0-56-amd64"}
    with pytest.raises(KmodError, match=r"^compile ovpn-dco-v2 1.0 for 6.1.0-56-amd64: No such file"):
        run.execute([step], {})


def test_file_that_is_no_module_is_refused_without_none_in_the_message(tmp_path):
    ko = tmp_path / "x.ko"
    ko.write_bytes(b"not an ELF file")
    run = _kmod_runner.KmodRunner(RecordingModule(), OVPN_DCO_V2, {"artifact": str(ko), "artifact_sha256": None})
    with pytest.raises(KmodError, match=r"^install .*x\.ko for kernel 6.1.0-56-amd64: modinfo found no "
                                        r"vermagic in it") as error:
        run.do_artifact_install({"kernel": "6.1.0-56-amd64"})
    assert "None" not in str(error.value)
