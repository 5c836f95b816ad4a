# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Certificate decisions: what is issued, and when a certificate on disk must be replaced."""

from __future__ import annotations

import datetime
import re

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from ansible_collections.ovpnfleet.dco.plugins.module_utils.pki import _certificates as pki

NOW = datetime.datetime(2026, 11, 25, 12, 0, tzinfo=datetime.timezone.utc)
WANTED = {"common_name": "vpn1", "subject_alt_names": ["vpn1.example.org", "192.0.2.10"], "valid_days": 825}


@pytest.fixture(scope="module")
def ca():
    key = pki.new_private_key("ec")
    return pki.build_ca(key, "Test CA", 3650, NOW), key


def issue(ca, kind="server", key_type="ec", wanted=None, now=NOW):
    key = pki.new_private_key(key_type, rsa_bits=2048)
    return pki.build_leaf(kind, key, wanted or WANTED, ca[0], ca[1], now), key


@pytest.mark.parametrize("kind,key_type,usage,encipher,agree", [
    ("server", "ec", ExtendedKeyUsageOID.SERVER_AUTH, False, True),
    ("client", "ec", ExtendedKeyUsageOID.CLIENT_AUTH, False, True),
    ("server", "rsa", ExtendedKeyUsageOID.SERVER_AUTH, True, False),
])
def test_leaf_usages_are_what_remote_cert_tls_checks(ca, kind, key_type, usage, encipher, agree):
    cert = issue(ca, kind, key_type)[0]
    assert list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [usage]
    key_usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert key_usage.digital_signature and key_usage.key_encipherment is encipher and key_usage.key_agreement is agree
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    cert.verify_directly_issued_by(ca[0])


def test_ca_can_sign_certificates_and_crls(ca):
    usage = ca[0].extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign and usage.crl_sign
    assert ca[0].extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True


def test_leaf_never_outlives_the_ca():
    key = pki.new_private_key("ec")
    short_ca = (pki.build_ca(key, "Short CA", 100, NOW), key)
    cert = issue(short_ca)[0]
    assert cert.not_valid_after_utc == short_ca[0].not_valid_after_utc


def test_a_matching_certificate_is_kept(ca):
    cert, key = issue(ca)
    assert pki.reissue_reasons("server", cert, key, WANTED, ca[0], NOW, 30) == []


@pytest.mark.parametrize("change,reason", [
    ({"common_name": "vpn2"}, "common name changed"),
    ({"subject_alt_names": ["vpn1.example.org"]}, "subject alternative names changed"),
])
def test_changed_wishes_reissue(ca, change, reason):
    cert, key = issue(ca)
    assert pki.reissue_reasons("server", cert, key, dict(WANTED, **change), ca[0], NOW, 30) == [reason]


def test_expiry_within_the_window_reissues(ca):
    cert, key = issue(ca, wanted=dict(WANTED, valid_days=40))
    assert pki.reissue_reasons("server", cert, key, WANTED, ca[0], NOW, 30) == []
    later = NOW + datetime.timedelta(days=15)
    assert pki.reissue_reasons("server", cert, key, WANTED, ca[0], later, 30) == [
        "expires in 25 days (renew_before_days 30)"]


def test_wrong_kind_key_and_ca_are_each_named(ca):
    cert, key = issue(ca)
    other_key = pki.new_private_key("ec")
    other_ca_key = pki.new_private_key("ec")
    other_ca = pki.build_ca(other_ca_key, "Other CA", 3650, NOW)
    assert pki.reissue_reasons("client", cert, key, WANTED, ca[0], NOW, 30) == [
        "extended key usage is not clientAuth only"]
    assert pki.reissue_reasons("server", cert, other_key, WANTED, ca[0], NOW, 30) == [
        "key does not match certificate"]
    assert pki.reissue_reasons("server", cert, key, WANTED, other_ca, NOW, 30) == [
        "not issued by the current CA"]
    assert pki.reissue_reasons("server", None, key, WANTED, ca[0], NOW, 30) == ["missing"]


def test_crl_lists_revocations_and_is_rebuilt_when_they_change(ca):
    cert = issue(ca)[0]
    entries = [{"serial": cert.serial_number, "date": NOW.isoformat()}]
    crl = pki.build_crl(ca[0], ca[1], entries, 1, 180, NOW)
    assert crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None
    assert pki.crl_update_reasons(crl, ca[0], [cert.serial_number], NOW, 30) == []
    assert pki.crl_update_reasons(crl, ca[0], [cert.serial_number, 7], NOW, 30) == ["revocations changed"]
    later = NOW + datetime.timedelta(days=160)
    assert pki.crl_update_reasons(crl, ca[0], [cert.serial_number], later, 30) == ["next update in 20 days"]
    assert pki.crl_update_reasons(None, ca[0], [], NOW, 30) == ["missing"]


def test_unknown_key_type_is_refused():
    with pytest.raises(pki.PkiError, match="unknown key type 'dsa'"):
        pki.new_private_key("dsa")


