# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import hashlib

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from ansible_collections.ovpnfleet.dco.plugins.module_utils._errors import CommandError
from ansible_collections.ovpnfleet.dco.plugins.module_utils.kmod import _signing
from ansible_collections.ovpnfleet.dco.plugins.module_utils.kmod._signing import SigningError


@pytest.fixture(scope="module")
def pair():
    return _signing.new_signing_key("lab module signing", 30)


def test_generated_key_is_a_code_signing_certificate_mokutil_takes(pair):
    key_pem, cert_der = pair
    cert = x509.load_der_x509_certificate(cert_der)  # DER: what mokutil --import reads
    assert cert.public_key().key_size == 2048
    assert ExtendedKeyUsageOID.CODE_SIGNING in cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    assert key_pem.startswith(b"-----BEGIN PRIVATE KEY-----")  # unencrypted, as sign-file reads it
    assert _signing.key_matches_certificate(key_pem, cert_der, "/k")


def test_other_key_does_not_match(pair):
    other_key, _cert = _signing.new_signing_key("other", 30)
    assert not _signing.key_matches_certificate(other_key, pair[1], "/k")


def test_pem_certificate_becomes_der_and_garbage_is_refused(pair):
    cert = x509.load_der_x509_certificate(pair[1])
    from cryptography.hazmat.primitives import serialization
    assert _signing.certificate_der(cert.public_bytes(serialization.Encoding.PEM), "/c.pem") == pair[1]
    assert _signing.certificate_der(pair[1], "/c.der") == pair[1]
    with pytest.raises(SigningError, match="read the certificate /c: it is neither DER nor PEM"):
        _signing.certificate_der(b"not a certificate", "/c")


@pytest.mark.parametrize("out, expected", [
    ("/var/lib/ovpnfleet-dco/signing/cert.der is already enrolled\n", _signing.MOK_ENROLLED),
    ("/var/lib/ovpnfleet-dco/signing/cert.der is not enrolled\n", _signing.MOK_NOT_ENROLLED),
    # mokutil 0.6.0 on the lab Secure Boot VM (Debian 12) after mokutil --import:
    ("/var/lib/ovpnfleet-dco/signing/cert.der is already in the enrollment request\n", _signing.MOK_PENDING),
    ("EFI variables are not supported on this system\n", _signing.MOK_NO_EFI),
])
def test_test_key_output(out, expected):
    assert _signing.parse_test_key(0, out, "") == expected


def test_unknown_test_key_output_fails_with_the_command():
    with pytest.raises(CommandError, match="mokutil --test-key exited 2"):
        _signing.parse_test_key(2, "", "Failed to something new")


def test_pending_request_is_found_by_its_sha1_in_list_new(pair):
    sha1 = hashlib.sha1(pair[1]).hexdigest()
    listing = "[key 1]\nSHA1 Fingerprint: %s\nCertificate:\n ..." % ":".join(
        sha1[i:i + 2] for i in range(0, 40, 2))
    assert _signing.in_listing(listing, pair[1])
    assert not _signing.in_listing("MokNew is empty\n", pair[1])


@pytest.mark.parametrize("password", ["", "a\nb", "x" * 257, None])
def test_password_must_be_typeable_at_the_console(password):
    with pytest.raises(SigningError, match="mok_password must be 1 to 256 characters"):
        _signing.check_password(password)


def test_signature_magic_at_the_end_only(tmp_path):
    signed, unsigned, tiny = tmp_path / "s.ko", tmp_path / "u.ko", tmp_path / "t.ko"
    signed.write_bytes(b"ELF" * 100 + _signing.MODULE_SIGNATURE_MAGIC)
    unsigned.write_bytes(_signing.MODULE_SIGNATURE_MAGIC + b"ELF")
    tiny.write_bytes(b"x")
    assert _signing.has_module_signature(str(signed))
    assert not _signing.has_module_signature(str(unsigned))
    assert not _signing.has_module_signature(str(tiny))


@pytest.mark.parametrize("state, words", [
    (_signing.MOK_PENDING, "at the next boot, at the console"),
    (_signing.MOK_NOT_ENROLLED, "mokutil --import /c.der"),
])
def test_console_steps_say_what_the_person_does(state, words):
    assert words in _signing.console_steps(state, "/c.der", "ab" * 32)
    assert "ab" * 32 in _signing.console_steps(state, "/c.der", "ab" * 32)


@pytest.mark.parametrize("state", [_signing.MOK_ENROLLED, _signing.MOK_NO_EFI])
def test_nothing_for_the_console(state):
    assert _signing.console_steps(state, "/c.der", "ab") == ""
