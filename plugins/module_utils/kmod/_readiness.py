# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decide, from host facts, which DCO kernel module a host needs and how it can get it.

Pure: ``recommend`` takes the dict ``_host_facts.gather_host_facts`` returns and returns a
recommendation; nothing here reads the host. The kmod module uses the same decision for
``flavour: auto`` and ``method: auto``, and ``choose_source`` is the one rule, for both, of
which pinned source or package a build uses.
"""

from __future__ import annotations

import re

from ansible_collections.ovpnfleet.dco.plugins.module_utils._generations import (
    FIRST_DCO_RELEASE,
    GENERATIONS,
    first_served_openvpn,
    generation_for_openvpn,
    parse_version,
)
from ansible_collections.ovpnfleet.dco.plugins.module_utils.access_server._server import DCO_KEY as ACCESS_SERVER_DCO_KEY

READY = "ready"            # the right module is loaded: nothing to do on the kernel side
ACTIONABLE = "actionable"  # the collection can get the module there (see method and steps)
UNSUPPORTED = "unsupported"  # something only a person can change stands in the way (see reasons)

# How the module reaches the host, in the order ``method: auto`` prefers them.
METHOD_INKERNEL = "inkernel"  # shipped with the kernel (in-tree or built in): modprobe only
METHOD_PACKAGE = "package"    # a distro package with a DKMS tree (Debian's openvpn-dco-dkms)
METHOD_DKMS = "dkms"          # a pinned source tarball registered with DKMS
METHOD_SOURCE = "source"      # a pinned source tarball built with make

# The kmod module loads the module at boot through this file.
PERSIST_PATH = "/etc/modules-load.d/ovpnfleet-dco.conf"


def recommend(facts, sources=None):
    """Return ``{status, flavour, module, method, package, source, why, build, steps, reasons, notes,
    access_server}``.

    On an Access Server host (``facts["access_server"]``, from access_server/_server.py's
    ``gather_info``) the AS version picks the flavour and the steps end with its key, ``sacli
    start`` and a check; ``access_server`` then holds its version and DCO key state, else None.

    ``sources`` is the table of pinned sources (``ovpn_dco_sources`` of kmod/sources.yml);
    None when the caller has none, and then no pinned source can be named.
    """
    rec = {
        "status": UNSUPPORTED, "flavour": None, "module": None, "method": None,
        "package": None, "source": None, "why": None, "build": None, "steps": [], "reasons": [],
        "notes": [], "access_server": None,
    }
    server = facts.get("access_server") or {}
    if server.get("is_access_server"):
        # Access Server brings its own OpenVPN: its version, not the host's openvpn, picks the module.
        return _recommend_access_server(facts, server, rec, sources)
    flavour = _flavour_or_reasons(facts["openvpn"], facts.get("packages"), rec["reasons"])
    if flavour is None:
        return rec
    if not facts["openvpn"]["installed"]:
        rec["notes"].append("OpenVPN is not installed: the flavour follows the distro's candidate "
                            "%s; install OpenVPN before the module." % _candidate(facts.get("packages"), "openvpn"))
    _kernel_side(facts, flavour, rec, sources, "OpenVPN %s" % (facts["openvpn"]["version"] or "(not installed)"))
    return rec


def _kernel_side(facts, flavour, rec, sources, user):
    """The module ``flavour`` on this kernel: loaded (ready), present (modprobe) or to build."""
    rec.update(flavour=flavour.name, module=flavour.module)
    side = facts["kernel_modules"][flavour.name]
    _note_wrong_flavour(facts, flavour, rec["notes"], user)

    if side["loaded"]:
        rec.update(status=READY, method=_method_of_present_module(side))
        _note_pending_kernel(facts, rec)
        return rec

    loadable = facts["kernel"]["modules_loadable"]
    if not loadable:
        rec["reasons"].append(_cannot_load_reason(facts, flavour))
        return rec

    if side["builtin"] or side["filename"]:
        rec.update(status=ACTIONABLE, method=_method_of_present_module(side))
        rec["steps"] = ["modprobe %s" % flavour.modprobe_name,
                        "persist in %s" % PERSIST_PATH]
        _note_pending_kernel(facts, rec)
        _note_signing(facts, rec)
        return rec

    waiting = _pending_kernel_shipping(facts, flavour)
    if waiting:
        # A reboot, not a build: the installed kernel brings the module (Debian's backports
        # kernel and OpenVPN 2.7). Building one for the running kernel would be thrown away.
        rec["reasons"].append(
            "kernel %s has no %s, which %s needs, and kernel %s, installed and waiting for a reboot, "
            "ships it: reboot into %s, then run enable_dco or upgrade_kmod (they load %s, nothing is "
            "built); until the reboot an %s started now runs in userspace."
            % (facts["kernel"]["release"], flavour.module, user, waiting, waiting, flavour.modprobe_name, user))
        return rec

    _plan_build(facts, flavour, rec, sources)
    return rec


def _pending_kernel_shipping(facts, flavour):
    """The kernel waiting for a reboot when it ships ``flavour`` itself (in-tree or built in)."""
    there = (facts.get("pending_reboot_kernel_modules") or {}).get(flavour.name) or {}
    return facts.get("pending_reboot_kernel") if there.get("origin") in ("in-tree", "builtin") else None


def _recommend_access_server(facts, server, rec, sources):
    """Access Server: the module its version needs on this kernel (``dco_requirement``, from
    the one table of generations), then the key, ``sacli start`` and a check, in that order."""
    rule = server["requirement"]
    rec["access_server"] = {key: server.get(key) for key in (
        "version", "dco_setting", "dco_configured", "dco_available", "dco_module_version")}
    rec["access_server"]["default_enabled"] = rule["default_enabled"]
    if not rule["supported"]:
        rec["reasons"].extend(rule["reasons"])
        return rec
    flavour = GENERATIONS[rule["flavour"]]
    rec["notes"].extend(rule["notes"])
    kernel = parse_version(facts["kernel"]["release"])
    if flavour.in_tree_since and kernel is not None and kernel[:2] < flavour.in_tree_since:
        rec["notes"].append(
            "not confirmed: Access Server's manual says only that 3.2.0 and newer use the %s module "
            "aligned with Linux %d.%d+; whether its install script brings a module for older "
            "kernels, and in which package, is not documented" % ((flavour.module,) + flavour.in_tree_since))
    if rule["packages"]:
        rec["notes"].append(
            "Access Server's own repository and install script provide %s (Debian/Ubuntu) and %s "
            "(RHEL, with EPEL) for %s; the kmod role installs the module the same way it does for "
            "community OpenVPN" % (rule["packages"]["deb"], rule["packages"]["rpm"], flavour.name))
    _kernel_side(facts, flavour, rec, sources, "Access Server %s" % server["version"])
    if rec["status"] == UNSUPPORTED:
        return rec
    kernel_steps = rec["steps"]
    rec["steps"] = ["kmod role (flavour %s): %s" % (flavour.name, step) for step in kernel_steps]
    if server.get("dco_setting") != "true":
        rec["steps"].append(
            "set %s to true with ovpnfleet.dco.access_server (dco: enabled); it is %s now"
            % (ACCESS_SERVER_DCO_KEY, "unset (default %s)" % ("on" if rule["default_enabled"] else "off")
               if server.get("dco_setting") is None else repr(server["dco_setting"])))
    if rec["steps"]:
        rec["steps"].append("sacli start (ovpnfleet.dco.access_server runs it only when the key changed, "
                            "and waits for the API and every daemon)")
    if rec["steps"] or server.get("dco_available") is not True:
        rec["steps"].append(
            "verify: ovpnfleet.dco.access_server_info reports dco_available true, and "
            "ovpnfleet.dco.tunnel_info shows the as0t*/as0u* devices of link kind %s" % flavour.link_kind)
    if rec["status"] == READY and rec["steps"]:
        # The module is loaded, yet Access Server does not use it until the key is on and applied.
        rec["status"] = ACTIONABLE
    return rec


def _flavour_or_reasons(openvpn, packages, reasons):
    if not openvpn["installed"]:
        candidate = _candidate(packages, "openvpn")
        if candidate is None:
            reasons.append(
                "OpenVPN is not installed and no package candidate was found: install OpenVPN "
                "%d.%d or newer (the server and client roles do this), then run host_info again."
                % first_served_openvpn()[:2])
            return None
        version = parse_version(candidate)
        source = "the distro's candidate OpenVPN %s" % candidate
    else:
        version = parse_version(openvpn["version"])
        source = "OpenVPN %s" % openvpn["version"]
        if openvpn["dco_built"] is False:
            reasons.append(
                "%s was built without DCO support (no [DCO] in 'openvpn --version'): install a "
                "build with DCO, such as the distro's openvpn package." % source)
            return None
    flavour = generation_for_openvpn(version)
    if flavour is None:
        first = ".".join(map(str, first_served_openvpn()))
        if version is not None and version >= FIRST_DCO_RELEASE:
            reasons.append(
                "%s uses the first ovpn-dco API, whose kernel module is obsolete: upgrade "
                "OpenVPN to %s or newer." % (source, first))
        else:
            reasons.append("%s has no data channel offload: upgrade OpenVPN to %s or newer."
                           % (source, first))
    return flavour


def _candidate(packages, name):
    if not packages:
        return None
    return (packages.get("packages", {}).get(name) or {}).get("candidate")


def _method_of_present_module(side):
    origin = side["origin"]
    if origin in ("builtin", "in-tree") or (side["loaded"] and side["filename"] is None
                                            and side["kconfig"] in ("y", "m")):
        return METHOD_INKERNEL
    if origin == "dkms":
        return METHOD_DKMS
    return METHOD_SOURCE


def _note_wrong_flavour(facts, flavour, notes, user):
    for name, side in facts["kernel_modules"].items():
        if name != flavour.name and side["loaded"]:
            older = GENERATIONS[name].openvpn_versions[1]
            if older is not None and older <= flavour.openvpn_versions[0]:
                # Debian's openvpn upgrade restarts no tunnel: the old processes keep their DCO.
                notes.append(
                    "%s is loaded but %s talks only to %s: tunnels of an OpenVPN started before the "
                    "upgrade stay on %s until they restart, then run in userspace unless %s is loaded."
                    % (side["module"], user, flavour.module, side["module"], flavour.module))
            else:
                notes.append(
                    "%s is loaded but %s talks only to %s: it does not help this host."
                    % (side["module"], user, flavour.module))


def _cannot_load_reason(facts, flavour):
    why = facts["kernel"]["modules_not_loadable_reason"]
    if facts.get("container"):
        fix = "load %s on the container's host, or run OpenVPN on a VM or bare metal" % flavour.module
    else:
        fix = "boot a kernel that can load modules, or one with %s built in" % flavour.module
    return "%s, and %s is not loaded: %s." % (why, flavour.module, fix)


def _plan_build(facts, flavour, rec, sources):
    """The module is not on the host: choose a pinned source or a package (``choose_source``)."""
    release = facts["kernel"]["release"]
    headers = facts["headers"]
    if _kernel_ships(facts, flavour):
        # Linux >= 6.16 with CONFIG_OVPN set yet no ovpn.ko: the distro split it out.
        rec["notes"].append("kernel %s is configured with %s but %s is missing: install the "
                            "distro's kernel modules package."
                            % (release, flavour.kconfig, flavour.module_file))
    if not headers["installed"] and not headers["installable"]:
        offered = ("no package manager the collection knows" if headers["installable"] is None
                   else "%s is not in the configured repositories" % headers["package"])
        rec["reasons"].append(
            "building %s needs headers for the running kernel %s, and %s: install the exact "
            "headers, or upgrade to a kernel whose headers the repositories carry and reboot "
            "(run 'apt-get update' first if the package lists are old)."
            % (flavour.name, release, offered))
        return
    kernels = [release] + ([facts["pending_reboot_kernel"]] if facts.get("pending_reboot_kernel") else [])
    choice = choose_source(flavour, kernels, sources, facts.get("packages"))
    rec.update(why=choice["why"], source=choice["source"], package=choice["package"])
    rec["notes"].extend(choice["warnings"])
    if choice["method"] is None:
        rec["reasons"].append(choice["why"])
        return
    if choice["method"] == METHOD_PACKAGE:
        rec.update(method=METHOD_PACKAGE, build="dkms")
        rec["steps"] = ["apt-get install %s" % choice["package"]]
    elif choice["source"]:
        rec.update(method=METHOD_SOURCE, build="make")
        rec["steps"] = ["compile the pinned source %s once per build group" % choice["source"]]
    else:
        rec.update(method=METHOD_DKMS, build="dkms")
        rec["steps"] = ["register the pinned %s source with DKMS" % flavour.name]
    if not headers["installed"]:
        rec["steps"].insert(0, "apt-get install %s" % headers["package"])
    rec["steps"] += ["modprobe %s" % flavour.modprobe_name,
                     "persist in %s" % PERSIST_PATH]
    rec["status"] = ACTIONABLE
    _note_pending_kernel(facts, rec)
    _note_signing(facts, rec)


def kernel_series(release):
    """``6.12.118+deb13-amd64`` -> ``6.12``: what ``tested_kernels`` in kmod/sources.yml lists."""
    match = re.match(r"(\d+)\.(\d+)", release or "")
    return "%s.%s" % match.groups() if match else None


def _version_key(version):
    # 0.0+git20231103 < 0.0+git20241121 < 0.2.20250520: every number, in order.
    return tuple(int(number) for number in re.findall(r"\d+", str(version)))


def _untested(entry, kernels):
    tested = {str(series) for series in entry.get("tested_kernels") or []}
    return [kernel for kernel in kernels if kernel_series(kernel) not in tested]


def _tested_text(entry):
    return ", ".join(str(series) for series in entry.get("tested_kernels") or []) or "no kernel"


def choose_source(flavour, kernels, sources, packages, method="auto", source=None, package=None):
    """Which pinned source or distribution package builds ``flavour`` for ``kernels``, and why.

    The rule: a ``source`` the operator named is used, with a warning for every kernel its
    ``tested_kernels`` does not list. Else the newest pinned source of the flavour tested on
    every kernel (major.minor of the release); else, when ``method`` is auto, the distribution's
    package where apt offers it; else the newest pinned source anyway, with a warning that no
    source is known to build there. ``sources`` None means the caller has no table: then only
    the package, or a pinned source the caller picks later, can be named.

    Returns ``{method, source, version, package, why, warnings}``; ``method`` is None (and
    ``why`` says what to do) when nothing can build the flavour.
    """
    series = ", ".join(sorted({kernel_series(k) or k for k in kernels}, key=_version_key))
    choice = {"method": None, "source": None, "version": None, "package": None, "why": None, "warnings": []}
    offered = _offered_package(flavour, packages, package)
    if method == METHOD_PACKAGE:
        choice.update(method=METHOD_PACKAGE, package=package or (offered and offered[0]) or flavour.distro_packages[0],
                      why="method package was asked for: the distribution's DKMS package builds on each host")
        return choice
    build_method = METHOD_SOURCE if method == "auto" else method
    if source:
        return _named_source(flavour, kernels, sources or {}, source, build_method, choice)
    ours = sorted(((name, entry) for name, entry in (sources or {}).items()
                   if isinstance(entry, dict) and entry.get("flavour") == flavour.name),
                  key=lambda item: (_version_key(item[1].get("version")), item[0]), reverse=True)
    tested = next(((name, entry) for name, entry in ours if not _untested(entry, kernels)), None)
    if tested:
        name, entry = tested
        return dict(choice, method=build_method, source=name, version=entry.get("version"), why=(
            "%s is the newest pinned %s source tested on %s (tested on %s)"
            % (name, flavour.name, series, _tested_text(entry))))
    if method == "auto" and offered:
        considered = ("no pinned %s source is tested on %s" % (flavour.name, series) if sources is not None
                      else "no table of pinned sources was given")
        choice.update(method=METHOD_PACKAGE, package=offered[0], why=(
            "%s, and apt offers %s %s, which DKMS builds on each host" % (considered, offered[0], offered[1])))
        choice["warnings"] = _package_untested(flavour, kernels, ours, offered)
        return choice
    no_package = "" if method != "auto" else " and apt offers no %s" % "/".join(flavour.distro_packages)
    if ours:
        name, entry = ours[0]
        choice.update(method=build_method, source=name, version=entry.get("version"), why=(
            "no pinned %s source is tested on %s%s: trying the newest, %s (tested on %s)"
            % (flavour.name, series, no_package, name, _tested_text(entry))))
        choice["warnings"] = [
            "kernel %s: no pinned %s source is known to build for %s%s, so %s may fail to compile; "
            "pin a source tested on %s in kmod/sources.yml or boot a kernel one is tested on."
            % (kernel, flavour.name, kernel_series(kernel) or kernel, no_package, name,
               kernel_series(kernel) or kernel)
            for kernel in _untested(entry, kernels)]
        return choice
    if sources is None and method == "auto":
        # host_info without the table: the kmod role brings kmod/sources.yml and picks there.
        return dict(choice, method=METHOD_DKMS, why=(
            "apt offers no %s: build from a pinned %s source (the kmod role picks the newest one "
            "tested on %s from kmod/sources.yml)" % (flavour.distro_packages[0], flavour.name, series)))
    if flavour.in_tree_since:
        other_way = "or boot a kernel >= %d.%d, which ships %s" % (flavour.in_tree_since + (flavour.module,))
    else:
        other_way = "or make the distribution's %s installable" % flavour.distro_packages[0]
    return dict(choice, why="kmod/sources.yml pins no %s source%s: pin one, %s"
                % (flavour.name, no_package, other_way))


def _offered_package(flavour, packages, package):
    """``(name, candidate)`` of the flavour's distribution package apt can install, or None."""
    for name in ([package] if package else []) + list(flavour.distro_packages):
        candidate = _candidate(packages, name)
        if candidate:
            return name, candidate
    return None


