# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The config module's flow: read the file, plan the fix, refuse what OpenVPN would refuse, write
through the one write helper (which honours check mode), and report without file content."""

from __future__ import annotations

import os

from ansible_collections.ovpnfleet.dco.plugins.module_utils._errors import ConfigParseError
from ansible_collections.ovpnfleet.dco.plugins.module_utils._files import read_regular_file, write_file
from ansible_collections.ovpnfleet.dco.plugins.module_utils.host._facts import parse_openvpn_version
from ansible_collections.ovpnfleet.dco.plugins.module_utils.openvpn._config import describe_error
from ansible_collections.ovpnfleet.dco.plugins.module_utils.openvpn._config_fix import plan, redact

DEFAULT_VERSION = "2.6"
# OpenVPN configs are a few KiB, a few hundred with inline CRLs; anything larger is not one.
MAX_CONFIG_BYTES = 1024 * 1024
MAX_ERRORS_SHOWN = 5


def read_config(path):
    """The config's text (bytes that are not UTF-8 kept as surrogates, to be written back as they
    were) and its mode."""
    data = read_regular_file(path, MAX_CONFIG_BYTES)
    return data.decode("utf-8", "surrogateescape"), os.stat(path).st_mode & 0o7777


def refusal(path, version, errors):
    """Why nothing was written: where OpenVPN's checks fail and what they say, never file content
    of our own (the messages are the parser's, which keeps inline key material out of them)."""
    shown = "; ".join(describe_error(error) for error in errors[:MAX_ERRORS_SHOWN])
    more = " (and %d more)" % (len(errors) - MAX_ERRORS_SHOWN) if len(errors) > MAX_ERRORS_SHOWN else ""
    return ("edit %s: OpenVPN %s would refuse this config, nothing was written: %s%s; fix the config "
            "(ovpnfleet.dco.config_info lists every error), then run again" % (path, version, shown, more))


def printable(value):
    """``value`` with bytes that were not UTF-8 shown as \\xNN, so the result can be sent as JSON."""
    if isinstance(value, dict):
        return {key: printable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [printable(item) for item in value]
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return value


def fix_config(module, probe):
    """Plan and, outside check mode, write the fix of ``module.params['path']``; the result."""
    params = module.params
    version = params["openvpn_version"] or parse_openvpn_version(probe.run(["openvpn", "--version"]).stdout)["version"] or DEFAULT_VERSION
    path = os.path.abspath(params["path"])
    cwd = params["cwd"] or os.path.dirname(path)
    text, mode = read_config(path)
    result = plan(text, path, version, cwd, allow_breaking=params["allow_breaking"], disable_dco=params["dco"] == "disabled")
    verdict = result["verdict"]
    if verdict["errors"]:
        raise ConfigParseError(printable(refusal(path, verdict["openvpn_version"], verdict["errors"])), path=path)
    written = None
    if result["text"] != text:
        written = write_file(module, path, result["text"].encode("utf-8", "surrogateescape"), mode=mode, backup=params["backup"])
    output = {
        "changed": written is not None,
        "dco_compatible": verdict["dco_compatible"],
        "dco_compatible_before": result["before"]["dco_compatible"],
        "edits": [edit.as_dict() for edit in result["edits"]],
        "not_edited": [{key: item[key] for key in ("option", "file", "line", "why", "rule")} for item in result["not_edited"]],
        "blockers": verdict["blockers"],
        "openvpn_version": verdict["openvpn_version"],
    }
    if written is not None:
        output["diff"] = dict(written["diff"], before=redact(text, path, cwd), after=redact(result["text"], path, cwd))
        if written["backup_file"]:
            output["backup_file"] = written["backup_file"]
    return printable(output)
