# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""OpenVPN Access Server (AS): what its version can do for DCO, and its CLI, ``sacli``.

AS is managed only through ``/usr/local/openvpn_as/scripts/sacli`` as root; its OpenVPN configs
are generated from its own database, so DCO is switched with the key
``vpn.server.daemon.ovpndco`` and applied with ``sacli start``, never by editing files.

Sources (AS documentation): "How to enable OpenVPN DCO on Access Server"
(openvpn.net/vpn-server-resources/openvpn-dco-access-server/: AS 2.12 and newer support DCO),
"OpenVPN Data Channel Offload (DCO)" (openvpn.net/as-docs/v3/openvpn-data-channel-offload.html:
on by default up to 3.1; 3.2.0 and newer use the upstream ``ovpn`` module aligned with Linux
6.16+, older versions the ``ovpn-dco`` modules), and AS's install script (packages
``openvpn-dco-dkms`` on Debian/Ubuntu, ``kmod-ovpn-dco`` on RHEL and its clones).

Pure parts (``dco_requirement``, the parsers, ``plan_dco``) import nothing from Ansible, so
``host_info`` can reuse the version rule. Every command goes through
``AccessServerHost._run_command``, which unit tests replace; ``ProbeAccessServerHost`` asks the
same questions through the read-only fact probe of ``host_info`` and ``tunnel_info``, so every
module tells an Access Server host the same way.
"""

from __future__ import annotations

import ast
import json
import re
import time

from ansible_collections.ovpnfleet.dco.plugins.module_utils._errors import CommandError, DcoError
from ansible_collections.ovpnfleet.dco.plugins.module_utils._generations import (
    first_served_access_server,
    generation_for_access_server,
    generation_for_link_kind,
    parse_version,
)

# Where Access Server installs itself; sacli and the OpenVPN daemons it starts live below it.
AS_PREFIX = "/usr/local/openvpn_as/"
SACLI = AS_PREFIX + "scripts/sacli"
DCO_KEY = "vpn.server.daemon.ovpndco"
AS_LOG = "/var/log/openvpnas.log"

FIRST_DEFAULT_ON_RELEASE = (3, 0, 0)

# rc the command seam reports when a program is not installed, as a shell would.
RC_NOT_FOUND = 127
POLL_SECONDS = 5
DAEMON_RE = re.compile(r"^openvpn_\d+$")
INTERFACE_RE = re.compile(r"^as0([tu])\d+$")
TRUE_WORDS = ("true", "1", "yes", "on")
FALSE_WORDS = ("false", "0", "no", "off")
# ConfigQuery prints the whole configuration, secrets included: errors never carry its output.
WITHHELD = "(not shown: sacli ConfigQuery prints secrets)"


class AccessServerError(DcoError):
    """Access Server cannot be read or changed as asked."""


def parse_as_version(text):
    """``(major, minor, patch)`` of a package version such as ``2.14.3-d2b0d4b4-Ubuntu24``."""
    text = re.sub(r"^\d+:", "", (text or "").strip())
    return parse_version(text)


def dco_requirement(as_version, kernel_release):
    """What an AS version needs for DCO on a kernel: pure, for this module and ``host_info``.

    ``as_version`` and ``kernel_release`` are strings (None when unknown). Returns
    ``{supported, flavour, module, packages, default_enabled, reasons, notes}``: ``supported``
    is None when the version is unknown; ``reasons`` say why DCO cannot work, ``notes`` what
    else stands in the way.
    """
    rule = {"supported": None, "flavour": None, "module": None, "packages": None,
            "default_enabled": None, "reasons": [], "notes": []}
    version = parse_as_version(as_version)
    first = "%d.%d" % first_served_access_server()[:2]
    if version is None:
        rule["reasons"].append(
            "the Access Server version is unknown (no openvpn-as package found by dpkg-query or "
            "rpm): DCO needs Access Server %s or newer" % first)
        return rule
    generation = generation_for_access_server(version)
    if generation is None:
        rule["supported"] = False
        rule["default_enabled"] = False
        rule["reasons"].append(
            "Access Server %s cannot do DCO: it needs %s or newer; upgrade Access Server first"
            % (as_version.strip(), first))
        return rule
    rule["supported"] = True
    rule["default_enabled"] = version >= FIRST_DEFAULT_ON_RELEASE
    packages = generation.access_server_packages
    rule.update(flavour=generation.name, module=generation.module,
                packages=dict(packages) if packages else None)
    if generation.in_tree_since is None:
        return rule
    kernel = parse_version(kernel_release)
    since = generation.in_tree_since
    if kernel is None:
        rule["notes"].append(
            "Access Server %s uses the in-tree %s module (Linux %d.%d or newer); the kernel "
            "release is unknown" % ((as_version.strip(), generation.module) + since))
    elif kernel[:2] < since:
        rule["notes"].append(
            "Access Server %s uses the %s module, in the kernel since Linux %d.%d; kernel %s has "
            "none: boot a %d.%d or newer kernel, or build %s from %s "
            "(ovpnfleet.dco.kmod flavour %s)" % ((as_version.strip(), generation.module) + since
                                                 + (kernel_release,) + since
                                                 + (generation.module, generation.out_of_tree,
                                                    generation.name)))
    return rule


def parse_sacli_output(text, what):
    """The dict a sacli subcommand printed: JSON, or a Python literal as some builds print."""
    text = (text or "").strip()
    try:
        data = json.loads(text)
    except ValueError:
        try:
            data = ast.literal_eval(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            data = None
    if not isinstance(data, dict):
        raise AccessServerError("read sacli %s: the output is not a JSON object: run it by hand as root "
                                "and check that Access Server is up" % what)
    return data


def parse_status(data):
    """``{api, daemons, errors}`` from ``sacli status``.

    Services sit under ``service_status`` in the output AS prints; a flat object is read the
    same way.
    """
    services = data.get("service_status") if isinstance(data.get("service_status"), dict) else data
    daemons = {name: str(state) for name, state in services.items() if DAEMON_RE.match(str(name))}
    api = services.get("api")
    errors = data.get("errors") if isinstance(data.get("errors"), dict) else {}
    return {"api": None if api is None else str(api),
            "daemons": dict(sorted(daemons.items(), key=lambda item: int(item[0].split("_")[1]))),
            "errors": {str(key): str(value) for key, value in errors.items()}}


def status_ready(status):
    """The API and every OpenVPN daemon (at least one) are on."""
    daemons = status["daemons"]
    return status["api"] == "on" and bool(daemons) and all(state == "on" for state in daemons.values())


def describe_status(status):
    parts = ["api %s" % (status["api"] or "missing")]
    parts += ["%s %s" % item for item in status["daemons"].items()] or ["no openvpn_N daemon listed"]
    return ", ".join(parts)


def parse_summary(data):
    """``{clients, dco_available, dco_module_version}`` from ``sacli VPNSummary``."""
    available = data.get("ovpn_dco_available")
    if isinstance(available, str):
        available = _word_to_bool(available)
    elif not isinstance(available, bool):
        available = None
    clients = data.get("n_clients")
    try:
        clients = None if clients is None else int(clients)
    except (TypeError, ValueError):
        clients = None
    version = data.get("ovpn_dco_ver")
    return {"clients": clients, "dco_available": available,
            "dco_module_version": None if version in (None, "") else str(version)}


def _word_to_bool(value):
    word = str(value).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    return None


def dco_setting(config):
    """``(raw, parsed)`` of the DCO key in ``sacli ConfigQuery``'s dict; raw None when unset."""
    raw = config.get(DCO_KEY)
    if raw is None:
        return None, None
    raw = str(raw)
    return raw, _word_to_bool(raw)


