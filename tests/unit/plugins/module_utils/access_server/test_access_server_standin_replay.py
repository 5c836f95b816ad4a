# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""access_server._server replayed against outputs RECORDED on the lab from the Access Server
STAND-IN (tests/lab/access_server_standin), not from Access Server: what the collection reads of
the stand-in on Debian 12 (stand-in AS 2.14, ovpn-dco-v2) and Debian 13 + backports (stand-in
AS 3.2, in-tree ovpn), with the DCO key false (after install) and true (after enable_dco).
See tests/unit/fixtures/access_server_standin/README.md for where and how they were recorded."""

from __future__ import annotations

import os

import pytest

from ansible_collections.ovpnfleet.dco.plugins.module_utils.access_server import _server

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "fixtures", "access_server_standin")
SACLI = _server.SACLI
PLATFORMS = {"debian12": ("2.14.3-standin-Debian12", "ovpn-dco-v2", "ovpn-dco"),
             "debian13-bpo": ("3.2.0-standin-Debian13", "ovpn", "ovpn")}
DEVICES = ["as0t0", "as0t1", "as0u0", "as0u1"]


def recorded(platform, label, suffix):
    with open(os.path.join(FIXTURES, "%s-%s-%s" % (platform, label, suffix)), encoding="utf-8") as handle:
        return handle.read()


class ReplayHost(_server.AccessServerHost):
    """Answers each command with what the stand-in answered on the lab in state ``label``;
    ``after`` is the state a ``sacli start`` leads to. Records every command run."""

    def __init__(self, platform, label, after=None):
        super().__init__(module=None)
        self.platform, self.label, self.after = platform, label, after or label
        self.ran = []
        self.clock = 0.0

    def _now(self):
        self.clock += 1.0
        return self.clock

    def _sleep(self, seconds):
        self.clock += seconds

    def _run_command(self, argv):
        self.ran.append(list(argv))
        files = {(SACLI, "status"): "status.json", (SACLI, "ConfigQuery"): "configquery.json",
                 (SACLI, "VPNSummary"): "vpnsummary.json", ("ip", "-d", "-j", "link", "show"): "ip-link.json",
                 ("uname", "-r"): "uname.txt", ("dpkg-query", "-W", "-f=${Status} ${Version}", "openvpn-as"):
                 "dpkg-query.txt"}
        if tuple(argv) in files:
            return 0, recorded(self.platform, self.label, files[tuple(argv)]), ""
        if argv[:2] == [SACLI, "--key"] and argv[-1] == "ConfigPut" or argv == [SACLI, "start"]:
            if argv == [SACLI, "start"]:
                self.label = self.after
            return 0, "", ""
        raise AssertionError("the stand-in was not recorded answering %s" % argv)


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
@pytest.mark.parametrize("label, key", [("dco-false", False), ("dco-true", True)])
def test_standin_recordings_read_as_access_server(platform, label, key):
    version, flavour, kind = PLATFORMS[platform]
    info = _server.gather_info(ReplayHost(platform, label))
    assert (info["is_access_server"], info["version"], info["ready"]) == (True, version, True)
    assert info["requirement"]["flavour"] == flavour
    assert info["daemons"] == {"openvpn_%d" % n: "on" for n in range(4)}
    assert (info["dco_setting"], info["dco_configured"]) == (str(key).lower(), key)
    assert info["clients"] == 2
    assert [(link["name"], link["kind"], link["dco"]) for link in info["interfaces"]] == [
        (name, kind if key else "tun", key) for name in DEVICES]
    if key:
        assert info["dco_available"] is True
        assert info["problems"] == []


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_standin_converged_is_never_restarted(platform):
    host = ReplayHost(platform, "dco-true")
    result, diff, warnings = _server.switch_dco(host, "enabled", 60, check_mode=False)
    assert (result["changed"], result["restarted"], result["dco_before"]) == (False, False, "true")
    assert not [argv for argv in host.ran if argv[1:] == ["start"] or argv[-1] == "ConfigPut"], host.ran
    assert diff["before"] == diff["after"]
    assert warnings == []


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_standin_switch_on_writes_the_key_and_starts_once(platform):
    host = ReplayHost(platform, "dco-false", after="dco-true")
    result, _diff, warnings = _server.switch_dco(host, "enabled", 60, check_mode=False)
    assert (result["changed"], result["restarted"], result["dco_before"], result["dco_after"]) == (
        True, True, "false", "true")
    writes = [argv for argv in host.ran if argv[-1] == "ConfigPut" or argv[1:] == ["start"]]
    assert writes == [[SACLI, "--key", _server.DCO_KEY, "--value", "true", "ConfigPut"], [SACLI, "start"]]
    assert result["dco_available"] is True
    assert warnings == []
