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
import re
import traceback

from ansible_collections.ovpnfleet.dco.plugins.module_utils._errors import DcoError

try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
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
# A file name in servers/ or clients/, and the default common name: OpenVPN only opens a
# client-config-dir file whose name (the common name) has these characters (alnum, _ - . @).
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")
# Common names: also spaces and colons inside (a CA's "Example VPN CA"); no control characters,
# nothing OpenVPN's X.509 name handling would rewrite or a shell or ccd path would trip on.
COMMON_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9 _.@:-]{0,62}[A-Za-z0-9_.@-])?")
# One label of a host name (RFC 1123): letters, digits, inner hyphens, 63 characters at most.
DNS_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
# Lifetimes above this overflow date arithmetic or X.509's four-digit years long before they help.
MAX_DAYS = 36500


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
    # The parser's own message is left out: it may quote what it could not parse.
    try:
        return serialization.load_pem_private_key(pem.encode("ascii"), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise PkiError("read private key %s: not an unencrypted PEM private key (decrypt an encrypted key first)" % path)


def load_certificate(pem, path):
    try:
        return x509.load_pem_x509_certificate(pem.encode("ascii"))
    except ValueError:
        raise PkiError("read certificate %s: not a PEM X.509 certificate; replace or remove the file" % path)


def check_name(name, what="name"):
    """A name that becomes a file name and the default common name."""
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise PkiError("check %s %r: use letters, digits, '.', '_', '-' and '@' (1 to 64, starting with a letter or digit)"
                       % (what, name))
    return name


def check_common_name(common_name, what="common name"):
    if not isinstance(common_name, str) or not COMMON_NAME.fullmatch(common_name):
        raise PkiError("check %s %r: use 1 to 64 letters, digits, spaces, '.', '_', '-', '@' and ':', "
                       "starting with a letter or digit and not ending with a space or colon" % (what, common_name))
    return common_name


def check_alt_name(name):
    """An IP address or a DNS host name; anything else, or an IP address that does not parse, is refused."""
    if not isinstance(name, str) or not name or not name.isascii() or name != name.strip():
        raise PkiError("check subject alternative name %r: give a DNS host name or an IP address" % (name,))
    labels = name.split(".")
    # A colon, or a last label of digits only, is meant as an address: it must parse as one.
    if ":" in name or labels[-1].isdigit():
        try:
            if "%" in name:
                raise ValueError("scope")
            return ipaddress.ip_address(name)
        except ValueError:
            raise PkiError("check subject alternative name %r: not a valid IP address (no zone index, no leading zeros)" % (name,))
    if len(name) > 253 or not all(DNS_LABEL.fullmatch(label) for label in labels):
        raise PkiError("check subject alternative name %r: a DNS name is dot-separated labels of letters, digits and "
                       "inner hyphens, 1 to 63 characters each and 253 in all, with no trailing dot" % (name,))
    return name


def check_days(value, what, renew_before_days=None):
    """A lifetime in days: positive, bounded, and longer than the renew window so a fresh item is not due at once."""
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_DAYS:
        raise PkiError("check %s %r: use a whole number of days from 1 to %d" % (what, value, MAX_DAYS))
    if renew_before_days is not None and value <= renew_before_days:
        raise PkiError("check %s %d: it must be longer than renew_before_days (%d), or every run would renew it; "
                       "raise %s or lower renew_before_days" % (what, value, renew_before_days, what))
    return value


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
        value = check_alt_name(name)
        entries.append(x509.DNSName(value) if isinstance(value, str) else x509.IPAddress(value))
    return entries


def common_name_of(cert):
    return ", ".join(attribute.value for attribute in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME))


def ca_problem(cert, key, now):
    """Why this certificate and key cannot act as the CA; None when they can. Expiry is left to the caller."""
    if not key_matches(cert, key):
        return "its private key does not match its certificate"
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        constraints = None
    if constraints is None or not constraints.ca:
        return "the certificate is not a CA (basic constraints CA:TRUE missing)"
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        usage = None
    if usage is not None and not (usage.key_cert_sign and usage.crl_sign):
        return "its key usage does not allow signing certificates and CRLs (keyCertSign, cRLSign)"
    if cert.not_valid_before_utc > now:
        return "it is not valid before %s" % cert.not_valid_before_utc.isoformat()
    return None


def renew_ca(cert, key, valid_days, now):
    """The same CA - subject and key - with a new lifetime.

    Certificates it issued stay valid under the new certificate (same issuer name, same key), and
    peers that still hold the old one keep accepting new certificates until the old one expires.
    """
    builder = (x509.CertificateBuilder()
               .subject_name(cert.subject).issuer_name(cert.subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - BACKDATE).not_valid_after(now + datetime.timedelta(days=valid_days)))
    for extension in cert.extensions:
        builder = builder.add_extension(extension.value, critical=extension.critical)
    return builder.sign(key, hashes.SHA256())


def leaf_not_after(wanted, ca_cert, now):
    """When a certificate issued now for ``wanted`` would expire: never after the CA."""
    return min(now + datetime.timedelta(days=wanted["valid_days"]), not_after(ca_cert))


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
               .not_valid_after(leaf_not_after(wanted, ca_cert, now))
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
    # A certificate ends with its CA: when the CA is what runs out, a new one would end on the
    # same day, so renewing it would change nothing but the key, on every run.
    if days_left(cert, now) < renew_before_days and leaf_not_after(wanted, ca_cert, now) - not_after(cert) >= datetime.timedelta(days=1):
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


def parse_date(text):
    """An ISO 8601 date with a time zone, as the index stores revocation dates."""
    date = datetime.datetime.fromisoformat(text)
    if date.tzinfo is None:
        raise ValueError("no time zone")
    return date


def build_crl(ca_cert, ca_key, revoked, crl_number, valid_days, now):
    """A CRL listing ``revoked`` (dicts with ``serial`` and ``date`` in ISO form)."""
    builder = (x509.CertificateRevocationListBuilder()
               .issuer_name(ca_cert.subject).last_update(now - BACKDATE)
               .next_update(now + datetime.timedelta(days=valid_days))
               .add_extension(x509.CRLNumber(crl_number), critical=False))
    for entry in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(int(entry["serial"]))
            .revocation_date(parse_date(entry["date"])).build())
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
    except ValueError:
        raise PkiError("read CRL %s: not a PEM CRL; remove it and the next run rebuilds it" % path)


def crl_pem(crl):
    return crl.public_bytes(serialization.Encoding.PEM).decode("ascii")
