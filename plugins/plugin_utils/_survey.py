# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The variables of each playbook, their types, defaults and choices - and the one check of them.

One table is the source of truth: ``survey_spec`` turns it into the survey JSON that AWX
imports (awx/surveys/, written by awx/generate_surveys.py; a unit test keeps the files equal to
the table), and ``normalize`` checks the values a run got against it. Survey answers arrive as
strings ("20", "true", "1,30%,100%"); ``-e`` and inventory values may be native; both become
the same typed value, or one error naming every variable that is wrong and what it expects.

Controller only, standard library only: awx/generate_surveys.py loads this file by its path.
"""

from __future__ import annotations

import math
import re

PLAYBOOKS = ("enable_dco", "check_health", "disable_dco", "upgrade_kmod")

# Kinds of value: int, float, bool, str (with choices, or as an absolute path, or a host
# pattern), serial (Ansible's serial: batch sizes as whole numbers or percentages).
_HOSTS = dict(kind="pattern", default="all", required=True,
              question="Hosts", description="Host pattern of the run (or use the job template's limit).")
_SERIAL = dict(kind="serial", default=[1, "30%", "100%"], required=True,
               question="Batch sizes",
               description="Hosts per batch, canary first: whole numbers or percentages, comma separated, such as 1,30%,100%.")
_MAX_FAIL = dict(kind="int", default=20, minimum=0, maximum=100, required=True,
                 question="Failures allowed per batch (%)",
                 description="Share of a batch that may fail (and roll back) before no later batch runs; a failed canary always stops them.")
_GATE_TIMEOUT = dict(kind="int", default=180, minimum=1, maximum=86400, required=True,
                     question="Health gate timeout (s)",
                     description="Seconds a host's tunnels get to come back before the host is rolled back; keep it above the clients' ping-restart.")
_GATE_DELAY = dict(kind="int", default=5, minimum=1, maximum=600, required=True,
                   question="Health gate interval (s)", description="Seconds between health gate checks.")
_INSTALL_REQS = dict(kind="bool", default=True, required=True,
                     question="Install tunnel_info's requirements",
                     description="Does nothing (kept for existing surveys): tunnel_info needs no package on the hosts.")
_KMOD_SOURCE = dict(kind="str", default="auto", required=True,
                    choices=("auto", "ovpn-dco-v2-debian-0.0+git20231103", "ovpn-dco-v2-debian-0.0+git20241121"),
                    question="Module source",
                    description="auto: the newest pinned source tested on the group's kernels; or one of kmod/sources.yml.")
_KMOD_FLAVOUR = dict(kind="str", default="auto", required=True, choices=("auto", "ovpn-dco-v2", "ovpn"),
                     question="Module flavour", description="auto follows the installed OpenVPN: 2.6 needs ovpn-dco-v2, 2.7 needs ovpn.")
_KMOD_METHOD = dict(kind="str", default="auto", required=True, choices=("auto", "inkernel", "package", "dkms", "source"),
                    question="Module method",
                    description="auto: the kernel's own module where it has one, else one build per kernel group from the source.")
_KMOD_CACHE = dict(kind="path", default=None, required=False,
                   question="Module cache directory",
                   description="Absolute controller path that outlives the job (a volume in AWX); empty: the kmod role's default.")

VARIABLES = {
    "enable_dco": (
        ("dco_hosts", _HOSTS),
        ("dco_serial", _SERIAL),
        ("dco_max_fail_percentage", _MAX_FAIL),
        ("dco_allow_breaking", dict(kind="bool", default=False, required=True,
                                    question="Allow breaking edits",
                                    description="Also make config edits that cut off clients which do not change too (docs/config.md).")),
        ("dco_gate_timeout", _GATE_TIMEOUT),
        ("dco_gate_delay", _GATE_DELAY),
        ("dco_probe_interval", dict(kind="float", default=0.2, minimum=0.01, maximum=10.0, required=True,
                                    question="Probe interval (s)",
                                    description="Seconds between the pings that measure how long each tunnel is down.")),
        ("dco_install_requirements", _INSTALL_REQS),
        ("dco_report_dir", dict(kind="path", default=None, required=False,
                                question="Report directory",
                                description="Absolute controller path for the fleet report; empty: the playbook's default.")),
        ("dco_max_unhealthy_hosts", dict(kind="int", default=0, minimum=-1, maximum=1000000, required=True,
                                         question="Unhealthy hosts allowed",
                                         description="The run fails after the report when more hosts are unhealthy; -1 never fails for it.")),
        ("kmod_flavour", _KMOD_FLAVOUR),
        ("kmod_method", _KMOD_METHOD),
        ("kmod_source", _KMOD_SOURCE),
        ("kmod_cache_dir", _KMOD_CACHE),
    ),
    "check_health": (
        ("dco_hosts", _HOSTS),
        ("health_dco_required", dict(kind="bool", default=False, required=True,
                                     question="DCO required",
                                     description="Fail a host when a tunnel runs in userspace although the host can run DCO.")),
        ("health_min_cert_days", dict(kind="int", default=30, minimum=0, maximum=36500, required=True,
                                      question="Minimum certificate days",
                                      description="Fail a host when a certificate, CA or CRL has fewer days left.")),
        ("health_max_unhealthy_hosts", dict(kind="int", default=-1, minimum=-1, maximum=1000000, required=True,
                                            question="Unhealthy hosts allowed",
                                            description="When more hosts are unhealthy, fail every unhealthy one; -1 never fails for it.")),
        ("health_ping", dict(kind="bool", default=True, required=True,
                             question="Ping through client tunnels", description="Ping each client's server through the tunnel.")),
        ("health_install_requirements", dict(_INSTALL_REQS)),
        ("health_report_dir", dict(kind="path", default=None, required=False,
                                   question="Report directory",
                                   description="Absolute controller path for the fleet report; empty: the role's default.")),
    ),
    "disable_dco": (
        ("dco_hosts", _HOSTS),
        ("dco_serial", _SERIAL),
        ("dco_max_fail_percentage", _MAX_FAIL),
        ("dco_gate_timeout", _GATE_TIMEOUT),
        ("dco_gate_delay", _GATE_DELAY),
    ),
    "upgrade_kmod": (
        ("dco_hosts", _HOSTS),
        ("kmod_source", _KMOD_SOURCE),
        ("kmod_flavour", _KMOD_FLAVOUR),
        ("kmod_method", _KMOD_METHOD),
        ("kmod_cache_dir", _KMOD_CACHE),
        ("dco_serial", _SERIAL),
        ("dco_max_fail_percentage", _MAX_FAIL),
        ("dco_when_module_in_use", dict(kind="str", default="restart", required=True, choices=("restart", "fail"),
                                        question="When the module is in use",
                                        description="restart: stop OpenVPN only while its loaded module is swapped; fail: stop the host instead.")),
        ("dco_remove_old_flavour", dict(kind="bool", default=True, required=True,
                                        question="Remove ovpn-dco-v2 after a move to ovpn",
                                        description="Remove what the collection installed of ovpn-dco-v2 from hosts now on the in-tree ovpn.")),
        ("dco_gate_timeout", _GATE_TIMEOUT),
        ("dco_gate_delay", _GATE_DELAY),
        ("dco_install_requirements", _INSTALL_REQS),
    ),
}

TRUE_WORDS = ("true", "yes", "on", "y", "t", "1")
FALSE_WORDS = ("false", "no", "off", "n", "f", "0")
_INT = re.compile(r"^[+-]?[0-9]+$")
_FLOAT = re.compile(r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$")
_PERCENT = re.compile(r"^([0-9]+)%$")


class SurveyError(ValueError):
    """A variable's value is not what its playbook expects, or the playbook is unknown."""


