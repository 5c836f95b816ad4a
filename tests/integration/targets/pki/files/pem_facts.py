# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the PEM files of a PKI directory say, read with cryptography alone, so the pki target checks
the module's files without the module's own code. Prints JSON; never prints key material.

Usage: pem_facts.py CA_CERT CERT KEY CRL
"""

from __future__ import annotations

import json
import sys

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

USAGES = {ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth", ExtendedKeyUsageOID.CLIENT_AUTH: "clientAuth"}


def common_name(name):
    return name.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value


def public_bytes(key):
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def signed_by(item, ca):
    try:
        item.verify_directly_issued_by(ca)
    except (ValueError, TypeError, x509.InvalidSignature):
        return False
    return True


def main(ca_path, cert_path, key_path, crl_path):
    with open(ca_path, "rb") as handle:
        ca = x509.load_pem_x509_certificate(handle.read())
    with open(cert_path, "rb") as handle:
        cert = x509.load_pem_x509_certificate(handle.read())
    with open(key_path, "rb") as handle:
        key = serialization.load_pem_private_key(handle.read(), password=None)
    with open(crl_path, "rb") as handle:
        crl = x509.load_pem_x509_crl(handle.read())
    try:
        alt_names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        sans = [str(value) for value in alt_names.get_values_for_type(x509.DNSName)]
        sans += [str(value) for value in alt_names.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        sans = []
    usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    facts = {
        "subject_cn": common_name(cert.subject),
        "issuer_cn": common_name(cert.issuer),
        "ca_cn": common_name(ca.subject),
        "signed_by_ca": cert.issuer == ca.subject and signed_by(cert, ca),
        "serial": "%x" % cert.serial_number,
        "subject_alt_names": sans,
        "extended_key_usage": sorted(USAGES.get(usage, usage.dotted_string) for usage in usages),
        "key_matches": public_bytes(key.public_key()) == public_bytes(cert.public_key()),
        "crl_signed_by_ca": crl.is_signature_valid(ca.public_key()),
        "crl_serials": sorted("%x" % revoked.serial_number for revoked in crl),
    }
    print(json.dumps(facts))


if __name__ == "__main__":
    main(*sys.argv[1:])