def _named_source(flavour, kernels, sources, name, build_method, choice):
    entry = sources.get(name)
    if not isinstance(entry, dict):
        return dict(choice, why="kmod_source %s is not in kmod/sources.yml: pick one of %s, or auto"
                    % (name, ", ".join(sorted(sources)) or "its entries"))
    if entry.get("flavour") != flavour.name:
        return dict(choice, why=(
            "kmod_source %s builds %s, and this host needs %s: pick a source of that flavour, or auto"
            % (name, entry.get("flavour"), flavour.name)))
    choice.update(method=build_method, source=name, version=entry.get("version"),
                  why="kmod_source %s was set by the operator" % name)
    choice["warnings"] = [
        "kernel %s: kmod_source %s is not known to build for %s (tested on %s); the build may fail."
        % (kernel, name, kernel_series(kernel) or kernel, _tested_text(entry))
        for kernel in _untested(entry, kernels)]
    return choice


def _package_untested(flavour, kernels, ours, offered):
    """The package carries the tree of a pinned source whose tests do not cover the kernels."""
    upstream = offered[1].rsplit("-", 1)[0]
    for name, entry in ours:
        if str(entry.get("version")) == upstream:
            return ["kernel %s: %s %s carries %s %s, which is tested on %s only; its DKMS build may fail."
                    % (kernel, offered[0], offered[1], flavour.name, upstream, _tested_text(entry))
                    for kernel in _untested(entry, kernels)]
    return []


