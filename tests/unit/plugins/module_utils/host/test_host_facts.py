# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parsers of host_info, fed with text real hosts printed.

Sample lines come from the recorded fixtures in tests/unit/fixtures/host_info/ and from the
Debian 12 host described in shared/LAB-FACTS.md and DCO-FACTS.md (dkms status, openvpn --version).
"""

from __future__ import annotations

import pytest

from ansible_collections.ovpnfleet.dco.plugins.module_utils._generations import (
    generation_for_openvpn,
    kernel_sort_key,
    parse_version,
)
from ansible_collections.ovpnfleet.dco.plugins.module_utils.host._facts import (
    gather_host_facts,
    module_origin,
    newer_kernel,
    parse_apt_policy,
    parse_dkms_status,
    parse_kernel_config,
    parse_lockdown,
    parse_modinfo,
    parse_openvpn_version,
    parse_os_release,
)
from ansible_collections.ovpnfleet.dco.plugins.module_utils._probe import CommandResult


@pytest.mark.parametrize("text, expected", [
    ("ovpn-dco/0.0+git20231103, 6.1.0-56-amd64, x86_64: installed",
     {"name": "ovpn-dco", "version": "0.0+git20231103", "kernel": "6.1.0-56-amd64",
      "arch": "x86_64", "state": "installed"}),
    ("ovpn-dco, 0.2.20231117, 5.15.0-91-generic, x86_64: built",
     {"name": "ovpn-dco", "version": "0.2.20231117", "kernel": "5.15.0-91-generic",
      "arch": "x86_64", "state": "built"}),
    ("ovpn-dco/0.0+git20231103: added",
     {"name": "ovpn-dco", "version": "0.0+git20231103", "kernel": None, "arch": None,
      "state": "added"}),
    ("ovpn/7.0.0.2026032400, 6.17.0-5-generic, x86_64: installed (WARNING! Diff between built and installed module!)",
     {"name": "ovpn", "version": "7.0.0.2026032400", "kernel": "6.17.0-5-generic",
      "arch": "x86_64", "state": "installed"}),
])
def test_parse_dkms_status_line(text, expected):
    (entry,) = parse_dkms_status(text)
    assert {key: entry[key] for key in expected} == expected


def test_parse_dkms_status_skips_noise():
    assert parse_dkms_status("\nDeprecated feature: REMAKE_INITRD\n") == []


@pytest.mark.parametrize("text, version, dco_built, dco_version", [
    ("OpenVPN 2.6.14 x86_64-pc-linux-gnu [SSL (OpenSSL)] [LZO] [LZ4] [EPOLL] [PKCS11] [MH/PKTINFO] [AEAD] [DCO]\n"
     "library versions: OpenSSL 3.0.17 1 Jul 2025, LZO 2.10\nDCO version: N/A\n",
     "2.6.14", True, None),
    ("OpenVPN 2.6.14 x86_64-pc-linux-gnu [SSL (OpenSSL)] [LZO] [LZ4] [EPOLL] [PKCS11] [MH/PKTINFO] [AEAD] [DCO]\n"
     "DCO version: 0.0+git20231103\n", "2.6.14", True, "0.0+git20231103"),
    ("OpenVPN 2.5.1 x86_64-pc-linux-gnu [SSL (OpenSSL)] [LZO] [LZ4] [EPOLL] [PKCS11] [MH/PKTINFO] [AEAD]\n",
     "2.5.1", False, None),
    ("", None, None, None),
])
def test_parse_openvpn_version(text, version, dco_built, dco_version):
    parsed = parse_openvpn_version(text)
    assert (parsed["version"], parsed["dco_built"], parsed["dco_version"]) == (version, dco_built, dco_version)


@pytest.mark.parametrize("version, flavour", [
    ("2.5.11", None),
    ("2.6.0", None),
    ("2.6.1", None),
    ("2.6.2", "ovpn-dco-v2"),
    ("2.6.14", "ovpn-dco-v2"),
    ("2.7.0", "ovpn"),
    ("2.7.8", "ovpn"),
    ("2.7_rc2", "ovpn"),
    ("garbage", None),
])
def test_flavour_for_openvpn(version, flavour):
    found = generation_for_openvpn(parse_version(version))
    assert (found.name if found else None) == flavour


@pytest.mark.parametrize("older, newer", [
    ("6.1.0-50-amd64", "6.1.0-56-amd64"),
    ("6.1.0-56-amd64", "6.12.57+deb13-amd64"),
    ("6.16.12+deb13-amd64", "7.3.4+deb13-amd64"),
    ("6.9.0-1-amd64", "6.10.0-1-amd64"),
])
def test_kernel_sort_key_orders_debian_releases(older, newer):
    assert kernel_sort_key(older) < kernel_sort_key(newer)


@pytest.mark.parametrize("running, installed, pending", [
    ("6.1.0-50-amd64", ["6.1.0-50-amd64", "6.1.0-56-amd64"], "6.1.0-56-amd64"),
    ("6.1.0-56-amd64", ["6.1.0-50-amd64", "6.1.0-56-amd64"], None),
    ("6.18.44-fc-v769", [], None),
])
def test_newer_kernel(running, installed, pending):
    assert newer_kernel(running, installed) == pending


def test_parse_apt_policy_installed_candidate_and_unknown():
    text = (
        "linux-headers-6.18.44-fc-v769:\n"
        "  Installed: (none)\n  Candidate: (none)\n  Version table:\n"
        "openvpn:\n  Installed: 2.6.14-0+deb12u2\n  Candidate: 2.6.14-0+deb12u2\n"
        "  Version table:\n *** 2.6.14-0+deb12u2 500\n        500 http://deb.debian.org/debian bookworm/main amd64 Packages\n"
    )
    assert parse_apt_policy(text) == {
        "linux-headers-6.18.44-fc-v769": {"installed": None, "candidate": None},
        "openvpn": {"installed": "2.6.14-0+deb12u2", "candidate": "2.6.14-0+deb12u2"},
    }


@pytest.mark.parametrize("text, mode", [
    ("none [integrity] confidentiality\n", "integrity"),
    ("[none] integrity confidentiality\n", "none"),
    (None, None),
])
def test_parse_lockdown(text, mode):
    assert parse_lockdown(text) == mode


def test_parse_kernel_config_set_module_and_unset():
    text = "CONFIG_MODULES=y\nCONFIG_OVPN=m\n# CONFIG_FOO is not set\nCONFIG_LOCALVERSION=\"\"\n"
    assert parse_kernel_config(text) == {
        "CONFIG_MODULES": "y", "CONFIG_OVPN": "m", "CONFIG_FOO": "n", "CONFIG_LOCALVERSION": ""}


def test_parse_os_release_quoted_values():
    text = 'PRETTY_NAME="Debian GNU/Linux 13 (trixie)"\nID=debian\nVERSION_ID="13"\nVERSION_CODENAME=trixie\n'
    assert parse_os_release(text) == {
        "id": "debian", "version_id": "13", "codename": "trixie",
        "pretty_name": "Debian GNU/Linux 13 (trixie)"}


def test_parse_modinfo_keeps_first_value_and_ignores_failure():
    out = ("filename:       /lib/modules/6.1.0-50-amd64/updates/dkms/ovpn-dco-v2.ko\n"
           "version:        0.0+git20231103\nalias:          rtnl-link-ovpn-dco\n"
           "alias:          net-pf-16-proto-16-family-ovpn-dco-v2\n")
    info = parse_modinfo(CommandResult(0, out, ""))
    assert info["version"] == "0.0+git20231103"
    assert info["alias"] == "rtnl-link-ovpn-dco"
    assert parse_modinfo(CommandResult(1, "", "modinfo: ERROR: Module ovpn not found.\n")) == {}


@pytest.mark.parametrize("filename, builtin, origin", [
    ("/lib/modules/7.3.4+deb13-amd64/kernel/drivers/net/ovpn/ovpn.ko.xz", False, "in-tree"),
    ("/lib/modules/6.1.0-50-amd64/updates/dkms/ovpn-dco-v2.ko", False, "dkms"),
    ("/lib/modules/6.1.0-50-amd64/updates/drivers/net/ovpn-dco/ovpn-dco-v2.ko", False, "updates"),
    ("(builtin)", False, "builtin"),
    (None, True, "builtin"),
    (None, False, None),
])
def test_module_origin(filename, builtin, origin):
    assert module_origin(filename, builtin) == origin


class _CountingProbe:
    """A recorded host that also notes every command it was asked to run."""

    def __init__(self, record):
        from ansible_collections.ovpnfleet.dco.tests.unit.host_probes import ReplayProbe
        self._inner = ReplayProbe(record)
        self.commands = []

    def run(self, argv):
        self.commands.append(argv[0])
        return self._inner.run(argv)

    def __getattr__(self, name):
        return getattr(self._inner, name)


def _host_info_fixture(name):
    import os
    from ansible_collections.ovpnfleet.dco.tests.unit.host_probes import load_fixture
    return load_fixture(os.path.join(os.path.dirname(__file__), "..", "..", "..", "fixtures", "host_info", name + ".json"))


def _container_with_openvpn():
    """The build machine (no module support) with Debian 12's OpenVPN answer: a lab container."""
    import copy
    record = copy.deepcopy(_host_info_fixture("build-machine")["probe"])
    fresh = _host_info_fixture("debian12-fresh")["probe"]
    for key in [key for key in record["run"] if key.startswith("openvpn ")]:
        record["run"][key] = fresh["run"][key]
    return record


