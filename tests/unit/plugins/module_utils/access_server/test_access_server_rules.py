# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pure parts of _access_server: the version rule, the plan and the parsers."""

from __future__ import annotations

import pytest

from ansible_collections.ovpnfleet.dco.plugins.module_utils.access_server import _server as asrv


@pytest.mark.parametrize("version, kernel, supported, flavour, default_on, note", [
    (None, "6.1.0-56-amd64", None, None, None, None),
    ("2.11.3-41a1a0b5-Ubuntu22", "6.1.0-56-amd64", False, None, False, None),
    ("2.12.0-abcdef01-Ubuntu22", "6.1.0-56-amd64", True, "ovpn-dco-v2", False, None),
    ("2.14.3-d2b0d4b4-Debian12", "6.1.0-56-amd64", True, "ovpn-dco-v2", False, None),
    ("3.0.1-11aa22bb-Debian12", "6.1.0-56-amd64", True, "ovpn-dco-v2", True, None),
    ("3.1.0-a7b1c2d3-Debian12", "6.17.1+deb13-amd64", True, "ovpn-dco-v2", True, None),
    ("3.2.0-0f1e2d3c-Debian13", "6.12.57+deb13-amd64", True, "ovpn", True, "has none"),
    ("3.2.0-0f1e2d3c-Debian13", "6.16.0-1-amd64", True, "ovpn", True, None),
    ("3.2.0", None, True, "ovpn", True, "kernel release is unknown"),
    ("1:3.3.1-aa", "7.0.1", True, "ovpn", True, None),
])
def test_dco_requirement(version, kernel, supported, flavour, default_on, note):
    rule = asrv.dco_requirement(version, kernel)
    assert (rule["supported"], rule["flavour"], rule["default_enabled"]) == (supported, flavour, default_on)
    assert bool(rule["reasons"]) == (not supported)
    if note:
        assert len(rule["notes"]) == 1 and note in rule["notes"][0]
    else:
        assert rule["notes"] == []
    if flavour == "ovpn-dco-v2":
        assert rule["packages"] == {"deb": "openvpn-dco-dkms", "rpm": "kmod-ovpn-dco"}
    else:
        assert rule["packages"] is None


@pytest.mark.parametrize("wanted, raw, default_on, value", [
    ("enabled", "true", True, None),
    ("enabled", "false", False, "true"),
    ("enabled", None, True, "true"),
    ("enabled", "True", True, "true"),
    ("disabled", "false", True, None),
    ("disabled", "true", False, "false"),
    ("disabled", None, False, None),
    ("disabled", None, True, "false"),
    ("disabled", None, None, "false"),
])
def test_plan_dco(wanted, raw, default_on, value):
    assert asrv.plan_dco(wanted, raw, default_on) == value


@pytest.mark.parametrize("text", [
    '{"service_status": {"api": "on", "openvpn_10": "on", "openvpn_2": "off", "web": "on"}, "errors": {}}',
    '{"api": "on", "openvpn_10": "on", "openvpn_2": "off"}',
    "{'service_status': {'api': 'on', 'openvpn_10': 'on', 'openvpn_2': 'off'}, 'errors': {}}",
])
def test_status_nested_flat_or_python_literal(text):
    status = asrv.parse_status(asrv.parse_sacli_output(text, "status"))
    assert status["api"] == "on"
    assert list(status["daemons"].items()) == [("openvpn_2", "off"), ("openvpn_10", "on")]
    assert not asrv.status_ready(status)


def test_ready_needs_a_daemon():
    assert not asrv.status_ready({"api": "on", "daemons": {}})
    assert asrv.status_ready({"api": "on", "daemons": {"openvpn_0": "on"}})


@pytest.mark.parametrize("text", ["", "Could not connect", "[1, 2]", "{'a': __import__('os')}"])
def test_output_that_is_no_object_is_an_error(text):
    with pytest.raises(asrv.AccessServerError, match="^read sacli status: the output is not a JSON object"):
        asrv.parse_sacli_output(text, "status")


@pytest.mark.parametrize("data, expected", [
    ({"n_clients": 3, "ovpn_dco_available": True, "ovpn_dco_ver": "0.2.20231103"}, (3, True, "0.2.20231103")),
    ({"n_clients": "0", "ovpn_dco_available": "false", "ovpn_dco_ver": "Kernel module not loaded"},
     (0, False, "Kernel module not loaded")),
    ({"n_clients": 2}, (2, None, None)),
    ({"ovpn_dco_ver": ""}, (None, None, None)),
])
def test_summary(data, expected):
    summary = asrv.parse_summary(data)
    assert (summary["clients"], summary["dco_available"], summary["dco_module_version"]) == expected


def test_links_keep_only_access_server_devices_in_order():
    text = ('[{"ifname": "lo"}, {"ifname": "as0u1", "linkinfo": {"info_kind": "ovpn"}},'
            ' {"ifname": "as0t10", "linkinfo": {"info_kind": "tun"}}, {"ifname": "as0t2"},'
            ' {"ifname": "tun0", "linkinfo": {"info_kind": "ovpn-dco"}}]')
    assert asrv.parse_links(text) == [
        {"name": "as0t2", "transport": "tcp", "kind": None, "dco": False},
        {"name": "as0t10", "transport": "tcp", "kind": "tun", "dco": False},
        {"name": "as0u1", "transport": "udp", "kind": "ovpn", "dco": True},
    ]
    assert asrv.parse_links("not json") is None


@pytest.mark.parametrize("raw, parsed", [("true", True), ("False", False), ("maybe", None)])
def test_dco_setting_keeps_only_the_key(raw, parsed):
    config = {asrv.DCO_KEY: raw, "auth.ldap.0.bind_pw": "x"}
    assert asrv.dco_setting(config) == (raw, parsed)
    assert asrv.dco_setting({"auth.ldap.0.bind_pw": "x"}) == (None, None)