def plan_dco(wanted, raw, default_enabled):
    """The value to write for ``dco: enabled|disabled``, or None when the key already says so.

    sacli stores strings and validates nothing, so anything but the exact ``true``/``false``
    (``True``, ``yes``) is written once in the form AS's own tools write. An unset key is left
    alone only to keep DCO off where AS documents off as the default (before 3.0): switching
    on, it is written, so DCO does not hang on an undocumented default.
    """
    value = "true" if wanted == "enabled" else "false"
    if raw == value or (raw is None and wanted == "disabled" and default_enabled is False):
        return None
    return value


def parse_links(text):
    """``[{name, transport, kind, dco}]`` of AS's ``as0t*``/``as0u*`` devices in ``ip -d -j link``."""
    try:
        links = json.loads(text or "[]")
    except ValueError:
        return None
    found = []
    for link in links if isinstance(links, list) else []:
        name = link.get("ifname", "") if isinstance(link, dict) else ""
        match = INTERFACE_RE.match(name)
        if not match:
            continue
        kind = (link.get("linkinfo") or {}).get("info_kind")
        found.append({"name": name, "transport": "tcp" if match.group(1) == "t" else "udp", "kind": kind,
                      "dco": generation_for_link_kind(kind) is not None})
    return sorted(found, key=lambda link: (link["transport"], int(re.sub(r"\D", "", link["name"][3:]))))