@pytest.mark.parametrize("record,asks_apt", [
    (_container_with_openvpn(), False),
    (_host_info_fixture("build-machine")["probe"], True),   # no OpenVPN: apt may offer one
    (_host_info_fixture("debian12-fresh")["probe"], True),  # modules load: packages matter
])
def test_sweeps_skip_apt_only_where_no_package_could_help(record, asks_apt):
    from ansible_collections.ovpnfleet.dco.plugins.module_utils.kmod._readiness import recommend
    full = recommend(gather_host_facts(_CountingProbe(record)))
    probe = _CountingProbe(record)
    quick = recommend(gather_host_facts(probe, packages_if_unloadable=False))
    assert ("apt-cache" in probe.commands) is asks_apt
    assert (quick["status"], quick["reasons"]) == (full["status"], full["reasons"])
    assert asks_apt or quick["status"] == "unsupported"


def _with_loaded(record, *modules):
    import copy
    record = copy.deepcopy(record)
    for module in modules:
        record["exists"]["/sys/module/" + module] = True
        record["read"]["/sys/module/%s/refcnt" % module] = "0\n"
        record["read"]["/sys/module/%s/version" % module] = None
    return record


@pytest.mark.parametrize("loaded, asks_apt", [
    (("ovpn",), False),           # OpenVPN 2.7's module is loaded: a converged host, apt changes nothing
    ((), True),                   # nothing loaded: the packages say how the module would come
    (("ovpn_dco_v2",), True),     # the other generation's module: the move needs the packages
])
def test_sweeps_skip_apt_where_the_module_openvpn_needs_is_loaded(loaded, asks_apt):
    from ansible_collections.ovpnfleet.dco.plugins.module_utils.kmod._readiness import recommend
    record = _with_loaded(_host_info_fixture("debian13-bpo-fresh")["probe"], *loaded)
    full = recommend(gather_host_facts(_CountingProbe(record)))
    probe = _CountingProbe(record)
    quick = recommend(gather_host_facts(probe, packages_if_unloadable=False, packages_if_ready=False))
    assert ("apt-cache" in probe.commands) is asks_apt
    assert (quick["status"], quick["flavour"], quick["method"], quick["reasons"]) == (
        full["status"], full["flavour"], full["method"], full["reasons"])
    assert asks_apt or quick["status"] == "ready"


