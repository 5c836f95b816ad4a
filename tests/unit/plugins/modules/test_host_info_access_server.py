# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""host_info on Access Server hosts: the AS version, not the host's openvpn, picks the module.

The hosts are recorded lab hosts (tests/unit/fixtures/host_info/) with Access Server's answers
added from tests/unit/fixtures/access_server/. Those are CONSTRUCTED outputs (see the README
there): no real Access Server can run here, so these tests prove our decisions on the formats
AS documents, not that a real AS prints exactly this.
"""

from __future__ import annotations

import copy
import os

import pytest

from ansible_collections.ovpnfleet.dco.plugins.module_utils.access_server._server import SACLI
from ansible_collections.ovpnfleet.dco.plugins.modules import host_info
from ansible_collections.ovpnfleet.dco.tests.unit.host_probes import ReplayProbe, load_fixture, without_access_server

HERE = os.path.dirname(__file__)
HOSTS = os.path.join(HERE, "..", "..", "fixtures", "host_info")
AS_FIXTURES = os.path.join(HERE, "..", "..", "fixtures", "access_server")
SECRET = "CONSTRUCTED-NOT-A-SECRET-7f3c"


def _file(name):
    with open(os.path.join(AS_FIXTURES, name), encoding="utf-8") as handle:
        return handle.read()


def with_access_server(host, version, configquery, vpnsummary, links, loaded=None):
    """A recorded host's probe answering what access_server_info asks, as an AS host would."""
    record = copy.deepcopy(load_fixture(os.path.join(HOSTS, host + ".json"))["probe"])
    release = record["read"]["/proc/sys/kernel/osrelease"].strip()
    record["run"].update({
        "%s status" % SACLI: [0, _file("status-ready.json"), ""],
        "dpkg-query -W -f=${Status} ${Version} openvpn-as": [0, "install ok installed %s" % version, ""],
        "uname -r": [0, release + "\n", ""],
        "%s ConfigQuery" % SACLI: [0, _file(configquery), ""],
        "%s VPNSummary" % SACLI: [0, _file(vpnsummary), ""],
        "ip -d -j link show": [0, _file(links), ""],
    })
    if loaded:
        # The module loaded, as /sys/module shows it (the recording had it unloaded).
        record["exists"]["/sys/module/%s" % loaded] = True
        record["read"]["/sys/module/%s/version" % loaded] = "0.2.20231103\n"
    return record


def run(run_module, monkeypatch, record):
    probe = ReplayProbe(record)
    monkeypatch.setattr(host_info, "ModuleProbe", lambda module: probe)
    failed, result = run_module(host_info.main, {}, check_mode=True)
    assert not failed, result
    return result


def test_access_server_version_picks_the_flavour_not_the_hosts_openvpn(run_module, monkeypatch):
    # The host's own OpenVPN is 2.7.8 (ovpn); Access Server 2.14 speaks only to ovpn-dco-v2.
    record = with_access_server("debian13-bpo-fresh", "2.14.3-d2b0d4b4-Debian12", "configquery-dco-false.json",
                                "vpnsummary-dco-not-loaded.json", "ip-link-tun.json")
    result = run(run_module, monkeypatch, record)
    assert result["openvpn"]["version"] == "2.7.8"
    assert result["access_server"]["is_access_server"] and result["access_server"]["version"].startswith("2.14.3")
    rec = result["recommendation"]
    assert (rec["flavour"], rec["module"], rec["status"]) == ("ovpn-dco-v2", "ovpn_dco_v2", "actionable")
    assert rec["access_server"] == {"version": "2.14.3-d2b0d4b4-Debian12", "dco_setting": "false",
                                    "dco_configured": False, "dco_available": False,
                                    "dco_module_version": "Kernel module not loaded", "default_enabled": False}


def test_as_2_14_steps_in_order(run_module, monkeypatch):
    record = with_access_server("debian12-fresh", "2.14.3-d2b0d4b4-Debian12", "configquery-dco-false.json",
                                "vpnsummary-dco-not-loaded.json", "ip-link-tun.json")
    rec = run(run_module, monkeypatch, record)["recommendation"]
    assert (rec["flavour"], rec["method"], rec["package"]) == ("ovpn-dco-v2", "package", "openvpn-dco-dkms")
    assert rec["steps"] == [
        "kmod role (flavour ovpn-dco-v2): apt-get install linux-headers-6.1.0-56-amd64",
        "kmod role (flavour ovpn-dco-v2): apt-get install openvpn-dco-dkms",
        "kmod role (flavour ovpn-dco-v2): modprobe ovpn-dco-v2",
        "kmod role (flavour ovpn-dco-v2): persist in /etc/modules-load.d/ovpnfleet-dco.conf",
        "set vpn.server.daemon.ovpndco to true with ovpnfleet.dco.access_server (dco: enabled); it is 'false' now",
        "sacli start (ovpnfleet.dco.access_server runs it only when the key changed, and waits for the API and "
        "every daemon)",
        "verify: ovpnfleet.dco.access_server_info reports dco_available true, and ovpnfleet.dco.tunnel_info "
        "shows the as0t*/as0u* devices of link kind ovpn-dco",
    ]
    assert any("openvpn-dco-dkms (Debian/Ubuntu) and kmod-ovpn-dco (RHEL" in note for note in rec["notes"])