class AccessServerHost:
    """The one seam to the host: every command runs through ``_run_command``."""

    def __init__(self, module):
        self._module = module

    def _run_command(self, argv):
        """``(rc, stdout, stderr)`` of an argv list in the C locale; rc 127 when it is missing."""
        binary = self._module.get_bin_path(argv[0])
        if binary is None:
            return RC_NOT_FOUND, "", "%s: command not found" % argv[0]
        return self._module.run_command([binary] + list(argv[1:]), environ_update={"LC_ALL": "C", "LANG": "C"})

    # Replaced in tests with a clock that does not wait.
    _now = staticmethod(time.monotonic)
    _sleep = staticmethod(time.sleep)

    def is_access_server_status(self):
        """``(is_as, rc, stdout, stderr)`` of ``sacli status``: is_as False when there is no sacli."""
        rc, out, err = self._run_command([SACLI, "status"])
        return rc != RC_NOT_FOUND, rc, out, err

    def version(self):
        """The installed openvpn-as package's version, from dpkg or rpm, or None."""
        rc, out, _err = self._run_command(["dpkg-query", "-W", "-f=${Status} ${Version}", "openvpn-as"])
        # A removed package keeps a status line ("deinstall ok config-files") and its version.
        words = out.split() if rc == 0 else []
        if len(words) == 4 and words[2] == "installed":
            return words[3]
        rc, out, _err = self._run_command(["rpm", "-q", "--qf", "%{VERSION}", "openvpn-as"])
        if rc == 0 and out.strip() and " " not in out.strip():
            return out.strip()
        return None

    def kernel_release(self):
        rc, out, _err = self._run_command(["uname", "-r"])
        return out.strip() if rc == 0 and out.strip() else None

    def status(self, first=None):
        """Parsed ``sacli status``; raises CommandError when it fails."""
        argv = [SACLI, "status"]
        rc, out, err = first if first is not None else self._run_command(argv)
        if rc != 0:
            raise CommandError("read Access Server status: sacli status failed (rc %d): is the openvpnas "
                               "service running? See %s" % (rc, AS_LOG), argv, rc, out, err)
        return parse_status(parse_sacli_output(out, "status"))

    def config_dco(self):
        """``(raw, parsed)`` of the DCO key; ConfigQuery's output never leaves this method."""
        argv = [SACLI, "ConfigQuery"]
        rc, out, err = self._run_command(argv)
        if rc != 0:
            raise CommandError("read the Access Server configuration: sacli ConfigQuery failed (rc %d): run it "
                               "by hand as root" % rc, argv, rc, WITHHELD, err)
        return dco_setting(parse_sacli_output(out, "ConfigQuery"))

    def summary(self):
        """Parsed ``sacli VPNSummary``, or None values when it cannot be read."""
        rc, out, _err = self._run_command([SACLI, "VPNSummary"])
        if rc != 0:
            return {"clients": None, "dco_available": None, "dco_module_version": None}
        try:
            return parse_summary(parse_sacli_output(out, "VPNSummary"))
        except AccessServerError:
            return {"clients": None, "dco_available": None, "dco_module_version": None}

    def interfaces(self):
        rc, out, _err = self._run_command(["ip", "-d", "-j", "link", "show"])
        return parse_links(out) if rc == 0 else None

    def put_dco(self, value):
        argv = [SACLI, "--key", DCO_KEY, "--value", value, "ConfigPut"]
        rc, out, err = self._run_command(argv)
        if rc != 0:
            raise CommandError("set %s to %s: sacli ConfigPut failed (rc %d): nothing was applied; run it by "
                               "hand as root to see why" % (DCO_KEY, value, rc), argv, rc, out, err)

    def start(self, before, after):
        argv = [SACLI, "start"]
        rc, out, err = self._run_command(argv)
        if rc != 0:
            raise CommandError(
                "apply the Access Server configuration: sacli start failed (rc %d); %s is now %r (was %s) but "
                "not applied: fix the cause (see %s), then run sacli start, or set it back with "
                "sacli --key %s --value %s ConfigPut" % (rc, DCO_KEY, after, _shown(before), AS_LOG, DCO_KEY,
                                                         before or "false"),
                argv, rc, out, err)

    def wait_ready(self, timeout, when, first=None):
        """Poll ``sacli status`` until the API and every daemon are on; the last status."""
        deadline = self._now() + timeout
        answer = first
        while True:
            argv = [SACLI, "status"]
            rc, out, err = answer if answer is not None else self._run_command(argv)
            answer = None
            status = None
            if rc == 0:
                try:
                    status = parse_status(parse_sacli_output(out, "status"))
                except AccessServerError:
                    status = None
                if status is not None and status_ready(status):
                    return status
            if self._now() >= deadline:
                break
            self._sleep(min(POLL_SECONDS, max(deadline - self._now(), 0)))
        why = ("wait for Access Server %s: not every service was on after %d seconds" % (when, timeout))
        if status is None:
            what = "failed (rc %d)" % rc if rc else "printed no JSON object"
            raise CommandError("%s; the last sacli status %s: see %s, or raise timeout"
                               % (why, what, AS_LOG), argv, rc, out, err)
        raise AccessServerError("%s (%s): see %s, run sacli start, or raise timeout"
                                % (why, describe_status(status), AS_LOG))