def playbook_name(playbook):
    """enable_dco from enable_dco, enable_dco.yml, playbooks/enable_dco.yml or ovpnfleet.dco.enable_dco."""
    name = str(playbook).rsplit("/", 1)[-1]
    for suffix in (".yml", ".yaml"):
        if name.endswith(suffix):
            name = name[:-len(suffix)]
    name = name.rsplit(".", 1)[-1]
    if name not in VARIABLES:
        raise SurveyError("check the variables of playbook %s: unknown playbook; known are %s"
                          % (_show(playbook), ", ".join(PLAYBOOKS)))
    return name


def variables(playbook):
    """The (name, spec) pairs of a playbook, in survey order."""
    return VARIABLES[playbook_name(playbook)]


def _show(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _expected(spec):
    kind = spec["kind"]
    if kind == "int":
        return "a whole number from %d to %d" % (spec["minimum"], spec["maximum"])
    if kind == "float":
        return "a number from %s to %s" % (spec["minimum"], spec["maximum"])
    if kind == "bool":
        return "true or false (also yes/no, on/off, 1/0)"
    if kind == "serial":
        return ("batch sizes: whole numbers from 1 or percentages from 1% to 100%, comma separated or "
                "as a list, such as 1,30%,100% or [1, '30%', '100%']")
    if kind == "path":
        return "an absolute path on the controller"
    if kind == "pattern":
        return "a host pattern such as all or web:&debian12"
    if spec.get("choices"):
        return "one of " + ", ".join(spec["choices"])
    return "a text value"


def _to_int(value, spec):
    if isinstance(value, bool):
        raise SurveyError()
    if isinstance(value, float):
        if not value.is_integer():
            raise SurveyError()
        value = int(value)
    if isinstance(value, str):
        if not _INT.match(value.strip()):
            raise SurveyError()
        value = int(value.strip())
    if not isinstance(value, int) or not spec["minimum"] <= value <= spec["maximum"]:
        raise SurveyError()
    return value


def _to_float(value, spec):
    if isinstance(value, bool):
        raise SurveyError()
    if isinstance(value, str):
        if not _FLOAT.match(value.strip()):
            raise SurveyError()
        value = float(value.strip())
    if not isinstance(value, (int, float)) or math.isnan(value) or not spec["minimum"] <= value <= spec["maximum"]:
        raise SurveyError()
    return float(value)


def _to_bool(value, spec):
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    raise SurveyError()


def _batch(item):
    """One batch size: a whole number from 1, or a percentage from 1% to 100%."""
    if isinstance(item, bool):
        raise SurveyError()
    if isinstance(item, int):
        if item < 1:
            raise SurveyError()
        return item
    if not isinstance(item, str):
        raise SurveyError()
    text = item.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        text = text[1:-1].strip()
    if _INT.match(text) and not text.startswith(("+", "-")):
        return _batch(int(text))
    match = _PERCENT.match(text)
    if match and 1 <= int(match.group(1)) <= 100:
        return "%d%%" % int(match.group(1))
    raise SurveyError()


def _to_serial(value, spec):
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("[") and text.endswith("]"):
            text = text[1:-1]
        items = text.split(",")
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        items = [value]
    if not items:
        raise SurveyError()
    return [_batch(item) for item in items]


def _to_text(value):
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise SurveyError()
    text = str(value).strip()
    if "\n" in text or "\r" in text or "\x00" in text:
        raise SurveyError()
    return text


def _to_str(value, spec):
    text = _to_text(value)
    if spec.get("choices") and text not in spec["choices"]:
        raise SurveyError()
    return text


def _to_path(value, spec):
    text = _to_text(value)
    if not text.startswith("/"):
        raise SurveyError()
    return text


def _to_pattern(value, spec):
    text = _to_text(value)
    if not text or any(char.isspace() for char in text):
        raise SurveyError()
    return text


_CONVERT = {"int": _to_int, "float": _to_float, "bool": _to_bool, "serial": _to_serial,
            "str": _to_str, "path": _to_path, "pattern": _to_pattern}


def _unset(value):
    """A question left empty: the playbook's own default applies."""
    return value is None or (isinstance(value, str) and not value.strip())


def convert(name, value, spec):
    """One variable's value as its type; SurveyError naming the variable and what it expects."""
    try:
        return _CONVERT[spec["kind"]](value, spec)
    except (SurveyError, ValueError, TypeError, OverflowError):
        raise SurveyError("%s is %s: expected %s" % (name, _show(value), _expected(spec))) from None


def normalize(values, playbook, defaults=False):
    """The values of a playbook's variables, each converted to its type.

    ``values`` maps variable names to raw values; names the playbook does not know are left out
    of the result (the caller may pass more than the survey's). Empty answers and None count as
    not given. With ``defaults``, variables not given get the table's default where it has one.
    Every wrong value is named in one SurveyError.
    """
    name = playbook_name(playbook)
    if not hasattr(values, "items"):
        raise SurveyError("check the variables of %s: expected a dict of variable names and values, got %s"
                          % (name, type(values).__name__))
    result = {}
    problems = []
    for variable, spec in VARIABLES[name]:
        value = values.get(variable)
        if _unset(value):
            if defaults and spec["default"] is not None:
                result[variable] = list(spec["default"]) if isinstance(spec["default"], list) else spec["default"]
            continue
        try:
            result[variable] = convert(variable, value, spec)
        except SurveyError as exc:
            problems.append(str(exc))
    if problems:
        raise SurveyError("check the variables of %s before any change: %s. Nothing was changed; correct %s and run again."
                          % (name, "; ".join(problems), "it" if len(problems) == 1 else "them"))
    return result


def _survey_default(spec):
    default = spec["default"]
    if default is None:
        return ""
    if spec["kind"] == "serial":
        return ",".join(str(item) for item in default)
    if spec["kind"] == "bool":
        return "true" if default else "false"
    return default


def _question(variable, spec):
    question = {
        "question_name": spec["question"],
        "question_description": spec["description"],
        "variable": variable,
        "required": spec["required"],
        "default": _survey_default(spec),
        "choices": "",
        "new_question": True,
    }
    kind = spec["kind"]
    if kind in ("int", "float"):
        question.update(type="integer" if kind == "int" else "float", min=spec["minimum"], max=spec["maximum"])
    elif kind == "bool":
        question.update(type="multiplechoice", choices=["true", "false"])
    elif spec.get("choices"):
        question.update(type="multiplechoice", choices=list(spec["choices"]))
    else:
        question.update(type="text", min=1 if spec["required"] else 0, max=1024)
    return question


def survey_spec(playbook):
    """The survey spec AWX imports for a playbook's job template (POST .../survey_spec/)."""
    name = playbook_name(playbook)
    return {
        "name": name,
        "description": "Variables of ovpnfleet.dco.%s; the playbook checks every answer before any change." % name,
        "spec": [_question(variable, spec) for variable, spec in VARIABLES[name]],
    }
