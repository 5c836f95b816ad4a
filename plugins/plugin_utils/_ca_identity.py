# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether the CA at hand is the one a fleet already trusts, told by fingerprints only.

A CA is the same when its subject and public key are: a renewed CA (ovpnfleet.dco.pki with
ca.renew: same subject, same key, new dates) verifies every certificate the old one issued, so it
may replace it; a CA with another key would cut every peer off. Only subjects and SHA-256
fingerprints leave this file, never a certificate's text.

Controller only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
except ImportError:  # reported when used: the controller needs cryptography (requirements.txt)
    x509 = None

_PEM = re.compile(r"-----BEGIN CERTIFICATE-----\s*([A-Za-z0-9+/=\s]+?)\s*-----END CERTIFICATE-----")


class CaIdentityError(ValueError):
    """A CA certificate could not be read."""


def _colons(digest):
    return ":".join("%02X" % byte for byte in digest)


def identity(pem_text, where):
    """subject, fingerprint (SHA-256 of the certificate) and key (SHA-256 of subject and key) of
    the first certificate in ``pem_text``; ``where`` names the file in errors."""
    if x509 is None:
        raise CaIdentityError("read the CA certificate %s: the Python library cryptography is missing on the "
                              "controller; install it (requirements.txt, or the execution environment)" % where)
    match = _PEM.search(pem_text or "")
    if not match:
        raise CaIdentityError("read the CA certificate %s: no PEM certificate in it; put the CA certificate "
                              "there, or remove the file" % where)
    try:
        der = base64.b64decode("".join(match.group(1).split()), validate=True)
        cert = x509.load_der_x509_certificate(der)
        public = cert.public_key().public_bytes(serialization.Encoding.DER,
                                                serialization.PublicFormat.SubjectPublicKeyInfo)
        subject = cert.subject.public_bytes()
    except (ValueError, TypeError, binascii.Error):
        raise CaIdentityError("read the CA certificate %s: it does not parse as an X.509 certificate; put the "
                              "CA certificate there, or remove the file" % where) from None
    return {
        "subject": cert.subject.rfc4514_string(),
        "fingerprint": _colons(hashlib.sha256(der).digest()),
        "key": hashlib.sha256(subject + public).hexdigest(),
    }


def conflicts(deployed, at_hand_pem, pki_dir, variable):
    """One line per host file whose CA is not the one at hand.

    ``deployed``: slurp results (``content`` base64, ``source`` path) of the CA files the
    instances run with; results without content (no file yet) are skipped. ``at_hand_pem``: the
    text of ``ca.crt`` in the PKI directory, or empty when it has none (a CA would be made).
    """
    at_hand = identity(at_hand_pem, "%s/ca.crt" % pki_dir) if at_hand_pem else None
    lines = []
    for result in deployed or []:
        if not isinstance(result, dict) or not result.get("content"):
            continue
        path = result.get("source") or result.get("item", {}).get("path") or "(a CA file)"
        try:
            text = base64.b64decode(result["content"]).decode("ascii", "replace")
        except (ValueError, TypeError, binascii.Error):
            text = ""
        found = identity(text, path)
        if at_hand is None:
            lines.append("%s trusts CA %s (SHA-256 %s), and %s=%s holds no ca.crt, so a new CA would be made"
                         % (path, found["subject"], found["fingerprint"], variable, pki_dir))
        elif found["key"] != at_hand["key"]:
            lines.append("%s trusts CA %s (SHA-256 %s), %s=%s holds CA %s (SHA-256 %s)"
                         % (path, found["subject"], found["fingerprint"], variable, pki_dir,
                            at_hand["subject"], at_hand["fingerprint"]))
    return lines