class ProbeAccessServerHost(AccessServerHost):
    """The same questions through a fact probe (``_probe.py``): how host_info and tunnel_info
    read Access Server, so they detect it exactly as access_server_info does."""

    def __init__(self, probe):
        self._probe = probe

    def _run_command(self, argv):
        return tuple(self._probe.run(argv))


def is_access_server_process(argv, exe=None):
    """Whether an openvpn process is one of Access Server's daemons: its program (``exe`` or
    ``argv[0]``), its ``--config`` or its ``--cd`` lies under Access Server's install prefix.

    AS starts and regenerates these itself; they are never ours to restart or edit.
    """
    paths = [exe] + list((argv or [])[:1])
    for flag in ("--config", "--cd"):
        if flag in (argv or [])[:-1]:
            paths.append(argv[argv.index(flag) + 1])
    return any(path and path.startswith(AS_PREFIX) for path in paths)


def summary_of(info):
    """What tunnel_info and the fleet report say of Access Server: ``gather_info`` without the
    interfaces (tunnel_info reports those as instances) and the full requirement."""
    keys = ("is_access_server", "version", "ready", "dco_setting", "dco_configured", "dco_available",
            "dco_module_version", "clients", "problems")
    summary = {key: info[key] for key in keys}
    summary["flavour"] = info["requirement"]["flavour"]
    return summary


def _shown(raw):
    return "unset" if raw is None else repr(raw)


def gather_info(host):
    """Everything ``access_server_info`` reports; a host without sacli is not an error."""
    is_as, rc, out, err = host.is_access_server_status()
    info = {"is_access_server": is_as, "sacli": SACLI if is_as else None, "version": None, "kernel": None,
            "api": None, "ready": False, "daemons": {}, "service_errors": {}, "dco_setting": None,
            "dco_configured": None, "dco_available": None, "dco_module_version": None, "clients": None,
            "interfaces": [], "requirement": dco_requirement(None, None), "problems": []}
    if not is_as:
        return info
    problems = info["problems"]
    try:
        status = host.status(first=(rc, out, err))
    except DcoError as error:
        status = None
        problems.append(str(error))
    if status is not None:
        info.update(api=status["api"], daemons=status["daemons"], service_errors=status["errors"],
                    ready=status_ready(status))
        if not info["ready"]:
            problems.append("Access Server is not fully up (%s): run sacli start and read %s"
                            % (describe_status(status), AS_LOG))
    info["version"] = host.version()
    info["kernel"] = host.kernel_release()
    info["requirement"] = dco_requirement(info["version"], info["kernel"])
    try:
        info["dco_setting"], info["dco_configured"] = host.config_dco()
    except DcoError as error:
        problems.append(str(error))
    else:
        if info["dco_setting"] is None:
            info["dco_configured"] = info["requirement"]["default_enabled"]
    info.update(host.summary())
    interfaces = host.interfaces()
    info["interfaces"] = interfaces or []
    if interfaces is None:
        problems.append("the link kinds of as0t*/as0u* could not be read (ip -d -j link show failed): install "
                        "iproute2")
    problems.extend(_dco_problems(info))
    return info


