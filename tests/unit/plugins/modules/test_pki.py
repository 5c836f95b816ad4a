# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pki module on a real directory: idempotence, check mode, revocation, modes, no secrets out."""

from __future__ import annotations

import json
import os
import stat

from cryptography import x509

from ansible_collections.ovpnfleet.dco.plugins.module_utils.pki import _tls_crypt as tls_crypt
from ansible_collections.ovpnfleet.dco.plugins.modules import pki

ARGS = {"servers": [{"name": "vpn1", "subject_alt_names": ["192.0.2.10"]}],
        "clients": [{"name": "alice"}, {"name": "bob"}], "tls_crypt": True, "tls_crypt_v2": True}


def run(run_module, path, check_mode=False, **changes):
    return run_module(pki.main, dict(ARGS, path=str(path), **changes), check_mode=check_mode)


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_first_run_issues_everything_then_nothing_changes(run_module, tmp_path):
    failed, first = run(run_module, tmp_path)
    assert not failed, first
    assert first["changed"] and first["ca"]["changed"]
    assert [(cert["kind"], cert["name"], cert["reasons"][0]) for cert in first["certificates"]] == [
        ("server", "vpn1", "missing"), ("client", "alice", "missing"), ("client", "bob", "missing")]
    failed, second = run(run_module, tmp_path)
    assert not failed and second["changed"] is False
    assert [cert["serial"] for cert in second["certificates"]] == [cert["serial"] for cert in first["certificates"]]


def test_keys_are_private_and_never_returned(run_module, tmp_path):
    failed, result = run(run_module, tmp_path)
    assert not failed
    for relative in ("private/ca.key", "servers/vpn1.key", "clients/alice.key", "tls-crypt.key",
                     "tls-crypt-v2/server.key", "tls-crypt-v2/clients/bob.key"):
        assert mode(tmp_path / relative) == 0o600, relative
    for relative in ("private", "servers", "clients", "tls-crypt-v2"):
        assert mode(tmp_path / relative) == 0o700, relative
    text = json.dumps(result)
    assert "PRIVATE KEY" not in text and "tls-crypt-v2 client key-----" not in text
    for relative in ("servers/vpn1.key", "tls-crypt-v2/clients/alice.key"):
        body = (tmp_path / relative).read_text().splitlines()[1]
        assert body not in text


def test_check_mode_writes_nothing(run_module, tmp_path):
    failed, result = run(run_module, tmp_path / "pki", check_mode=True)
    assert not failed and result["changed"]
    assert not (tmp_path / "pki").exists()


def test_revocation_moves_the_certificate_into_the_crl(run_module, tmp_path):
    run(run_module, tmp_path)
    bob = x509.load_pem_x509_certificate((tmp_path / "clients" / "bob.crt").read_bytes())
    failed, result = run(run_module, tmp_path, clients=[{"name": "alice"}], revoked=[{"name": "bob"}])
    assert not failed, result
    assert [entry["serial"] for entry in result["revoked"]] == ["%x" % bob.serial_number]
    crl = x509.load_pem_x509_crl((tmp_path / "crl.pem").read_bytes())
    assert crl.get_revoked_certificate_by_serial_number(bob.serial_number) is not None
    assert not (tmp_path / "clients" / "bob.key").exists()
    assert not (tmp_path / "tls-crypt-v2" / "clients" / "bob.key").exists()
    assert (tmp_path / "revoked" / ("client-bob-%x.crt" % bob.serial_number)).exists()
    failed, again = run(run_module, tmp_path, clients=[{"name": "alice"}], revoked=[{"name": "bob"}])
    assert not failed and again["changed"] is False


def test_client_keys_are_wrapped_with_the_server_key(run_module, tmp_path):
    run(run_module, tmp_path)
    server_key = tls_crypt.read_v2_server_key((tmp_path / "tls-crypt-v2" / "server.key").read_text())
    meta = tls_crypt.unwrap_v2_client_key(server_key, (tmp_path / "tls-crypt-v2" / "clients" / "alice.key").read_text())
    assert meta["metadata_type"] == tls_crypt.METADATA_TYPE_TIMESTAMP


def test_a_changed_wish_reissues_only_that_certificate(run_module, tmp_path):
    failed, first = run(run_module, tmp_path)
    servers = [{"name": "vpn1", "subject_alt_names": ["192.0.2.10", "vpn1.example.org"]}]
    failed, second = run(run_module, tmp_path, servers=servers)
    assert not failed
    assert [(cert["name"], cert["reasons"]) for cert in second["certificates"] if cert["changed"]] == [
        ("vpn1", ["subject alternative names changed"])]


def test_bring_your_own_ca(run_module, tmp_path):
    run(run_module, tmp_path / "theirs")
    ca = {"cert_path": str(tmp_path / "theirs" / "ca.crt"), "key_path": str(tmp_path / "theirs" / "private" / "ca.key")}
    failed, result = run(run_module, tmp_path / "ours", ca=ca)
    assert not failed, result
    assert (tmp_path / "ours" / "ca.crt").read_bytes() == (tmp_path / "theirs" / "ca.crt").read_bytes()
    assert not (tmp_path / "ours" / "private" / "ca.key").exists()


def test_bad_input_is_refused_with_what_to_do(run_module, tmp_path):
    failed, result = run(run_module, tmp_path, revoked=[{"name": "alice"}])
    assert failed and "client alice is both asked for and revoked" in result["msg"]
    failed, result = run(run_module, tmp_path, clients=[{"name": "../etc"}])
    assert failed and "use letters, digits" in result["msg"]
    (tmp_path / "mismatch").mkdir()
    run(run_module, tmp_path / "a")
    run(run_module, tmp_path / "b")
    ca = {"cert_path": str(tmp_path / "a" / "ca.crt"), "key_path": str(tmp_path / "b" / "private" / "ca.key")}
    failed, result = run(run_module, tmp_path / "mismatch", ca=ca)
    assert failed and "private key does not match its certificate" in result["msg"]
