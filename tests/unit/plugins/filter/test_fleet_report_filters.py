# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet report filters stamp every file with one UTC time and the collection's version,
read from the collection the filters run from: MANIFEST.json when installed, galaxy.yml in a checkout."""

from __future__ import annotations

import datetime
import json
import os
import xml.etree.ElementTree as ET

import yaml

from ansible_collections.ovpnfleet.dco.plugins.filter import fleet_report

TOP = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..")


def test_this_checkout_reports_its_galaxy_version():
    with open(os.path.join(TOP, "galaxy.yml"), encoding="utf-8") as handle:
        expected = yaml.safe_load(handle)["version"]
    assert fleet_report.collection_version() == expected


def test_an_installed_collection_reports_its_manifest_version(tmp_path):
    (tmp_path / "MANIFEST.json").write_text(json.dumps({"collection_info": {"version": "2.3.4"}}))
    (tmp_path / "galaxy.yml").write_text("version: 9.9.9\n")
    assert fleet_report.collection_version(str(tmp_path)) == "2.3.4"


def test_a_collection_without_metadata_has_no_version(tmp_path):
    assert fleet_report.collection_version(str(tmp_path)) is None
    (tmp_path / "MANIFEST.json").write_text("{not json")
    (tmp_path / "galaxy.yml").write_text("- a list\n")
    assert fleet_report.collection_version(str(tmp_path)) is None


def test_every_file_shares_one_utc_stamp():
    rows = fleet_report.FilterModule().filters()["fleet_rows"]({"vm1": {"instances": []}})
    made = fleet_report.FilterModule().filters()["fleet_report_files"](rows)
    stamp = json.loads(made["fleet.json"])["generated"]
    when = datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    assert when.utcoffset() == datetime.timedelta(0) and stamp.endswith("Z")
    assert abs((datetime.datetime.now(datetime.timezone.utc) - when).total_seconds()) < 60
    assert ET.fromstring(made["junit.xml"]).get("timestamp") == stamp
    for text in made.values():
        assert stamp in text and fleet_report.collection_version() in text
