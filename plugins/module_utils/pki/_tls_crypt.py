# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""OpenVPN's symmetric control-channel keys: tls-crypt (a static key) and tls-crypt-v2.

Formats as OpenVPN defines them (src/openvpn/crypto.c for the static key file,
src/openvpn/tls_crypt.c and doc/tls-crypt-v2.txt for v2):

- A static key file holds 256 random bytes as hex between ``OpenVPN Static key V1`` markers.
- A tls-crypt-v2 server key is 128 bytes (a cipher half and an HMAC half of 64 bytes each; the
  first 32 bytes of each are used: Ke for AES-256-CTR, Ka for HMAC-SHA256), base64 in a PEM-like
  block.
- A tls-crypt-v2 client key is Kc (256 bytes, the client's own tls-crypt keys) followed by WKc,
  Kc wrapped for the server: ``T || AES-256-CTR(Ke, IV=T[:16], Kc || metadata) || len`` with
  ``T = HMAC-SHA256(Ka, len || Kc || metadata)`` and ``len`` the 16-bit big-endian length of WKc.
  Metadata starts with a type byte; type 1 is a 64-bit big-endian Unix time, which is what
  ``openvpn --genkey tls-crypt-v2-client`` writes when given no metadata.

Needs ``cryptography`` for AES-CTR; callers check ``_pki.CRYPTOGRAPHY_ERROR`` first.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct
import time

from ansible_collections.ovpnfleet.dco.plugins.module_utils._errors import DcoError

try:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
except ImportError:
    # _pki.CRYPTOGRAPHY_ERROR tells callers; only AES-CTR below needs it.
    pass

STATIC_KEY_BYTES = 256
V2_SERVER_KEY_BYTES = 128
V2_CLIENT_KEY_BYTES = 256
TAG_BYTES = 32
METADATA_TYPE_TIMESTAMP = 1

STATIC_BEGIN = "-----BEGIN OpenVPN Static key V1-----"
STATIC_END = "-----END OpenVPN Static key V1-----"
V2_SERVER_LABEL = "OpenVPN tls-crypt-v2 server key"
V2_CLIENT_LABEL = "OpenVPN tls-crypt-v2 client key"


class TlsCryptKeyError(DcoError):
    pass


def new_static_key(random_bytes=os.urandom):
    """A tls-crypt (or tls-auth) key file, as ``openvpn --genkey secret`` writes one."""
    data = random_bytes(STATIC_KEY_BYTES).hex()
    lines = [data[offset:offset + 32] for offset in range(0, len(data), 32)]
    return "\n".join(["#", "# 2048 bit OpenVPN static key", "#", STATIC_BEGIN] + lines + [STATIC_END, ""])


def _object(what, path):
    return what if path is None else "%s %s" % (what, path)


def read_static_key(text, path=None):
    """The 256 key bytes of a static key file; raises on anything else.

    Error messages name the file (``path``) but never quote it: it is key material.
    """
    try:
        body = text.split(STATIC_BEGIN, 1)[1].split(STATIC_END, 1)[0]
        data = bytes.fromhex("".join(body.split()))
    except (IndexError, ValueError):
        raise TlsCryptKeyError("read %s: not an OpenVPN static key file" % _object("tls-crypt key", path))
    if len(data) != STATIC_KEY_BYTES:
        raise TlsCryptKeyError("read %s: %d bytes instead of %d" % (_object("tls-crypt key", path), len(data), STATIC_KEY_BYTES))
    return data


def _armour(label, data):
    encoded = base64.b64encode(data).decode("ascii")
    lines = [encoded[offset:offset + 64] for offset in range(0, len(encoded), 64)]
    return "\n".join(["-----BEGIN %s-----" % label] + lines + ["-----END %s-----" % label, ""])


def _unarmour(label, text, path=None):
    begin, end = "-----BEGIN %s-----" % label, "-----END %s-----" % label
    try:
        body = text.split(begin, 1)[1].split(end, 1)[0]
        return base64.b64decode("".join(body.split()), validate=True)
    except (IndexError, binascii.Error, ValueError):
        raise TlsCryptKeyError("read %s: no valid '%s' block" % (_object(label.lower(), path), begin))


def new_v2_server_key(random_bytes=os.urandom):
    """A tls-crypt-v2 server key file, as ``openvpn --genkey tls-crypt-v2-server`` writes one."""
    return _armour(V2_SERVER_LABEL, random_bytes(V2_SERVER_KEY_BYTES))


def read_v2_server_key(text, path=None):
    data = _unarmour(V2_SERVER_LABEL, text, path)
    if len(data) != V2_SERVER_KEY_BYTES:
        raise TlsCryptKeyError("read %s: %d bytes instead of %d"
                               % (_object("tls-crypt-v2 server key", path), len(data), V2_SERVER_KEY_BYTES))
    return data


def _split_server_key(server_key):
    # The cipher half comes first, then the HMAC half; each uses its first 32 bytes.
    return server_key[:32], server_key[64:96]


def _ctr(key, iv, data):
    return Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor().update(data)


def wrap_v2_client_key(server_key, client_key, metadata):
    """WKc: the client key and its metadata, encrypted and authenticated for the server."""
    encryption_key, auth_key = _split_server_key(server_key)
    length = struct.pack(">H", TAG_BYTES + len(client_key) + len(metadata) + 2)
    tag = hmac.new(auth_key, length + client_key + metadata, hashlib.sha256).digest()
    return tag + _ctr(encryption_key, tag[:16], client_key + metadata) + length


def new_v2_client_key(server_key, now=None, random_bytes=os.urandom):
    """A tls-crypt-v2 client key file with a timestamp in its metadata, as openvpn makes them."""
    client_key = random_bytes(V2_CLIENT_KEY_BYTES)
    timestamp = int(time.time() if now is None else now)
    metadata = struct.pack(">BQ", METADATA_TYPE_TIMESTAMP, timestamp)
    return _armour(V2_CLIENT_LABEL, client_key + wrap_v2_client_key(server_key, client_key, metadata))


def unwrap_v2_client_key(server_key, text):
    """Check a client key file against a server key; returns ``{"metadata_type", "timestamp"}``.

    Raises TlsCryptKeyError when the key was not made with this server key (what the server
    itself would reject at connect time).
    """
    data = _unarmour(V2_CLIENT_LABEL, text)
    client_key, wrapped = data[:V2_CLIENT_KEY_BYTES], data[V2_CLIENT_KEY_BYTES:]
    if len(wrapped) < TAG_BYTES + V2_CLIENT_KEY_BYTES + 2:
        raise TlsCryptKeyError("read tls-crypt-v2 client key: too short")
    (length,) = struct.unpack(">H", wrapped[-2:])
    if length != len(wrapped):
        raise TlsCryptKeyError("read tls-crypt-v2 client key: length field %d, wrapped key %d bytes" % (length, len(wrapped)))
    encryption_key, auth_key = _split_server_key(server_key)
    tag = wrapped[:TAG_BYTES]
    plain = _ctr(encryption_key, tag[:16], wrapped[TAG_BYTES:-2])
    expected = hmac.new(auth_key, wrapped[-2:] + plain, hashlib.sha256).digest()
    if not hmac.compare_digest(tag, expected) or plain[:V2_CLIENT_KEY_BYTES] != client_key:
        raise TlsCryptKeyError("read tls-crypt-v2 client key: not wrapped with this server key")
    metadata = plain[V2_CLIENT_KEY_BYTES:]
    result = {"metadata_type": metadata[0] if metadata else None, "timestamp": None}
    if metadata[:1] == bytes([METADATA_TYPE_TIMESTAMP]) and len(metadata) == 9:
        result["timestamp"] = struct.unpack(">Q", metadata[1:])[0]
    return result