def _kernel_ships(facts, flavour):
    return bool(flavour.kconfig) and facts["kernel_modules"][flavour.name]["kconfig"] in ("y", "m")


def _note_pending_kernel(facts, rec):
    pending = facts.get("pending_reboot_kernel")
    if not pending or rec["method"] in (None, METHOD_INKERNEL):
        return
    there = (facts.get("pending_reboot_kernel_modules") or {}).get(rec["flavour"])
    if there is None or not (there["filename"] or there["origin"] == "builtin"):
        rec["notes"].append(
            "kernel %s is installed and waits for a reboot: build %s for it too, or DCO is "
            "lost after the reboot." % (pending, rec["flavour"]))
    for newer in GENERATIONS.values():
        if newer.name != rec["flavour"] and _pending_kernel_shipping(facts, newer):
            # The generation move: say before the reboot which order keeps DCO.
            rec["notes"].append(
                "kernel %s ships %s, which OpenVPN %d.%d and newer use instead of %s: install that "
                "OpenVPN before the reboot and run upgrade_kmod after it (it loads %s and removes "
                "what this collection installed of %s), or build %s for %s to stay on this OpenVPN."
                % ((pending, newer.module) + newer.openvpn_versions[0][:2]
                   + (rec["flavour"], newer.modprobe_name, rec["flavour"], rec["flavour"], pending)))


def _note_signing(facts, rec):
    if rec["method"] == METHOD_INKERNEL:
        return
    enforced = (facts["secure_boot"]["enabled"] or facts["module_signatures_enforced"]
                or facts["lockdown"] in ("integrity", "confidentiality"))
    if enforced:
        rec["notes"].append(
            "the kernel only loads signed modules (Secure Boot, lockdown or sig_enforce): sign "
            "%s with a key enrolled in the MOK list (DKMS signs with /var/lib/dkms/mok.key; "
            "enrol it with 'mokutil --import' and a reboot at the console)." % rec["flavour"])
