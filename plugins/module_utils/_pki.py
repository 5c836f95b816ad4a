# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Certificates for OpenVPN: what to issue, when to reissue, and the CRL. Pure functions.

Key usages are the ones OpenVPN's ``remote-cert-tls server|client`` checks (src/openvpn/
ssl_verify_openssl.c: the extended key usage must name serverAuth or clientAuth, and the key
usage must allow the TLS handshake of the key type). Needs ``cryptography``: callers check
``CRYPTOGRAPHY_ERROR`` (the import traceback, or None) before using anything here.
"""

from __future__ import annotations

import datetime
import ipaddress
import traceback

from ansible_collections.ovpnfleet.dco.plugins.module_utils._errors import DcoError

try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
except ImportError:
    CRYPTOGRAPHY_ERROR = traceback.format_exc()
    EXTENDED_USAGE = {}
else:
    CRYPTOGRAPHY_ERROR = None
    EXTENDED_USAGE = {"server": ExtendedKeyUsageOID.SERVER_AUTH, "client": ExtendedKeyUsageOID.CLIENT_AUTH}

KINDS = ("server", "client")
# Issued certificates start a minute in the past so a peer whose clock runs behind accepts them.
BACKDATE = datetime.timedelta(minutes=1)


class PkiError(DcoError):
    pass


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc)


def new_private_key(key_type, rsa_bits=3072):
    if key_type == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits)
    raise PkiError("make a private key: unknown key type %r (use ec or rsa)" % key_type)


def private_key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode("ascii")


def load_private_key(pem, path):
    try:
        return serialization.load_pem_private_key(pem.encode("ascii"), password=None)
    except (ValueError, TypeError) as error:
        raise PkiError("read private key %s: %s (an encrypted key must be decrypted first)" % (path, error))


def load_certificate(pem, path):
    try:
        return x509.load_pem_x509_certificate(pem.encode("ascii"))
    except ValueError as error:
        raise PkiError("read certificate %s: %s" % (path, error))


def certificate_pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def not_after(cert):
    return cert.not_valid_after_utc


def days_left(cert, now):
    return (not_after(cert) - now).days


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _key_usage(key, ca=False):
    if ca:
        return x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                             data_encipherment=False, key_agreement=False, key_cert_sign=True,
                             crl_sign=True, encipher_only=False, decipher_only=False)
    # ECDHE with an EC key signs (digitalSignature); keyAgreement lets static ECDH work too.
    # An RSA key signs for ECDHE suites and enciphers for TLS 1.2 RSA key exchange.
    is_ec = isinstance(key.public_key(), ec.EllipticCurvePublicKey)
    return x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=not is_ec,
                         data_encipherment=False, key_agreement=is_ec, key_cert_sign=False,
                         crl_sign=False, encipher_only=False, decipher_only=False)


def _alt_names(names):
    entries = []
    for name in names:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            entries.append(x509.DNSName(name))
    return entries


def build_ca(key, common_name, valid_days, now):
    builder = (x509.CertificateBuilder()
               .subject_name(_name(common_name)).issuer_name(_name(common_name))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - BACKDATE).not_valid_after(now + datetime.timedelta(days=valid_days))
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .add_extension(_key_usage(key, ca=True), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
    return builder.sign(key, hashes.SHA256())


def build_leaf(kind, key, wanted, ca_cert, ca_key, now):
    """A server or client certificate for ``wanted`` (common_name, subject_alt_names, valid_days)."""
    builder = (x509.CertificateBuilder()
               .subject_name(_name(wanted["common_name"])).issuer_name(ca_cert.subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - BACKDATE)
               .not_valid_after(min(now + datetime.timedelta(days=wanted["valid_days"]), not_after(ca_cert)))
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(_key_usage(key), critical=True)
               .add_extension(x509.ExtendedKeyUsage([EXTENDED_USAGE[kind]]), critical=False)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()), critical=False))
    if wanted["subject_alt_names"]:
        builder = builder.add_extension(x509.SubjectAlternativeName(_alt_names(wanted["subject_alt_names"])), critical=False)
    return builder.sign(ca_key, hashes.SHA256())


def _public_bytes(public_key):
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def key_matches(cert, key):
    return _public_bytes(cert.public_key()) == _public_bytes(key.public_key())


def _signed_by(cert, ca_cert):
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def reissue_reasons(kind, cert, key, wanted, ca_cert, now, renew_before_days):
    """Why the certificate on disk must be replaced; an empty list keeps it.

    ``cert``/``key`` are loaded objects or None when the file is missing.
    """
    if cert is None or key is None:
        return ["missing"]
    reasons = []
    if not key_matches(cert, key):
        reasons.append("key does not match certificate")
    if not _signed_by(cert, ca_cert):
        reasons.append("not issued by the current CA")
    if days_left(cert, now) < renew_before_days:
        reasons.append("expires in %d days (renew_before_days %d)" % (days_left(cert, now), renew_before_days))
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if [attribute.value for attribute in names] != [wanted["common_name"]]:
        reasons.append("common name changed")
    try:
        usages = list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        usages = []
    if usages != [EXTENDED_USAGE[kind]]:
        reasons.append("extended key usage is not %s only" % EXTENDED_USAGE[kind]._name)
    try:
        alt_names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        have = sorted(str(name.value) for name in alt_names)
    except x509.ExtensionNotFound:
        have = []
    if have != sorted(str(name.value) for name in _alt_names(wanted["subject_alt_names"])):
        reasons.append("subject alternative names changed")
    return reasons


def build_crl(ca_cert, ca_key, revoked, crl_number, valid_days, now):
    """A CRL listing ``revoked`` (dicts with ``serial`` and ``date`` in ISO form)."""
    builder = (x509.CertificateRevocationListBuilder()
               .issuer_name(ca_cert.subject).last_update(now - BACKDATE)
               .next_update(now + datetime.timedelta(days=valid_days))
               .add_extension(x509.CRLNumber(crl_number), critical=False))
    for entry in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(int(entry["serial"]))
            .revocation_date(datetime.datetime.fromisoformat(entry["date"])).build())
    return builder.sign(ca_key, hashes.SHA256())


def crl_update_reasons(crl, ca_cert, revoked_serials, now, renew_before_days):
    """Why the CRL must be rebuilt; an empty list keeps it."""
    if crl is None:
        return ["missing"]
    reasons = []
    if not crl.is_signature_valid(ca_cert.public_key()):
        reasons.append("not signed by the current CA")
    if sorted(entry.serial_number for entry in crl) != sorted(revoked_serials):
        reasons.append("revocations changed")
    if (crl.next_update_utc - now).days < renew_before_days:
        reasons.append("next update in %d days" % (crl.next_update_utc - now).days)
    return reasons


def load_crl(pem, path):
    try:
        return x509.load_pem_x509_crl(pem.encode("ascii"))
    except ValueError as error:
        raise PkiError("read CRL %s: %s" % (path, error))


def crl_pem(crl):
    return crl.public_bytes(serialization.Encoding.PEM).decode("ascii")
