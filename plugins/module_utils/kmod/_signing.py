# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The key that signs the modules the collection builds, and its place in the MOK list.

A kernel that loads only signed modules (Secure Boot with lockdown, or module.sig_enforce=1)
accepts a module signed by a key it trusts: Debian's kernels trust the keys in shim's MOK list.
Putting a key there takes two halves: `mokutil --import` on the running system asks for it, and
a person confirms it at the console in MokManager at the next boot (with the password given to
mokutil). Only the first half can be automated; MOK_STATES and console_steps() say where a host is.
"""

from __future__ import annotations

import datetime
import hashlib
import os

from ansible_collections.ovpnfleet.dco.plugins.module_utils._errors import CommandError, DcoError

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
except ImportError:  # reported by the module with missing_required_lib
    x509 = None

# What the kernel appends to a signed module (scripts/sign-file): the file ends with it.
MODULE_SIGNATURE_MAGIC = b"~Module signature appended~\n"

MOK_ENROLLED = "enrolled"
MOK_PENDING = "pending"          # requested with mokutil --import, waiting for the console
MOK_NOT_ENROLLED = "not_enrolled"
MOK_NO_EFI = "no_efi"            # a BIOS boot or no efivarfs: there is no MOK list
MOK_STATES = (MOK_ENROLLED, MOK_PENDING, MOK_NOT_ENROLLED, MOK_NO_EFI)

# RSA 2048: what every shim and firmware verifies (Debian's DKMS key is the same size); SHA-256
# is what the kmod module's sign-file call uses.
RSA_BITS = 2048
# mokutil takes 1 to 256 characters; MokManager asks for it at the console, so keep it typeable.
PASSWORD_MAX = 256


class SigningError(DcoError):
    """A signing key or its MOK enrolment could not be read, made or requested."""


def has_module_signature(path):
    """Whether the module file carries an appended signature (it may still be one the kernel rejects)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            if size < len(MODULE_SIGNATURE_MAGIC):
                return False
            handle.seek(size - len(MODULE_SIGNATURE_MAGIC))
            return handle.read() == MODULE_SIGNATURE_MAGIC
    except OSError as error:
        raise SigningError("read %s: %s; check the path." % (path, error.strerror)) from error


def new_signing_key(common_name, valid_days, now=None):
    """(key PEM, certificate DER) of a new self-signed module signing key.

    The kernel checks neither validity dates nor the issuer of a MOK, but shim and mokutil want
    a well-formed X.509 certificate: codeSigning, not a CA, with a subject key identifier.
    """
    now = now or datetime.datetime.now(datetime.timezone.utc)
    key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, key_cert_sign=False, crl_sign=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return key_pem, cert.public_bytes(serialization.Encoding.DER)


def certificate_der(data, path):
    """The DER form of a certificate given as DER or PEM (mokutil takes DER only)."""
    if data.lstrip().startswith(b"-----BEGIN"):
        try:
            return x509.load_pem_x509_certificate(data).public_bytes(serialization.Encoding.DER)
        except ValueError as error:
            raise SigningError("read the certificate %s: it is not a PEM certificate; give the "
                               "certificate that matches the signing key." % path) from error
    try:
        x509.load_der_x509_certificate(data)
    except ValueError as error:
        raise SigningError("read the certificate %s: it is neither DER nor PEM; give the "
                           "certificate that matches the signing key." % path) from error
    return data


def key_matches_certificate(key_pem, cert_der, key_path):
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as error:
        raise SigningError("read the signing key %s: it is not an unencrypted PEM private key, "
                           "which sign-file needs; give an unencrypted key." % key_path) from error
    cert = x509.load_der_x509_certificate(cert_der)
    form = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return key.public_key().public_bytes(*form) == cert.public_key().public_bytes(*form)


def fingerprint(cert_der):
    return hashlib.sha256(cert_der).hexdigest()


def in_listing(listing, cert_der):
    """Whether `mokutil --list-new` (or --list-enrolled) output shows this certificate (by its SHA-1)."""
    sha1 = hashlib.sha1(cert_der).hexdigest()  # nosec - mokutil names keys by SHA-1
    wanted = ":".join(sha1[i:i + 2] for i in range(0, len(sha1), 2))
    return wanted in listing.lower().replace(" ", "") or sha1 in listing.lower()


def parse_test_key(rc, stdout, stderr):
    """MOK_STATES from `mokutil --test-key CERT` (mokutil's rc differs between versions: words decide)."""
    text = "%s\n%s" % (stdout, stderr)
    lowered = text.lower()
    if "is already enrolled" in lowered:
        return MOK_ENROLLED
    if "already in the enrollment request" in lowered:
        return MOK_PENDING
    if "is not enrolled" in lowered:
        return MOK_NOT_ENROLLED
    if "efi variables are not supported" in lowered or "not supported on this system" in lowered:
        return MOK_NO_EFI
    raise CommandError("read the MOK list: mokutil --test-key exited %d with output the collection "
                       "does not know; run it by hand to see why." % rc, ["mokutil", "--test-key"],
                       rc, stdout, stderr)


def check_password(password):
    if not password or len(password) > PASSWORD_MAX or "\n" in password or "\r" in password:
        raise SigningError("request the MOK enrolment: mok_password must be 1 to %d characters on "
                           "one line (it is typed at the console at the next boot)." % PASSWORD_MAX)


def console_steps(state, cert_path, fingerprint_hex):
    """What a person must do for the kernel to trust the key, or "" when nothing is left to do."""
    if state == MOK_ENROLLED or state == MOK_NO_EFI:
        return ""
    if state == MOK_PENDING:
        return ("enrolment of %s (sha256 %s) is requested: at the next boot, at the console, "
                "MokManager asks within 10 s: press a key, choose 'Enroll MOK', 'View key 0' to "
                "compare the fingerprint, 'Continue', 'Yes', type the mok_password, then 'Reboot'. "
                "Until then the kernel refuses the module and the tunnels stay in userspace."
                % (cert_path, fingerprint_hex))
    return ("%s (sha256 %s) is not in the MOK list, so the kernel refuses modules signed with it: "
            "run 'mokutil --import %s' (it asks for a one-time password), or set "
            "kmod_mok_enroll with kmod_mok_password, then confirm at the console at the next boot."
            % (cert_path, fingerprint_hex, cert_path))