def _regex_kernel_config(text):
    """What parse_kernel_config returned while it matched two regexes per line: the reference."""
    import re
    options = {}
    for line in text.splitlines():
        match = re.match(r"^(CONFIG_\w+)=(.*)$", line)
        if match:
            options[match.group(1)] = match.group(2).strip('"')
            continue
        match = re.match(r"^# (CONFIG_\w+) is not set$", line)
        if match:
            options[match.group(1)] = "n"
    return options


def _recorded_kernel_configs():
    import glob
    import os
    here = os.path.join(os.path.dirname(__file__), "..", "..", "..", "fixtures", "host_info")
    for path in sorted(glob.glob(os.path.join(here, "*.json"))):
        record = _host_info_fixture(os.path.basename(path)[:-len(".json")])["probe"]
        for name, text in sorted(record["read"].items()):
            if text and (name.startswith("/boot/config-") or name == "/proc/config.gz"):
                yield pytest.param(text, id="%s:%s" % (os.path.basename(path), name))


@pytest.mark.parametrize("text", list(_recorded_kernel_configs()) + [
    "CONFIG_A=y\r\nCONFIG_B=\"x=y\"\n# CONFIG_C is not set\n#CONFIG_D is not set\n# CONFIG_E is not set \n",
    "CONFIG_=y\nCONFIG__=m\nCONFIG_9=1\nCONFIG_Ä=y\nCONFIG_A-B=y\nCONFIG_A B=y\nCONFIG_X\n CONFIG_Y=y\n",
    "# CONFIG_ is not set\n# CONFIG_A B is not set\n# CONFIG_ÄÖ is not set\n# CONFIG_X=y is not set\n",
    "CONFIG_S=\"quoted \"inside\"\"\nCONFIG_T=\nCONFIG_U==\nconfig_v=y\n\n# comment\n",
])
def test_parse_kernel_config_matches_the_regex_it_replaced(text):
    assert len(text) < 1000 or len(_regex_kernel_config(text)) > 1000, "a recorded config has its options"
    assert parse_kernel_config(text) == _regex_kernel_config(text)


