# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A host's deployed CA against the one at hand: another key or an empty PKI directory is a
conflict named by fingerprint, a renewed CA (same subject and key) is not, and no certificate
text is ever in a line."""

from __future__ import annotations

import base64
import datetime

import pytest

from ansible_collections.ovpnfleet.dco.plugins.module_utils.pki import _certificates as pki
from ansible_collections.ovpnfleet.dco.plugins.plugin_utils import _ca_identity

NOW = datetime.datetime(2026, 11, 1, tzinfo=datetime.timezone.utc)


def _ca(common_name="ovpnfleet.dco CA", key=None):
    key = key or pki.new_private_key("ec")
    return key, pki.build_ca(key, common_name, 3650, NOW)


def _pem(cert):
    return pki.certificate_pem(cert).decode("ascii") if isinstance(pki.certificate_pem(cert), bytes) else pki.certificate_pem(cert)


def _slurped(cert, path="/etc/openvpn/server/office/ca.crt"):
    return {"content": base64.b64encode(_pem(cert).encode("ascii")).decode("ascii"), "source": path,
            "item": {"item": {"name": "office"}}}


def test_the_same_ca_is_no_conflict():
    _key, cert = _ca()
    assert _ca_identity.conflicts([_slurped(cert)], _pem(cert), "/srv/pki", "server_pki_dir") == []


def test_a_renewed_ca_with_the_same_key_is_no_conflict():
    key, cert = _ca()
    renewed = pki.renew_ca(cert, key, 3650, NOW + datetime.timedelta(days=3000))
    assert _pem(renewed) != _pem(cert)
    assert _ca_identity.conflicts([_slurped(cert)], _pem(renewed), "/srv/pki", "server_pki_dir") == []


def test_another_ca_with_the_same_name_is_a_conflict_named_by_fingerprint():
    _key, deployed = _ca()
    _key, at_hand = _ca()
    lines = _ca_identity.conflicts([_slurped(deployed)], _pem(at_hand), "/srv/pki", "server_pki_dir")
    assert len(lines) == 1
    deployed_id = _ca_identity.identity(_pem(deployed), "x")
    at_hand_id = _ca_identity.identity(_pem(at_hand), "x")
    assert lines[0] == ("/etc/openvpn/server/office/ca.crt trusts CA CN=ovpnfleet.dco CA (SHA-256 %s), "
                        "server_pki_dir=/srv/pki holds CA CN=ovpnfleet.dco CA (SHA-256 %s)"
                        % (deployed_id["fingerprint"], at_hand_id["fingerprint"]))
    assert "BEGIN" not in lines[0] and _pem(deployed).splitlines()[1] not in lines[0]


def test_a_fleet_ca_and_an_empty_pki_directory_is_a_conflict():
    _key, deployed = _ca()
    lines = _ca_identity.conflicts([_slurped(deployed)], "", "/srv/pki", "client_pki_dir")
    assert lines == ["/etc/openvpn/server/office/ca.crt trusts CA CN=ovpnfleet.dco CA (SHA-256 %s), and "
                     "client_pki_dir=/srv/pki holds no ca.crt, so a new CA would be made"
                     % _ca_identity.identity(_pem(deployed), "x")["fingerprint"]]


def test_hosts_without_a_ca_yet_are_no_conflict():
    skipped = {"skipped": True, "item": {"item": {"name": "office"}}}
    assert _ca_identity.conflicts([skipped], "", "/srv/pki", "server_pki_dir") == []
    assert _ca_identity.conflicts([], "", "/srv/pki", "server_pki_dir") == []


def test_the_fingerprint_is_the_usual_sha256_of_the_certificate():
    from cryptography.hazmat.primitives import hashes
    _key, cert = _ca()
    expected = ":".join("%02X" % byte for byte in cert.fingerprint(hashes.SHA256()))
    assert _ca_identity.identity(_pem(cert), "x")["fingerprint"] == expected


@pytest.mark.parametrize("text", ["not a certificate", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"])
def test_an_unreadable_ca_file_is_named_without_its_content(text):
    with pytest.raises(_ca_identity.CaIdentityError) as caught:
        _ca_identity.identity(text, "/srv/pki/ca.crt")
    assert str(caught.value).startswith("read the CA certificate /srv/pki/ca.crt: ")
    assert "AAAA" not in str(caught.value) and "not a certificate" not in str(caught.value)