def test_a_certificate_that_ends_with_its_ca_is_not_reissued_in_a_loop():
    key = pki.new_private_key("ec")
    short_ca = (pki.build_ca(key, "Short CA", 100, NOW), key)
    later = NOW + datetime.timedelta(days=80)
    cert, leaf_key = issue(short_ca, now=later)
    # 20 days left, inside the window, but a new certificate would end on the same day.
    assert pki.days_left(cert, later) < 30
    assert pki.reissue_reasons("server", cert, leaf_key, WANTED, short_ca[0], later, 30) == []
    renewed = pki.renew_ca(short_ca[0], key, 3650, later)
    assert pki.reissue_reasons("server", cert, leaf_key, WANTED, renewed, later, 30) == [
        "expires in 20 days (renew_before_days 30)"]


def test_a_renewed_ca_keeps_subject_and_key_and_what_it_issued():
    key = pki.new_private_key("ec")
    old = pki.build_ca(key, "Test CA", 100, NOW)
    cert = issue((old, key))[0]
    renewed = pki.renew_ca(old, key, 3650, NOW + datetime.timedelta(days=90))
    assert renewed.subject == old.subject and pki.key_matches(renewed, key)
    assert renewed.serial_number != old.serial_number and pki.days_left(renewed, NOW) > 3700
    cert.verify_directly_issued_by(renewed)
    assert pki.ca_problem(renewed, key, NOW + datetime.timedelta(days=90)) is None


def test_what_cannot_be_a_ca_is_named(ca):
    leaf, leaf_key = issue(ca)
    assert pki.ca_problem(ca[0], pki.new_private_key("ec"), NOW) == "its private key does not match its certificate"
    assert "not a CA" in pki.ca_problem(leaf, leaf_key, NOW)
    assert "not valid before" in pki.ca_problem(ca[0], ca[1], NOW - datetime.timedelta(days=1))


@pytest.mark.parametrize("name,kind", [
    ("vpn1.example.org", str), ("xn--bcher-kva.example", str), ("localhost", str), ("a-b.c", str),
    ("192.0.2.10", "IPv4Address"), ("2001:db8::1", "IPv6Address"), ("::ffff:192.0.2.1", "IPv6Address"),
])
def test_good_alt_names(name, kind):
    value = pki.check_alt_name(name)
    assert isinstance(value, str) if kind is str else type(value).__name__ == kind


@pytest.mark.parametrize("name", [
    "", " vpn1", "vpn1.example.org\n", "vpn1.example.org.", "bad_host", "-a.example", "a-.example", "a..b",
    "*.example.org", "192.0.2.300", "192.0.2.010", "1.2.3", "fe80::1%eth0", "2001:db8:::1", "b\u00fccher.example",
    "a" * 64 + ".org", ".".join(["a" * 63] * 4) + ".org",
])
def test_bad_alt_names_are_refused_with_their_repr(name):
    with pytest.raises(pki.PkiError, match="check subject alternative name %s" % re.escape(repr(name))):
        pki.check_alt_name(name)


@pytest.mark.parametrize("check,value,good", [
    (pki.check_name, "alice", True), (pki.check_name, "a.b_c-d@e", True), (pki.check_name, "a" * 64, True),
    (pki.check_name, "alice\n", False), (pki.check_name, "a" * 65, False), (pki.check_name, "../etc", False),
    (pki.check_name, "-x", False), (pki.check_name, "al ice", False),
    (pki.check_common_name, "Example VPN CA", True), (pki.check_common_name, "2001:db8::1", True),
    (pki.check_common_name, "alice\n", False), (pki.check_common_name, "CA ", False),
    (pki.check_common_name, "a\tb", False), (pki.check_common_name, "CN=x,O=y", False), (pki.check_common_name, "", False),
])
def test_names_and_common_names(check, value, good):
    if good:
        assert check(value) == value
    else:
        with pytest.raises(pki.PkiError, match=re.escape(repr(value))):
            check(value)


@pytest.mark.parametrize("value,renew,message", [
    (0, None, "use a whole number of days from 1 to 36500"),
    (36501, None, "use a whole number of days from 1 to 36500"),
    (30, 30, "longer than renew_before_days"),
])
def test_lifetimes_out_of_range(value, renew, message):
    with pytest.raises(pki.PkiError, match=message):
        pki.check_days(value, "valid_days", renew)
    assert pki.check_days(31, "valid_days", 30) == 31


def test_parse_errors_do_not_quote_the_file():
    body = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49SECRET"
    pem = "-----BEGIN PRIVATE KEY-----\n%s\n-----END PRIVATE KEY-----\n" % body
    for load in (pki.load_private_key, pki.load_certificate, pki.load_crl):
        with pytest.raises(pki.PkiError) as caught:
            load(pem, "/pki/x.pem")
        assert "SECRET" not in str(caught.value) and "/pki/x.pem" in str(caught.value)
