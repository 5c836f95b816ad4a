# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Expiry and subject of a PEM certificate, and a CRL's next update, with the standard library.

``tunnel_info`` needs three facts of each certificate; importing ``cryptography.x509`` for them
took 1.7 s of every call on a slow (qemu TCG) host. The DER walk reads only the fixed start of
the structures (RFC 5280 4.1 and 5.1):

    Certificate  ::= SEQUENCE { tbsCertificate SEQUENCE { [0] version OPTIONAL, serialNumber,
                     signature, issuer Name, validity SEQUENCE { notBefore, notAfter }, subject Name, ... } ... }
    CertificateList ::= SEQUENCE { tbsCertList SEQUENCE { version OPTIONAL, signature, issuer Name,
                     thisUpdate, nextUpdate OPTIONAL, ... } ... }

Anything it cannot read raises ValueError with the reason; the subject is written as RFC 4514
says (last RDN first, ``+`` inside a multi-valued RDN, special characters escaped).
"""

from __future__ import annotations

import base64
import binascii
import datetime
import re

SEQUENCE, SET, INTEGER, OID = 0x30, 0x31, 0x02, 0x06
UTC_TIME, GENERALIZED_TIME = 0x17, 0x18
EXPLICIT_0 = 0xA0
# Attribute types RFC 4514 section 3 names, plus the ones OpenSSL and cryptography also name.
SHORT_NAMES = {
    "2.5.4.3": "CN", "2.5.4.7": "L", "2.5.4.8": "ST", "2.5.4.10": "O", "2.5.4.11": "OU", "2.5.4.6": "C",
    "2.5.4.9": "STREET", "0.9.2342.19200300.100.1.25": "DC", "0.9.2342.19200300.100.1.1": "UID",
}
# String types an attribute value may have (UTF8String, PrintableString, T61String, IA5String,
# UniversalString, BMPString, VisibleString, NumericString). The ASCII ones are read as UTF-8,
# which they are a subset of, so a non-conforming byte still reads as the issuer meant it.
STRING_TAGS = {0x0C: "utf-8", 0x13: "utf-8", 0x14: "latin-1", 0x16: "utf-8", 0x1C: "utf-32-be", 0x1E: "utf-16-be",
               0x1A: "utf-8", 0x12: "utf-8"}
PEM = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.S)


def pem_der(data, labels):
    """The DER bytes of the first PEM block whose label is one of ``labels``."""
    text = data.decode("ascii", "replace") if isinstance(data, bytes) else data
    for match in PEM.finditer(text):
        if match.group(1) in labels:
            try:
                return base64.b64decode("".join(match.group(2).split()), validate=True)
            except (binascii.Error, ValueError):
                raise ValueError("the %s block is not valid base64" % match.group(1))
    raise ValueError("no %s block found" % " or ".join(labels))


def _read(der, offset):
    """(tag, start of content, end of content) of the element at ``offset``."""
    if offset + 2 > len(der):
        raise ValueError("the DER data ends early")
    tag, length = der[offset], der[offset + 1]
    start = offset + 2
    if length & 0x80:
        count = length & 0x7F
        if not 0 < count <= 4:
            raise ValueError("the DER data has a length it cannot have")
        if start + count > len(der):
            raise ValueError("the DER data ends early")
        length = int.from_bytes(der[start:start + count], "big")
        start += count
    if start + length > len(der):
        raise ValueError("the DER data ends early")
    return tag, start, start + length


def _children(der, start, end):
    """(tag, content start, content end) of every element between ``start`` and ``end``."""
    found = []
    while start < end:
        tag, content, next_start = _read(der, start)
        found.append((tag, content, next_start))
        start = next_start
    return found


def _encoding(der, element):
    """The whole encoding (tag, length, content) of a child ``element`` of _children."""
    _tag, start, end = element
    # The header is the tag byte and 1 to 5 length bytes just before the content.
    for header in range(2, 7):
        if start - header >= 0 and _read(der, start - header)[1:] == (start, end):
            return der[start - header:end]
    raise ValueError("an attribute value cannot be re-read")


def _inner(der, tag_wanted, what):
    tag, start, end = _read(der, 0)
    if tag != SEQUENCE:
        raise ValueError("%s is not a DER SEQUENCE" % what)
    tag, start, end = _read(der, start)
    if tag != tag_wanted:
        raise ValueError("%s has no to-be-signed SEQUENCE" % what)
    return _children(der, start, end)


def _time(der, element):
    tag, start, end = element
    text = der[start:end].decode("ascii", "replace")
    if tag == UTC_TIME and re.match(r"^\d{12}Z$", text):
        year = int(text[:2])
        text = ("19" if year >= 50 else "20") + text  # RFC 5280 4.1.2.5.1
    elif not (tag == GENERALIZED_TIME and re.match(r"^\d{14}Z$", text)):
        raise ValueError("a time is neither UTCTime nor GeneralizedTime in UTC")
    return datetime.datetime.strptime(text, "%Y%m%d%H%M%SZ").replace(tzinfo=datetime.timezone.utc)


def _oid(raw):
    if not raw:
        raise ValueError("an empty OID")
    first = raw[0]
    parts = [min(first // 40, 2), first - 40 * min(first // 40, 2)]
    value = 0
    for byte in raw[1:]:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            parts.append(value)
            value = 0
    return ".".join(str(part) for part in parts)


def _escape(value):
    """An attribute value escaped as RFC 4514 section 2.4 asks."""
    for special in ("\\", '"', "+", ",", ";", "<", ">"):
        value = value.replace(special, "\\" + special)
    value = value.replace("\0", "\\00")
    # A value of one space is both first and last: escaped once.
    trailing = value[-1:] == " " and len(value) > 1
    if value[:1] in ("#", " "):
        value = "\\" + value
    if trailing:
        value = value[:-1] + "\\ "
    return value


def _name(der, element):
    """The Name at ``element`` as an RFC 4514 string."""
    _tag, start, end = element
    rdns = []
    for rdn_tag, rdn_start, rdn_end in _children(der, start, end):
        if rdn_tag != SET:
            raise ValueError("a name holds something else than relative distinguished names")
        pairs = []
        for _pair_tag, pair_start, pair_end in _children(der, rdn_start, rdn_end):
            parts = _children(der, pair_start, pair_end)
            if len(parts) != 2 or parts[0][0] != OID:
                raise ValueError("a name attribute is not a type and a value")
            (_oid_tag, oid_start, oid_end), value = parts
            oid = _oid(der[oid_start:oid_end])
            if value[0] in STRING_TAGS:
                text = _escape(der[value[1]:value[2]].decode(STRING_TAGS[value[0]], "replace"))
            else:
                text = "#" + _encoding(der, value).hex()
            pairs.append("%s=%s" % (SHORT_NAMES.get(oid, oid), text))
        rdns.append("+".join(pairs))
    return ",".join(reversed(rdns))


def certificate_facts(data):
    """``{"subject", "not_after"}`` of the first certificate in PEM ``data``."""
    der = pem_der(data, ("CERTIFICATE", "TRUSTED CERTIFICATE", "X509 CERTIFICATE"))
    fields = _inner(der, SEQUENCE, "the certificate")
    if fields and fields[0][0] == EXPLICIT_0:
        fields = fields[1:]
    # serialNumber, signature, issuer, validity, subject
    if len(fields) < 5 or fields[0][0] != INTEGER or fields[3][0] != SEQUENCE:
        raise ValueError("the certificate's fields are not where X.509 puts them")
    _tag, start, end = fields[3]
    validity = _children(der, start, end)
    if len(validity) != 2:
        raise ValueError("the certificate's validity is not two times")
    return {"subject": _name(der, fields[4]), "not_after": _time(der, validity[1])}


def crl_next_update(data):
    """The nextUpdate of the first CRL in PEM ``data``; ValueError when it has none."""
    der = pem_der(data, ("X509 CRL",))
    fields = _inner(der, SEQUENCE, "the CRL")
    if fields and fields[0][0] == INTEGER:
        fields = fields[1:]
    # signature, issuer, thisUpdate, nextUpdate
    if len(fields) < 4 or fields[3][0] not in (UTC_TIME, GENERALIZED_TIME):
        raise ValueError("the CRL names no next update")
    return _time(der, fields[3])
