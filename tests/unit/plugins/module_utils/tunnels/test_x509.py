# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The standard-library certificate reader against cryptography, which made and reads the same PEM.

tunnel_info used cryptography.x509 on the hosts; the expected values here are what cryptography
says of each certificate and CRL, so the two readers must agree on every name and time.
"""

from __future__ import annotations

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.ovpnfleet.dco.plugins.module_utils.tunnels import _x509

KEY = ec.generate_private_key(ec.SECP256R1())
UTC = datetime.timezone.utc


def certificate(name, not_after, version_field=True):
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(KEY.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(datetime.datetime(2020, 1, 1, tzinfo=UTC)).not_valid_after(not_after))
    cert = builder.sign(KEY, hashes.SHA256())
    return cert, cert.public_bytes(serialization.Encoding.PEM)


def not_after_of(cert):
    value = getattr(cert, "not_valid_after_utc", None)
    return value if value is not None else cert.not_valid_after.replace(tzinfo=UTC)


@pytest.mark.parametrize("not_after", [
    datetime.datetime(2029, 3, 5, 7, 15, 31, tzinfo=UTC),      # UTCTime
    datetime.datetime(2049, 12, 31, 23, 59, 59, tzinfo=UTC),   # the last UTCTime year
    datetime.datetime(2050, 1, 1, 0, 0, 0, tzinfo=UTC),        # GeneralizedTime from 2050 on
    datetime.datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC),   # RFC 5280's "no expiry"
])
def test_not_after_is_cryptographys(not_after):
    cert, pem = certificate(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "lab-server")]), not_after)
    facts = _x509.certificate_facts(pem)
    assert facts["not_after"] == not_after_of(cert) == not_after
    assert facts["subject"] == cert.subject.rfc4514_string() == "CN=lab-server"


NAME_OIDS = [NameOID.COMMON_NAME, NameOID.ORGANIZATION_NAME, NameOID.ORGANIZATIONAL_UNIT_NAME, NameOID.LOCALITY_NAME,
             NameOID.STATE_OR_PROVINCE_NAME, NameOID.STREET_ADDRESS, NameOID.DOMAIN_COMPONENT, NameOID.USER_ID,
             NameOID.EMAIL_ADDRESS]
VALUES = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"), min_size=1, max_size=20)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(st.tuples(st.sampled_from(NAME_OIDS), VALUES), min_size=1, max_size=2, unique_by=repr),
                min_size=1, max_size=4))
def test_any_subject_reads_as_cryptographys_rfc4514_string(rdns):
    name = x509.Name([x509.RelativeDistinguishedName([x509.NameAttribute(oid, value) for oid, value in rdn])
                      for rdn in rdns])
    cert, pem = certificate(name, datetime.datetime(2030, 1, 1, tzinfo=UTC))
    assert _x509.certificate_facts(pem)["subject"] == cert.subject.rfc4514_string()


def test_country_and_special_characters_read_too():
    name = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "DE"),
                      x509.NameAttribute(NameOID.COMMON_NAME, "#a, b+c;<d> \\e ")])
    cert, pem = certificate(name, datetime.datetime(2030, 1, 1, tzinfo=UTC))
    assert _x509.certificate_facts(pem)["subject"] == cert.subject.rfc4514_string()


def test_the_first_certificate_of_a_bundle_is_read():
    first, pem_first = certificate(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "one")]), datetime.datetime(2031, 1, 1, tzinfo=UTC))
    _second, pem_second = certificate(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "two")]), datetime.datetime(2032, 1, 1, tzinfo=UTC))
    assert _x509.certificate_facts(b"junk\n" + pem_first + pem_second)["subject"] == "CN=one"


@pytest.mark.parametrize("next_update", [datetime.datetime(2027, 6, 1, 12, 0, 0, tzinfo=UTC),
                                         datetime.datetime(2051, 6, 1, 12, 0, 0, tzinfo=UTC)])
def test_crl_next_update_is_cryptographys(next_update):
    issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "lab-ca")])
    revoked = (x509.RevokedCertificateBuilder().serial_number(7)
               .revocation_date(datetime.datetime(2026, 1, 1, tzinfo=UTC)).build())
    crl = (x509.CertificateRevocationListBuilder().issuer_name(issuer)
           .last_update(datetime.datetime(2026, 11, 1, tzinfo=UTC)).next_update(next_update)
           .add_revoked_certificate(revoked).sign(KEY, hashes.SHA256()))
    pem = crl.public_bytes(serialization.Encoding.PEM)
    expected = getattr(crl, "next_update_utc", None) or crl.next_update.replace(tzinfo=UTC)
    assert _x509.crl_next_update(pem) == expected == next_update


@pytest.mark.parametrize("data, words", [
    (b"no pem here", "no CERTIFICATE"),
    (b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n", "not valid base64"),
    (b"-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\n", "to-be-signed"),
    (b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", "ends early"),
])
def test_what_is_not_a_certificate_says_why(data, words):
    with pytest.raises(ValueError, match=words):
        _x509.certificate_facts(data)


@pytest.mark.parametrize("value", [" ", "  ", "# x ", "a\\ "])
def test_leading_and_trailing_spaces_are_escaped_once(value):
    cert, pem = certificate(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, value)]), datetime.datetime(2030, 1, 1, tzinfo=UTC))
    assert _x509.certificate_facts(pem)["subject"] == cert.subject.rfc4514_string()