def test_kernel_release_and_arch_come_from_uname_not_commands():
    # debian13-stock-dco was recorded while /proc/sys read nothing, so it ran uname -r too.
    probe = _CountingProbe(_host_info_fixture("debian13-stock-dco")["probe"])
    facts = gather_host_facts(probe)
    assert (facts["kernel"]["release"], facts["kernel"]["arch"]) == ("6.12.118+deb13-amd64", "x86_64")
    assert "uname" not in probe.commands


def test_the_probe_answers_uname_as_the_commands_would():
    import os
    from ansible_collections.ovpnfleet.dco.tests.unit.host_probes import LocalProbe
    probe = LocalProbe()
    assert probe.uname().release == probe.run(["uname", "-r"]).stdout.strip() == os.uname().release
    assert probe.uname().machine == probe.run(["uname", "-m"]).stdout.strip()


def test_the_probe_reads_proc_sys():
    # Linux answers ENOMEM to a /proc/sys read that asks for KMALLOC_MAX_SIZE (4 MiB) or more.
    import os
    from ansible_collections.ovpnfleet.dco.plugins.module_utils._probe import FileProbe
    assert FileProbe().read("/proc/sys/kernel/osrelease") == os.uname().release + "\n"


def test_the_probe_reads_in_chunks_with_the_same_bounds(tmp_path):
    from ansible_collections.ovpnfleet.dco.plugins.module_utils import _probe
    path = tmp_path / "big"
    data = b"".join(b"line %07d\n" % number for number in range(60000))   # 780 kB: several chunks
    path.write_bytes(data)
    assert _probe._read_regular(str(path), len(data), tail=False) == (data, None)
    assert _probe._read_regular(str(path), len(data) - 1, tail=False) == (None, "larger than %d bytes" % (len(data) - 1))
    assert _probe._read_regular(str(path), 33, tail=True) == (data[-26:], None)  # whole lines only
