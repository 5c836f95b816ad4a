# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every piece that needs a fact about a module generation reads it from _generations.

A third generation is added here through monkeypatch; each consumer must see it without an edit
of its own. A scan of the source then finds no generation fact spelled out anywhere else.
"""

from __future__ import annotations

import ast
import os

import pytest

from ansible_collections.ovpnfleet.dco.plugins.module_utils import _generations as generations
from ansible_collections.ovpnfleet.dco.plugins.module_utils._generations import GENERATIONS, OVPN, OVPN_DCO_V2
from ansible_collections.ovpnfleet.dco.plugins.module_utils._probe import CommandResult
from ansible_collections.ovpnfleet.dco.plugins.module_utils.access_server._server import dco_requirement, parse_links
from ansible_collections.ovpnfleet.dco.plugins.module_utils.host._facts import _kconfig_value, _package_candidates
from ansible_collections.ovpnfleet.dco.plugins.module_utils.kmod._plan import persist_content
from ansible_collections.ovpnfleet.dco.plugins.module_utils.kmod._readiness import _flavour_or_reasons
from ansible_collections.ovpnfleet.dco.plugins.module_utils.kmod._runner import dkms_conf
from ansible_collections.ovpnfleet.dco.plugins.module_utils.netlink._peers import FAMILIES, family_for_link_kind
from ansible_collections.ovpnfleet.dco.plugins.module_utils.openvpn._config import parse_text
from ansible_collections.ovpnfleet.dco.plugins.module_utils.openvpn._dco_rules import evaluate
from ansible_collections.ovpnfleet.dco.plugins.modules import kmod

PLUGINS = os.path.join(os.path.dirname(generations.__file__), "..")

NEXT = OVPN._replace(
    name="ovpn-next", module="ovpn_next", modprobe_name="ovpn-next",
    source_ko="drivers/net/ovpn-next/ovpn-next.ko", in_tree_ko="kernel/drivers/net/ovpn-next/ovpn-next.ko",
    kconfig="CONFIG_OVPN_NEXT", link_kind="ovpn-next", dkms_name="ovpn-next",
    distro_packages=("ovpn-next-dkms",), openvpn_versions=((2, 9, 0), None),
    access_server_versions=((4, 0, 0), None), in_tree_since=(7, 9), out_of_tree="ovpn-next-backports",
)


@pytest.fixture
def third_generation(monkeypatch):
    monkeypatch.setitem(GENERATIONS, OVPN.name, OVPN._replace(openvpn_versions=((2, 7, 0), (2, 9, 0)),
                                                              access_server_versions=((3, 2, 0), (4, 0, 0))))
    monkeypatch.setitem(GENERATIONS, NEXT.name, NEXT)


def test_version_ranges_tile_without_gaps_or_overlaps():
    ordered = list(GENERATIONS.values())
    for older, newer in zip(ordered, ordered[1:]):
        assert older.openvpn_versions[1] == newer.openvpn_versions[0]
        assert older.access_server_versions[1] == newer.access_server_versions[0]
    assert ordered[-1].openvpn_versions[1] is None


@pytest.mark.parametrize("version, name", [
    ((2, 5, 9), None), ((2, 6, 1), None), ((2, 6, 2), "ovpn-dco-v2"), ((2, 6, 22), "ovpn-dco-v2"),
    ((2, 7, 0), "ovpn"), ((2, 8, 3), "ovpn"), ((2, 9, 0), "ovpn-next"),
])
def test_openvpn_versions_pick_the_new_generation(third_generation, version, name):
    found = generations.generation_for_openvpn(version)
    assert (found and found.name) == name


def test_access_server_rule_reads_the_table(third_generation):
    rule = dco_requirement("4.1.0-abc-Ubuntu24", "7.3.0-1-amd64")
    assert (rule["flavour"], rule["module"], rule["packages"]) == ("ovpn-next", "ovpn_next", None)
    assert "Linux 7.9" in rule["notes"][0] and "ovpn-next-backports" in rule["notes"][0]
    assert dco_requirement("3.3.0", "6.16.0")["flavour"] == "ovpn"
    assert dco_requirement("2.14.3", "6.1.0")["packages"] == OVPN_DCO_V2.access_server_packages


def test_access_server_links_of_the_new_kind_are_dco(third_generation):
    text = '[{"ifname": "as0u0", "linkinfo": {"info_kind": "ovpn-next"}}]'
    assert parse_links(text)[0]["dco"] is True


def test_netlink_family_follows_the_link_kind(third_generation):
    assert family_for_link_kind("ovpn-next") is FAMILIES[NEXT.genl_family]
    assert family_for_link_kind(OVPN_DCO_V2.link_kind).FAMILY == OVPN_DCO_V2.genl_family
    assert {generation.genl_family for generation in GENERATIONS.values()} <= set(FAMILIES)


def test_dkms_conf_and_boot_file_name_the_generation():
    conf = dkms_conf(NEXT, "1.0")
    assert 'PACKAGE_NAME="ovpn-next"' in conf
    assert 'BUILT_MODULE_NAME[0]="ovpn-next"' in conf
    assert 'BUILT_MODULE_LOCATION[0]="drivers/net/ovpn-next"' in conf
    assert "OpenVPN 2.9+ needs" in persist_content(NEXT)
    assert "OpenVPN 2.6 needs" in persist_content(OVPN_DCO_V2)


def test_host_facts_ask_for_the_generation_packages_and_kconfig(third_generation):
    asked = []

    class Probe:
        def run(self, argv):
            asked.append(argv)
            return CommandResult(127, "", "")

    _package_candidates(Probe(), "7.3.0-1-amd64")
    assert "ovpn-next-dkms" in asked[0] and "openvpn-dco-dkms" in asked[0]
    config = {"source": "/boot/config-7.3.0-1-amd64", "options": {"CONFIG_OVPN_NEXT": "m"}}
    assert _kconfig_value(config, NEXT) == "m"


def test_dco_rules_name_the_link_kind_of_the_table(monkeypatch):
    monkeypatch.setitem(GENERATIONS, OVPN.name, OVPN._replace(link_kind="ovpn-renamed"))
    verdict = evaluate(parse_text("client\ndev tun0\nremote 192.0.2.1\n"), "2.7.2")
    assert any("not of kind ovpn-renamed" in note["msg"] for note in verdict["notes"])


def test_readiness_says_which_openvpn_to_upgrade_to(monkeypatch):
    monkeypatch.setitem(GENERATIONS, OVPN_DCO_V2.name, OVPN_DCO_V2._replace(openvpn_versions=((2, 6, 5), (2, 7, 0))))
    reasons = []
    assert _flavour_or_reasons({"installed": True, "version": "2.6.3", "dco_built": True}, None, reasons) is None
    assert "2.6.5 or newer" in reasons[0]


def test_kmod_flavour_choices_are_the_table():
    assert kmod.ARGUMENT_SPEC["flavour"]["choices"] == ["auto"] + list(GENERATIONS)


def _facts_of(generation):
    return {generation.name, generation.module, generation.modprobe_name, generation.source_ko,
            generation.module_file, generation.genl_family, generation.link_kind, generation.dkms_name,
            generation.kconfig, generation.in_tree_ko, generation.out_of_tree} - {None}


def _string_literals(path):
    with open(path, encoding="utf-8") as handle:
        tree = ast.parse(handle.read())
    docs = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docs.add(id(first.value))
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs]


def _python_files():
    # The table itself, and the netlink files, which mirror one kernel header each.
    allowed = {"module_utils/_generations.py", "module_utils/netlink/_ovpn.py",
               "module_utils/netlink/_ovpn_dco_v2.py"}
    root_dir = os.path.normpath(PLUGINS)
    for root, _dirs, files in os.walk(root_dir):
        if os.path.basename(root) in ("modules", "doc_fragments"):
            continue  # DOCUMENTATION strings name the generations for readers
        for name in files:
            path = os.path.join(root, name)
            if name.endswith(".py") and os.path.relpath(path, root_dir).replace(os.sep, "/") not in allowed:
                yield path


def test_no_generation_fact_is_spelled_out_outside_the_table():
    facts = set()
    for generation in GENERATIONS.values():
        facts |= _facts_of(generation)
    found = [(os.path.basename(path), line, value) for path in _python_files()
             for line, value in _string_literals(path) if value in facts]
    # plugin_utils/_survey.py offers the kmod role's choices to AWX; awx/generate_surveys.py loads
    # it without the collection on the path, so it cannot import the table.
    found = [hit for hit in found if hit[0] != "_survey.py"]
    assert found == []
