# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pki_ca_conflicts as the server and client roles call it: a filter error, not a traceback."""

from __future__ import annotations

import base64

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.ovpnfleet.dco.plugins.filter import pki_ca_conflicts


def test_the_filter_is_registered():
    assert pki_ca_conflicts.FilterModule().filters()["pki_ca_conflicts"] is pki_ca_conflicts.pki_ca_conflicts


def test_an_unreadable_deployed_ca_is_a_filter_error_naming_the_file():
    broken = {"content": base64.b64encode(b"garbage").decode("ascii"), "source": "/etc/openvpn/client/x/ca.crt"}
    with pytest.raises(AnsibleFilterError, match="read the CA certificate /etc/openvpn/client/x/ca.crt: no PEM"):
        pki_ca_conflicts.pki_ca_conflicts([broken], "", "/srv/pki", "client_pki_dir")
