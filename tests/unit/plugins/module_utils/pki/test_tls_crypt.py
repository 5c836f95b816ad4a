# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""tls-crypt keys: what OpenVPN 2.6.14 wrote (tests/unit/fixtures/tls_crypt/) is read and
checked by our code, and what our code writes has the same shape and checks the same way."""

from __future__ import annotations

import os

import pytest

from ansible_collections.ovpnfleet.dco.plugins.module_utils.pki import _tls_crypt as tls_crypt

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "fixtures", "tls_crypt")


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return handle.read()


def test_openvpn_client_key_unwraps_with_its_server_key():
    server_key = tls_crypt.read_v2_server_key(fixture("server.key"))
    meta = tls_crypt.unwrap_v2_client_key(server_key, fixture("client.key"))
    assert meta["metadata_type"] == tls_crypt.METADATA_TYPE_TIMESTAMP
    # made on 2026-11-25 by openvpn itself
    assert 1795000000 < meta["timestamp"] < 1800000000


def test_openvpn_client_key_with_user_metadata():
    server_key = tls_crypt.read_v2_server_key(fixture("server.key"))
    meta = tls_crypt.unwrap_v2_client_key(server_key, fixture("client-metadata.key"))
    assert meta == {"metadata_type": 0, "timestamp": None}


def test_openvpn_client_key_refused_with_another_server_key():
    other = tls_crypt.read_v2_server_key(tls_crypt.new_v2_server_key())
    with pytest.raises(tls_crypt.TlsCryptKeyError, match="not wrapped with this server key"):
        tls_crypt.unwrap_v2_client_key(other, fixture("client.key"))


def test_our_client_key_matches_openvpns_layout():
    server_text = tls_crypt.new_v2_server_key()
    server_key = tls_crypt.read_v2_server_key(server_text)
    ours = tls_crypt.new_v2_client_key(server_key, now=1795000000)
    # same armour and size as openvpn's (846 bytes for a timestamp key)
    assert len(ours) == len(fixture("client.key"))
    assert ours.splitlines()[0] == fixture("client.key").splitlines()[0]
    assert len(server_text) == len(fixture("server.key"))
    assert tls_crypt.unwrap_v2_client_key(server_key, ours) == {"metadata_type": 1, "timestamp": 1795000000}


def test_a_flipped_bit_is_refused():
    server_key = tls_crypt.read_v2_server_key(tls_crypt.new_v2_server_key())
    text = tls_crypt.new_v2_client_key(server_key)
    data = tls_crypt._unarmour(tls_crypt.V2_CLIENT_LABEL, text)
    flipped = data[:300] + bytes([data[300] ^ 1]) + data[301:]
    with pytest.raises(tls_crypt.TlsCryptKeyError):
        tls_crypt.unwrap_v2_client_key(server_key, tls_crypt._armour(tls_crypt.V2_CLIENT_LABEL, flipped))


def test_static_key_round_trip_and_openvpns_file():
    assert len(tls_crypt.read_static_key(fixture("static.key"))) == 256
    ours = tls_crypt.new_static_key()
    assert len(tls_crypt.read_static_key(ours)) == 256
    assert ours.count("\n") == fixture("static.key").count("\n")


@pytest.mark.parametrize("text,message", [
    ("nothing here", "not an OpenVPN static key"),
    (tls_crypt.STATIC_BEGIN + "\nabcd\n" + tls_crypt.STATIC_END, "2 bytes instead of 256"),
])
def test_bad_static_keys(text, message):
    with pytest.raises(tls_crypt.TlsCryptKeyError, match=message):
        tls_crypt.read_static_key(text)


def test_server_key_of_wrong_size():
    with pytest.raises(tls_crypt.TlsCryptKeyError, match="64 bytes instead of 128"):
        tls_crypt.read_v2_server_key(tls_crypt._armour(tls_crypt.V2_SERVER_LABEL, bytes(64)))


def test_errors_name_the_file_and_never_quote_it():
    secret = "00112233445566778899aabbccddeeffSECRET"
    for read, text in ((tls_crypt.read_static_key, tls_crypt.STATIC_BEGIN + "\n" + secret + "\n"),
                       (tls_crypt.read_v2_server_key, "-----BEGIN OpenVPN tls-crypt-v2 server key-----\n" + secret)):
        with pytest.raises(tls_crypt.TlsCryptKeyError) as caught:
            read(text, "/pki/k.key")
        assert "/pki/k.key" in str(caught.value) and "SECRET" not in str(caught.value)