def _dco_problems(info):
    rule = info["requirement"]
    if not info["dco_configured"]:
        return []
    if not rule["supported"]:
        return list(rule["reasons"])
    found = list(rule["notes"])
    if info["dco_available"] is False:
        found.append("DCO is on in the configuration but Access Server reports it unavailable (%s): %s, then "
                     "run sacli start" % (info["dco_module_version"] or "no module version",
                                          _install_hint(rule, info["kernel"])))
    userspace = [link["name"] for link in info["interfaces"] if link["kind"] == "tun"]
    if userspace:
        found.append("DCO is on in the configuration but %s run in userspace (link kind tun): %s, then run "
                     "sacli start" % (", ".join(userspace), _install_hint(rule, info["kernel"])))
    return found


def _install_hint(rule, kernel):
    if rule["packages"]:
        return ("install %s (Debian/Ubuntu) or %s (RHEL) with the headers of kernel %s"
                % (rule["packages"]["deb"], rule["packages"]["rpm"], kernel or "in use"))
    if rule["flavour"]:
        return "load the %s module (ovpnfleet.dco.kmod flavour %s)" % (rule["module"], rule["flavour"])
    return "check the Access Server version"


def switch_dco(host, wanted, timeout, check_mode, restart=False):
    """Set DCO on or off, apply with ``sacli start`` only on a change, and wait for the daemons.

    ``restart`` runs ``sacli start`` even when the key already holds the value: AS's daemons open
    DCO devices only when they start, so a module installed or upgraded under a key already on
    takes effect only then. Returns the module's result (without ``diff``) and the diff's
    before/after.
    """
    is_as, rc, out, err = host.is_access_server_status()
    if not is_as:
        raise AccessServerError(
            "manage DCO on Access Server: there is no executable %s, so this is not an Access Server host: use "
            "ovpnfleet.dco.kmod and ovpnfleet.dco.config for community OpenVPN" % SACLI)
    version = host.version()
    kernel = host.kernel_release()
    rule = dco_requirement(version, kernel)
    if wanted == "enabled" and not rule["supported"]:
        raise AccessServerError("enable DCO on Access Server: %s" % "; ".join(rule["reasons"]))
    warnings = list(rule["notes"]) if wanted == "enabled" else []
    status = host.wait_ready(timeout, "before the change", first=(rc, out, err))
    before, _parsed = host.config_dco()
    value = plan_dco(wanted, before, rule["default_enabled"])
    result = {"changed": value is not None or restart, "version": version, "flavour": rule["flavour"],
              "dco_before": before, "dco_after": value if value is not None else before, "restarted": False}
    if result["changed"] and not check_mode:
        if value is not None:
            host.put_dco(value)
        host.start(before, result["dco_after"])
        result["restarted"] = True
        status = host.wait_ready(timeout, "after sacli start")
    result["daemons"] = status["daemons"]
    summary = host.summary()
    result.update(dco_available=summary["dco_available"], dco_module_version=summary["dco_module_version"])
    if wanted == "enabled" and summary["dco_available"] is False and not (check_mode and result["changed"]):
        warnings.append("DCO is on in the configuration but Access Server reports it unavailable (%s): %s, "
                        "then run sacli start" % (summary["dco_module_version"] or "no module version",
                                                  _install_hint(rule, kernel)))
    diff = {"before": _diff_line(before), "after": _diff_line(result["dco_after"]),
            "before_header": "sacli ConfigQuery (%s)" % DCO_KEY, "after_header": "sacli ConfigQuery (%s)" % DCO_KEY}
    return result, diff, warnings


def _diff_line(raw):
    return "%s is not set\n" % DCO_KEY if raw is None else "%s = %s\n" % (DCO_KEY, raw)