def test_as_3_2_on_a_kernel_with_ovpn_loads_the_in_tree_module(run_module, monkeypatch):
    record = with_access_server("debian13-bpo-fresh", "3.2.0-0f1e2d3c-Debian13", "configquery-dco-true.json",
                                "vpnsummary-dco-not-loaded.json", "ip-link-tun.json")
    rec = run(run_module, monkeypatch, record)["recommendation"]
    assert (rec["flavour"], rec["method"], rec["status"]) == ("ovpn", "inkernel", "actionable")
    # The key is already true: no ConfigPut step, but sacli start so the daemons open ovpn devices.
    assert rec["steps"][:2] == ["kmod role (flavour ovpn): modprobe ovpn",
                                "kmod role (flavour ovpn): persist in /etc/modules-load.d/ovpnfleet-dco.conf"]
    assert [step.split(" ")[0] for step in rec["steps"][2:]] == ["sacli", "verify:"]
    assert not any("not confirmed" in note for note in rec["notes"])


def test_as_3_2_on_an_older_kernel_says_what_the_manual_does_not(run_module, monkeypatch):
    record = with_access_server("debian12-fresh", "3.2.0-0f1e2d3c-Debian12", "configquery-dco-true.json",
                                "vpnsummary-dco-not-loaded.json", "ip-link-tun.json")
    rec = run(run_module, monkeypatch, record)["recommendation"]
    assert rec["flavour"] == "ovpn"
    assert any("kernel 6.1.0-56-amd64 has none: boot a 6.16 or newer kernel, or build ovpn from ovpn-backports"
               in note for note in rec["notes"])
    assert any(note.startswith("not confirmed: Access Server's manual says only that 3.2.0 and newer use the ovpn")
               for note in rec["notes"])


def test_as_before_2_12_cannot_do_dco(run_module, monkeypatch):
    record = with_access_server("debian12-fresh", "2.11.3-abcdef01-Debian12", "configquery-no-dco-key.json",
                                "vpnsummary-2.11.json", "ip-link-tun.json")
    rec = run(run_module, monkeypatch, record)["recommendation"]
    assert (rec["status"], rec["flavour"], rec["steps"]) == ("unsupported", None, [])
    assert rec["reasons"] == ["Access Server 2.11.3-abcdef01-Debian12 cannot do DCO: it needs 2.12 or newer; "
                              "upgrade Access Server first"]


@pytest.mark.parametrize("configquery, status, steps", [
    ("configquery-dco-true.json", "ready", []),
    ("configquery-dco-false.json", "actionable", ["set", "sacli", "verify:"]),
])
def test_as_3_1_with_the_module_loaded_needs_only_the_key(run_module, monkeypatch, configquery, status, steps):
    record = with_access_server("debian12-fresh", "3.1.0-1a2b3c4d-Debian12", configquery,
                                "vpnsummary-dco-loaded.json", "ip-link-ovpn-dco.json", loaded="ovpn_dco_v2")
    result = run(run_module, monkeypatch, record)
    rec = result["recommendation"]
    assert (rec["status"], rec["flavour"]) == (status, "ovpn-dco-v2")
    assert [step.split(" ")[0] for step in rec["steps"]] == steps
    assert rec["access_server"]["default_enabled"] is True


def test_nothing_of_configquery_but_the_key_reaches_the_result(run_module, monkeypatch):
    record = with_access_server("debian12-fresh", "2.14.3-d2b0d4b4-Debian12", "configquery-dco-false.json",
                                "vpnsummary-dco-not-loaded.json", "ip-link-tun.json")
    result = run(run_module, monkeypatch, record)
    assert SECRET in record["run"]["%s ConfigQuery" % SACLI][1]
    assert SECRET not in repr(result)


def test_a_host_without_access_server_is_unchanged(run_module, monkeypatch):
    record = without_access_server(copy.deepcopy(load_fixture(os.path.join(HOSTS, "debian12-fresh.json"))["probe"]))
    result = run(run_module, monkeypatch, record)
    assert result["access_server"]["is_access_server"] is False
    assert result["recommendation"]["access_server"] is None
    assert result["recommendation"]["steps"][-2:] == ["modprobe ovpn-dco-v2",
                                                      "persist in /etc/modules-load.d/ovpnfleet-dco.conf"]
