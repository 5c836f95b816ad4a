# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every pinned source in kmod/sources.yml is usable by the kmod role as written."""

from __future__ import annotations

import os
import re

import pytest
import yaml

from ansible_collections.ovpnfleet.dco.plugins.module_utils._generations import GENERATIONS

SOURCES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "kmod", "sources.yml")
with open(SOURCES) as handle:
    ENTRIES = yaml.safe_load(handle)["ovpn_dco_sources"]


@pytest.mark.parametrize("name", sorted(ENTRIES))
def test_source_entry(name):
    entry = ENTRIES[name]
    assert entry["flavour"] in GENERATIONS
    assert re.fullmatch(r"[0-9a-f]{64}", entry["sha256"])
    assert entry["format"] in ("deb", "tar")
    assert entry["url"].startswith(("http://", "https://"))
    assert entry["version"] in name
    if entry["format"] == "deb":
        assert entry["subdir"].startswith("usr/src/") and entry["subdir"].endswith(entry["version"])
    # Quoted major.minor: YAML would read 6.10 as the float 6.1.
    assert entry["tested_kernels"] and all(re.fullmatch(r"\d+\.\d+", series) for series in entry["tested_kernels"])


def test_role_default_source_is_chosen_per_build_group():
    with open(os.path.join(os.path.dirname(SOURCES), "..", "roles", "kmod", "defaults", "main.yml")) as handle:
        assert yaml.safe_load(handle)["kmod_source"] == "auto"
