# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pki module against bad input and bad existing state: it checks everything before it
writes anything, repairs key modes, refuses unknown revocations, converges near CA expiry,
and fails with messages (never tracebacks, never key material)."""

from __future__ import annotations

import datetime
import json
import os
import signal
import stat

import pytest
from ansible.module_utils import basic

from ansible_collections.ovpnfleet.dco.plugins.module_utils.pki import _certificates as _pki
from ansible_collections.ovpnfleet.dco.plugins.modules import pki

ARGS = {"servers": [{"name": "vpn1", "subject_alt_names": ["192.0.2.10"]}],
        "clients": [{"name": "alice"}, {"name": "bob"}], "tls_crypt": True, "tls_crypt_v2": True}
SECRET_FILES = ("private/ca.key", "servers/vpn1.key", "clients/alice.key", "tls-crypt.key",
                "tls-crypt-v2/server.key", "tls-crypt-v2/clients/bob.key")
SECRET_DIRS = ("private", "servers", "clients", "tls-crypt-v2", "tls-crypt-v2/clients")
RESERVED = {"failed", "skipped", "invocation", "results", "ansible_facts", "rc", "stdout", "stderr",
            "stdout_lines", "stderr_lines", "exception", "deprecations", "diff", "backup_file"}


def run(run_module, path, check_mode=False, **changes):
    return run_module(pki.main, dict(ARGS, path=str(path), **changes), check_mode=check_mode)


def snapshot(root):
    """Every file and directory under root with its mode and content."""
    tree = {}
    for base, dirs, files in os.walk(str(root)):
        for name in dirs + files:
            full = os.path.join(base, name)
            info = os.lstat(full)
            content = open(full, "rb").read() if stat.S_ISREG(info.st_mode) else None
            tree[os.path.relpath(full, str(root))] = (stat.S_IMODE(info.st_mode), content)
    return tree


def write_ca(directory, now, valid_days=3650, common_name="Their CA"):
    """A CA of one's own, outside the PKI directory."""
    directory.mkdir(parents=True)
    key = _pki.new_private_key("ec")
    cert = _pki.build_ca(key, common_name, valid_days, now)
    (directory / "ca.crt").write_text(_pki.certificate_pem(cert))
    (directory / "ca.key").write_text(_pki.private_key_pem(key))
    os.chmod(directory / "ca.key", 0o600)
    return {"cert_path": str(directory / "ca.crt"), "key_path": str(directory / "ca.key")}


@pytest.fixture
def warnings(monkeypatch):
    """What the module passed to AnsibleModule.warn."""
    seen = []
    monkeypatch.setattr(basic.AnsibleModule, "warn", lambda self, warning: seen.append(warning))
    return seen


def at(monkeypatch, when):
    monkeypatch.setattr(_pki, "utc_now", lambda: when)


def assert_clean(result, warnings=()):
    assert not RESERVED & set(result), sorted(RESERVED & set(result))
    assert all(isinstance(warning, str) for warning in warnings)


# Defect class 4: nothing is written before every input and every existing file is checked.

def test_own_ca_with_a_key_that_does_not_match_writes_nothing(run_module, tmp_path):
    theirs = write_ca(tmp_path / "theirs", _pki.utc_now())
    other = write_ca(tmp_path / "other", _pki.utc_now())
    ca = {"cert_path": theirs["cert_path"], "key_path": other["key_path"]}
    failed, result = run(run_module, tmp_path / "pki", ca=ca)
    assert failed and "private key does not match its certificate" in result["msg"]
    assert not (tmp_path / "pki").exists()


def test_expired_own_ca_is_refused_before_anything_is_written(run_module, tmp_path):
    ca = write_ca(tmp_path / "theirs", _pki.utc_now() - datetime.timedelta(days=400), valid_days=365)
    failed, result = run(run_module, tmp_path / "pki", ca=ca)
    assert failed and "expired" in result["msg"], result
    assert not (tmp_path / "pki").exists()


def test_own_ca_that_is_no_ca_is_refused(run_module, tmp_path):
    run(run_module, tmp_path / "first")
    ca = {"cert_path": str(tmp_path / "first" / "servers" / "vpn1.crt"),
          "key_path": str(tmp_path / "first" / "servers" / "vpn1.key")}
    failed, result = run(run_module, tmp_path / "pki", ca=ca)
    assert failed and "not a CA" in result["msg"], result
    assert not (tmp_path / "pki").exists()


