# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every verdict real openvpn gave on the corpus, re-derived from our rules.

tests/unit/fixtures/openvpn_configs/verdicts.json holds what openvpn 2.6 and 2.7 said about
each config there, recorded by tests/oracle/record_verdicts.py (``runs`` says where and how):

- ``lab-debian12-2.6-dco``: OpenVPN 2.6.14 on the lab's Debian 12 VM (kernel 6.1) with
  ``ovpn-dco-v2`` loaded (``DCO version: 2.0.0``), installed by the collection's kmod role;
- ``lab-debian13-bpo-2.7-dco``: OpenVPN 2.7.8 on the Debian 13 + backports VM (kernel 7.3.4)
  with the in-tree ``ovpn`` loaded;
- ``local-*``: the same binaries without any DCO module (this machine's kernel cannot load
  modules), which shows where openvpn stops before asking the kernel;
- ``local-nomodule-bookworm-2.6``, ``local-nomodule-trixie-bpo-2.7``: OpenVPN 2.6.14 and 2.7.8 in
  Debian 12 and Debian 13 + backports chroots on that machine, no DCO module, over the
  ``refuse-*`` configs only (their ``only`` scope): option combinations at least one series
  refuses while it verifies options, before any DCO check, so the module does not matter.
  ``cause`` is the line openvpn exited on.

Each config ran as ``openvpn --config NAME.conf --verb 4`` in its own network namespace; a
verdict is ``dco_enabled`` when openvpn opened a DCO device, ``dco_disabled`` when it logged why
not, ``refused`` when it exited with an error. openvpn prints only its first reason, so our first
blocker must be exactly that note.
"""

from __future__ import annotations

import fnmatch
import glob
import json
import os

import pytest

from ansible_collections.ovpnfleet.dco.plugins.module_utils._errors import ConfigParseError
from ansible_collections.ovpnfleet.dco.plugins.module_utils.openvpn._config import parse_file
from ansible_collections.ovpnfleet.dco.plugins.module_utils.openvpn._dco_rules import evaluate

CORPUS = os.path.join(os.path.dirname(__file__), "..", "..", "..", "fixtures", "openvpn_configs")
with open(os.path.join(CORPUS, "verdicts.json")) as _handle:
    RECORDED = json.load(_handle)
RUNS = RECORDED["runs"]
CASES = sorted((name, label) for name, by_run in RECORDED["configs"].items() for label in by_run)
# Fatal lines that come after option verification, from the host, not from the options.
RUNTIME_CAUSES = ("OpenSSL: ", "TCP/UDP: ", "ERROR: Cannot ")


def _scoped(name):
    """The runs that recorded only some configs (``only``), and name among them."""
    return [label for label, run in RUNS.items() if run.get("only")
            and any(fnmatch.fnmatchcase(name, pattern) for pattern in run["only"])]


def _series(labels):
    return {tuple(RUNS[label]["openvpn_version"].split(".")[:2]) for label in labels}


# Notes openvpn logs when it keeps DCO with options that then behave differently; only runs
# with the kernel module loaded get that far.
BEHAVIOUR_NOTES = ("Note: --client-to-client has no effect", "Note: ignoring --dev-node",
                   "Note: '--reneg-bytes' and '--reneg-pkts' are not supported")


def test_corpus_is_recorded_for_both_series():
    configs = sorted(os.path.basename(path)[:-5] for path in glob.glob(os.path.join(CORPUS, "*.conf")))
    assert len(configs) >= 50
    assert sorted(RECORDED["configs"]) == configs
    series = {tuple(run["openvpn_version"].split(".")[:2]) for run in RUNS.values()}
    assert series >= {("2", "6"), ("2", "7")}
    # The verdicts that count come from openvpn with the DCO module loaded, for both series.
    loaded = {tuple(run["openvpn_version"].split(".")[:2]) for run in RUNS.values()
              if any(run["modules_loaded"].values()) and run["dco_version_line"] != "DCO version: N/A"}
    assert loaded >= {("2", "6"), ("2", "7")}
    whole = sorted(label for label, run in RUNS.items() if not run.get("only"))
    for name in configs:
        labels = sorted(RECORDED["configs"][name])
        # a config is recorded by every run whose scope holds it: a scoped run's, else every
        # run over the whole corpus
        assert labels == (sorted(_scoped(name)) or whole), name
        assert _series(labels) >= {("2", "6"), ("2", "7")}, name
        if labels != whole:
            # recorded without the module only: that proves nothing about DCO unless some
            # series refuses the config outright
            assert any(RECORDED["configs"][name][label]["refused"] for label in labels), name


@pytest.mark.parametrize("name,label", CASES)
def test_recorded_verdict(name, label):
    observed = RECORDED["configs"][name][label]
    version = RUNS[label]["openvpn_version"]
    path = os.path.join(CORPUS, name + ".conf")
    if any("Maximum recursive include levels exceeded" in line for line in observed["fatal"]):
        with pytest.raises(ConfigParseError, match="include loop"):
            parse_file(path)
        return
    result = evaluate(parse_file(path), version)
    notes = " ".join(observed["notes"])

    if observed["refused"]:
        assert result["dco_compatible"] is None, result
        said = [line[len("Options error: "):] for line in observed["fatal"]
                if line.startswith("Options error: ")]
        ours = [error["msg"].replace(os.path.abspath(CORPUS) + os.sep, "") for error in result["errors"]]
        for line in said:
            assert any(msg in line for msg in ours), (line, ours)
        cause = observed.get("cause")
        if cause and not cause.startswith(RUNTIME_CAUSES):
            assert any(msg in cause for msg in ours), (cause, ours)
    else:
        assert result["errors"] == [], result["errors"]
        compatible = observed["verdict"] in ("dco_enabled", "options_allow_dco")
        assert result["dco_compatible"] is compatible, result
    if notes:
        assert result["blockers"] and result["blockers"][0]["reason"] == notes, result["blockers"]
    elif observed["verdict"] == "dco_disabled":
        # disable_dco = ENABLED and not a word: only --disable-dco does that
        assert [blocker["option"] for blocker in result["blockers"]][:1] == ["disable-dco"]
    elif not observed["refused"]:
        assert result["blockers"] == []

    if observed["verdict"] == "dco_enabled":
        ours = [note["msg"] for note in result["notes"]]
        for line in observed["log"]:
            if line.startswith(BEHAVIOUR_NOTES):
                assert line in ours, (line, ours)
