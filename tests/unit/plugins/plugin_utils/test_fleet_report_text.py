# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet report with hostile text in every field: each format stays well-formed, every
report says when and by which version it was made, JUnit case names are unique, and a
threshold fails the hosts that miss it, never a healthy one."""

from __future__ import annotations

import html.parser
import json
import re
import xml.etree.ElementTree as ET

import pytest

from ansible_collections.ovpnfleet.dco.plugins.plugin_utils import _fleet_report as report

HOSTILE = "a\nb|c<d&e`f*g]]>h\x00i\x1bj\x7fk\x85l\ud800m\r\nn\to\udfff"
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
META = {"generated": "2026-11-25T07:41:29Z", "collection_version": "0.1.0"}


def hostile_instance(name=HOSTILE, healthy=False):
    return {"name": name, "mode": HOSTILE, "interface": HOSTILE, "dco_active": False, "dco_off_reason": HOSTILE,
            "peers": None, "management": None, "certificates": {"cert": {"days_left": 10}},
            "healthy": healthy, "problems": [HOSTILE, "second " + HOSTILE] if not healthy else []}


def hostile_table():
    return report.rows({
        "host" + HOSTILE: {"readiness": {"status": "ready"}, "instances": [hostile_instance()]},
        "vm1": {"readiness": {"status": "ready"},
                "instances": [hostile_instance("lab", True), hostile_instance("lab", True), hostile_instance("lab #2", True)]},
        "lost": {"unreachable": True, "msg": HOSTILE},
    })


def test_junit_without_surrogates_is_still_xml():
    instance = {"name": "x\x00\x1b y", "mode": "server", "interface": "tun0", "dco_active": False,
                "dco_off_reason": "\x7f]]>", "healthy": False, "problems": ["<&>\x07"]}
    table = report.rows({"vm1": {"instances": [instance]}})
    root = ET.fromstring(report.junit(table).encode("utf-8"))
    assert root.find(".//testcase").get("name") == "vm1/x\ufffd\ufffd y"
    assert root.find(".//failure").get("message") == "<&>\ufffd"


def test_junit_is_well_formed_xml_whatever_the_text():
    text = report.junit(hostile_table())
    root = ET.fromstring(text.encode("utf-8"))
    cases = root.findall(".//testcase")
    assert len(cases) == 5
    failure = cases[0].find("failure")
    # Newlines and markup survive as text; what XML cannot carry shows as U+FFFD.
    assert failure.get("message").startswith("a\nb|c<d&e`f*g]]>h\ufffdi\ufffdj\ufffdk\ufffdl\ufffdm")
    assert not CONTROL.search(text)


def test_junit_case_names_are_unique():
    names = [case.get("name") for case in ET.fromstring(report.junit(hostile_table())).iter("testcase")]
    assert len(set(names)) == len(names)
    assert names[2:] == ["vm1/lab", "vm1/lab #2", "vm1/lab #2 #2"]


def test_markdown_rows_stay_one_line_with_one_cell_per_column():
    table = hostile_table()
    text = report.markdown(table)
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert len(rows) == len(table) + 1
    for line in rows:
        assert len(re.findall(r"(?<!\\)\|", line)) == len(report.COLUMNS) + 1, line
        assert not re.search(r"(?<!\\)[<`&*\]]", line.replace("**no**", "").replace("<br>", "")), line
    assert not CONTROL.search(text)


class Cells(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.cells, self.tags = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "td":
            self.cells.append("")

    def handle_data(self, data):
        if self.tags and self.tags[-1] == "td":
            self.cells[-1] += data


def test_html_escapes_every_cell():
    table = hostile_table()
    page = report.html_page(table)
    parser = Cells()
    parser.feed(page)
    assert set(parser.tags) == {"html", "head", "meta", "title", "style", "body", "h1", "p", "table", "tr", "th", "td"}
    assert len(parser.cells) == len(table) * len(report.COLUMNS)
    assert "a b|c<d&e`f*g]]>h\ufffdi" in parser.cells[1]
    assert not CONTROL.search(page)


def test_every_format_encodes_as_utf8_and_json_round_trips():
    made = report.files(hostile_table(), META)
    for text in made.values():
        text.encode("utf-8")
    document = json.loads(made["fleet.json"])
    assert document["rows"][0]["problems"][0].startswith("a\nb|c<d&e")
    assert document["summary"]["hosts"] == 3


def test_every_format_says_when_and_by_which_version():
    made = report.files(hostile_table(), META)
    assert sorted(made) == ["fleet.html", "fleet.json", "fleet.md", "junit.xml"]
    for name, text in made.items():
        assert "2026-11-25T07:41:29Z" in text and "0.1.0" in text, name
    suite = ET.fromstring(made["junit.xml"]).find("testsuite")
    assert suite.get("timestamp") == "2026-11-25T07:41:29Z"
    assert suite.find("properties/property[@name='collection_version']").get("value") == "0.1.0"


@pytest.mark.parametrize("thresholds,charged", [
    ((False, 0, -1), set()),
    ((False, 30, -1), {"host" + HOSTILE}),
    ((False, 0, 0), {"host" + HOSTILE, "lost"}),
    ((True, 0, 5), {"host" + HOSTILE}),
])
def test_thresholds_charge_the_hosts_that_miss_them(thresholds, charged):
    table = hostile_table()
    for row in table:
        if row["host"] == "vm1":
            row["cert_days"], row["dco"] = 400, "on"
    failures = report.host_threshold_failures(table, *thresholds)
    assert set(failures) == charged
    assert "vm1" not in failures
    if thresholds[2] == 0:
        assert failures["lost"] == ["host: unhealthy (%s); 2 unhealthy host(s), at most 0 allowed: host%s, lost"
                                    % (report._line(HOSTILE), HOSTILE)]