@pytest.mark.parametrize("relative,content", [
    ("crl.pem", "-----BEGIN X509 CRL-----\nnot a crl\n-----END X509 CRL-----\n"),
    ("tls-crypt.key", "not a key\n"),
    ("tls-crypt-v2/server.key", "not a key\n"),
    ("index.json", '{"crl_number": 1, "revoked": [{"serial": "zz"}]}\n'),
    ("index.json", "[1, 2]\n"),
    ("clients/bob.crt", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
])
def test_broken_existing_state_fails_before_any_write(run_module, tmp_path, relative, content):
    run(run_module, tmp_path)
    (tmp_path / relative).write_text(content)
    before = snapshot(tmp_path)
    failed, result = run(run_module, tmp_path, servers=[{"name": "vpn0"}, {"name": "vpn1", "subject_alt_names": ["192.0.2.10"]}],
                         clients=[{"name": "alice"}, {"name": "bob"}, {"name": "carol"}])
    assert failed, result
    assert isinstance(result["msg"], str) and relative.split("/")[-1] in result["msg"]
    assert snapshot(tmp_path) == before


def test_half_a_ca_is_refused_not_replaced(run_module, tmp_path):
    run(run_module, tmp_path)
    (tmp_path / "private" / "ca.key").unlink()
    before = snapshot(tmp_path)
    failed, result = run(run_module, tmp_path)
    assert failed and "ca.key" in result["msg"], result
    assert snapshot(tmp_path) == before


# Defect class 5: secrets with loose modes are repaired and reported, honouring check mode.

@pytest.mark.parametrize("relative,loose,strict", [(name, 0o644, 0o600) for name in SECRET_FILES]
                         + [(name, 0o755, 0o700) for name in SECRET_DIRS])
def test_loose_modes_on_secrets_are_fixed_and_reported(run_module, tmp_path, relative, loose, strict):
    run(run_module, tmp_path)
    os.chmod(tmp_path / relative, loose)
    failed, result = run(run_module, tmp_path, check_mode=True)
    assert not failed and result["changed"], result
    assert [entry["path"] for entry in result["modes_fixed"]] == [str(tmp_path / relative)]
    assert stat.S_IMODE(os.stat(tmp_path / relative).st_mode) == loose
    failed, result = run(run_module, tmp_path)
    assert not failed and result["changed"]
    assert result["modes_fixed"] == [{"path": str(tmp_path / relative), "before": "%04o" % loose, "after": "%04o" % strict}]
    assert stat.S_IMODE(os.stat(tmp_path / relative).st_mode) == strict
    failed, result = run(run_module, tmp_path)
    assert not failed and result["changed"] is False and result["modes_fixed"] == []


def test_readable_own_ca_key_is_a_warning(run_module, tmp_path, warnings):
    ca = write_ca(tmp_path / "theirs", _pki.utc_now())
    os.chmod(ca["key_path"], 0o644)
    failed, result = run(run_module, tmp_path / "pki", ca=ca)
    assert not failed
    assert any(ca["key_path"] in warning and "0644" in warning for warning in warnings), warnings


# Defect class 6: revoking what does not exist fails and names what does.

@pytest.mark.parametrize("entry,known", [
    ({"name": "carol"}, "alice, bob"),
    ({"name": "vpn1", "kind": "client"}, "alice, bob"),
    ({"name": "alice", "kind": "server"}, "vpn1"),
])
def test_revoking_an_unknown_name_fails_with_the_known_ones(run_module, tmp_path, entry, known):
    run(run_module, tmp_path, clients=[{"name": "alice"}, {"name": "bob"}])
    before = snapshot(tmp_path)
    failed, result = run(run_module, tmp_path, clients=[], servers=[], revoked=[entry])
    assert failed, result
    assert entry["name"] in result["msg"] and known in result["msg"], result["msg"]
    assert snapshot(tmp_path) == before


def test_revoked_names_stay_known(run_module, tmp_path):
    run(run_module, tmp_path)
    failed, result = run(run_module, tmp_path, clients=[{"name": "alice"}], revoked=[{"name": "bob"}])
    assert not failed and result["changed"]
    failed, result = run(run_module, tmp_path, clients=[], servers=[], revoked=[{"name": "carol"}])
    assert failed and "alice, bob" in result["msg"], result
    failed, result = run(run_module, tmp_path, clients=[{"name": "alice"}], revoked=[{"name": "bob"}])
    assert not failed and result["changed"] is False


# Defect class 7: near CA expiry nothing loops; renewing the CA is asked for and reported.

def test_ca_inside_the_renew_window_converges(run_module, tmp_path, monkeypatch, warnings):
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    at(monkeypatch, start)
    failed, first = run(run_module, tmp_path)
    assert not failed
    at(monkeypatch, start + datetime.timedelta(days=3640))
    failed, second = run(run_module, tmp_path)
    assert not failed and second["changed"], second
    assert second["ca"]["changed"] is False
    at(monkeypatch, start + datetime.timedelta(days=3640, hours=1))
    failed, third = run(run_module, tmp_path)
    assert not failed and third["changed"] is False, [c["reasons"] for c in third["certificates"]]
    assert [c["serial"] for c in third["certificates"]] == [c["serial"] for c in second["certificates"]]
    assert any("CA" in warning and "ca.renew" in warning for warning in warnings), warnings


def test_ca_renewal_is_asked_for_keeps_the_key_and_converges(run_module, tmp_path, monkeypatch):
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    at(monkeypatch, start)
    run(run_module, tmp_path)
    key_before = (tmp_path / "private" / "ca.key").read_bytes()
    at(monkeypatch, start + datetime.timedelta(days=3640))
    failed, renewed = run(run_module, tmp_path, ca={"renew": True})
    assert not failed, renewed
    assert renewed["ca"]["changed"] and renewed["ca"]["days_left"] > 3000, renewed["ca"]
    assert renewed["ca"]["reasons"] and "renew" in renewed["ca"]["reasons"][0]
    assert (tmp_path / "private" / "ca.key").read_bytes() == key_before
    assert all(cert["changed"] for cert in renewed["certificates"])
    failed, again = run(run_module, tmp_path, ca={"renew": True})
    assert not failed and again["changed"] is False, again


def test_expired_own_made_ca_needs_renew(run_module, tmp_path, monkeypatch):
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    at(monkeypatch, start)
    run(run_module, tmp_path)
    at(monkeypatch, start + datetime.timedelta(days=3700))
    before = snapshot(tmp_path)
    failed, result = run(run_module, tmp_path)
    assert failed and "expired" in result["msg"] and "ca.renew" in result["msg"], result
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("changes,bad", [
    ({"clients": [{"name": "alice", "valid_days": 10}]}, "valid_days"),
    ({"crl_valid_days": 20}, "crl_valid_days"),
    ({"ca": {"valid_days": 30}}, "ca.valid_days"),
])
def test_lifetimes_inside_the_renew_window_are_refused(run_module, tmp_path, changes, bad):
    failed, result = run(run_module, tmp_path, **changes)
    assert failed and bad in result["msg"] and "renew_before_days" in result["msg"], result
    assert not os.listdir(tmp_path)


# Defect class 12: names, common names and subject alternative names are checked first.

@pytest.mark.parametrize("changes,bad", [
    ({"clients": [{"name": "alice\n"}]}, "'alice\\n'"),
    ({"clients": [{"name": "a" * 65}]}, "a" * 65),
    ({"revoked": [{"name": "bob\n"}], "clients": []}, "'bob\\n'"),
    ({"clients": [{"name": "alice", "common_name": "alice\n"}]}, "'alice\\n'"),
    ({"clients": [{"name": "alice", "common_name": "alice\x00x"}]}, "'alice\\x00x'"),
    ({"ca": {"common_name": "CA\r\n"}}, "'CA\\r\\n'"),
    ({"servers": [{"name": "vpn1", "subject_alt_names": ["192.0.2.300"]}]}, "'192.0.2.300'"),
    ({"servers": [{"name": "vpn1", "subject_alt_names": ["fe80::1%eth0"]}]}, "'fe80::1%eth0'"),
    ({"servers": [{"name": "vpn1", "subject_alt_names": ["bad_host.example.org"]}]}, "'bad_host.example.org'"),
    ({"servers": [{"name": "vpn1", "subject_alt_names": ["-vpn.example.org"]}]}, "'-vpn.example.org'"),
    ({"servers": [{"name": "vpn1", "subject_alt_names": ["vpn1.example.org\n"]}]}, "'vpn1.example.org\\n'"),
    ({"servers": [{"name": "vpn1", "subject_alt_names": ["a" * 64 + ".example.org"]}]}, "a" * 64),
    ({"servers": [{"name": "vpn1", "subject_alt_names": [""]}]}, "''"),
])
def test_bad_names_are_refused_before_anything_is_written(run_module, tmp_path, changes, bad):
    failed, result = run(run_module, tmp_path, **changes)
    assert failed and bad in result["msg"], result
    assert not os.listdir(tmp_path)


def test_good_alt_names_are_accepted_and_kept(run_module, tmp_path):
    servers = [{"name": "vpn1", "common_name": "vpn1.example.org",
                "subject_alt_names": ["vpn1.example.org", "2001:DB8::1", "192.0.2.10", "xn--bcher-kva.example"]}]
    failed, result = run(run_module, tmp_path, servers=servers)
    assert not failed, result
    failed, again = run(run_module, tmp_path, servers=servers)
    assert not failed and again["changed"] is False


# Defect class 13: messages instead of tracebacks, no key material, no reserved keys.

@pytest.mark.parametrize("breakage", ["path_is_a_file", "key_is_a_directory", "private_is_a_file"])
def test_odd_files_fail_with_a_message(run_module, tmp_path, breakage):
    target = tmp_path / "pki"
    if breakage == "path_is_a_file":
        target.write_text("x")
    else:
        run(run_module, target)
        if breakage == "key_is_a_directory":
            (target / "clients" / "alice.key").unlink()
            (target / "clients" / "alice.key").mkdir()
        else:
            for name in os.listdir(target / "private"):
                (target / "private" / name).unlink()
            (target / "private").rmdir()
            (target / "private").write_text("x")
    failed, result = run(run_module, target)
    assert failed and isinstance(result["msg"], str), result
    assert str(target) in result["msg"]


def test_a_fifo_in_place_of_a_key_is_refused_not_read(run_module, tmp_path):
    run(run_module, tmp_path)
    (tmp_path / "tls-crypt.key").unlink()
    os.mkfifo(tmp_path / "tls-crypt.key")

    def hung(signum, frame):
        raise AssertionError("the module blocked reading a FIFO")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(10)
    try:
        failed, result = run(run_module, tmp_path)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert failed and "not a regular file" in result["msg"], result


@pytest.mark.parametrize("changes,bad", [
    ({"rsa_bits": 512, "key_type": "rsa"}, "rsa_bits"),
    ({"clients": [{"name": "alice", "valid_days": 10 ** 9}]}, "valid_days"),
    ({"renew_before_days": -1}, "renew_before_days"),
])
def test_out_of_range_numbers_fail_with_a_message(run_module, tmp_path, changes, bad):
    failed, result = run(run_module, tmp_path, **changes)
    assert failed and bad in result["msg"], result
    assert not os.listdir(tmp_path)


def test_a_broken_key_is_not_echoed(run_module, tmp_path):
    run(run_module, tmp_path)
    secret = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgSECRETSECRETSECRET"
    (tmp_path / "clients" / "alice.key").write_text(
        "-----BEGIN PRIVATE KEY-----\n%s\n-----END PRIVATE KEY-----\n" % secret)
    (tmp_path / "tls-crypt.key").write_text("#\n-----BEGIN OpenVPN Static key V1-----\n%s\n" % secret)
    for changes in ({}, {"tls_crypt": False}):
        failed, result = run(run_module, tmp_path, **changes)
        assert failed and "SECRET" not in json.dumps(result), result
        assert_clean(result)


def test_results_carry_no_reserved_keys(run_module, tmp_path, warnings):
    for check_mode in (True, False, False):
        failed, result = run(run_module, tmp_path, check_mode=check_mode, revoked=[])
        assert not failed
        assert_clean(result, warnings)
        assert "PRIVATE KEY" not in json.dumps(result)


def test_revoking_with_the_wrong_kind_says_which_kind(run_module, tmp_path):
    run(run_module, tmp_path)
    failed, result = run(run_module, tmp_path, clients=[], servers=[], revoked=[{"name": "alice", "kind": "server"}])
    assert failed and "set kind: client" in result["msg"], result


def test_a_converged_directory_is_unchanged_under_check_mode(run_module, tmp_path):
    run(run_module, tmp_path)
    before = snapshot(tmp_path)
    failed, result = run(run_module, tmp_path, check_mode=True)
    assert not failed and result["changed"] is False, result
    assert snapshot(tmp_path) == before


def test_own_ca_near_its_end_is_a_warning_and_converges(run_module, tmp_path, warnings):
    ca = write_ca(tmp_path / "theirs", _pki.utc_now(), valid_days=20)
    failed, first = run(run_module, tmp_path / "pki", ca=ca)
    assert not failed and first["changed"], first
    failed, second = run(run_module, tmp_path / "pki", ca=ca)
    assert not failed and second["changed"] is False, [c["reasons"] for c in second["certificates"]]
    assert any(ca["cert_path"] in warning and "where it was made" in warning for warning in warnings), warnings
