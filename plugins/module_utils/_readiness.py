# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decide, from host facts, which DCO kernel module a host needs and how it can get it.

Pure: ``recommend`` takes the dict ``_host_facts.gather_host_facts`` returns and returns a
recommendation; nothing here reads the host. The kmod module uses the same decision for
``flavour: auto`` and ``method: auto``.
"""

from __future__ import annotations

from ansible_collections.ovpnfleet.dco.plugins.module_utils._flavours import (
    FIRST_DCO_RELEASE,
    FIRST_DCO_V2_RELEASE,
    OVPN,
    flavour_for_openvpn,
    parse_version,
)

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


def recommend(facts):
    """Return ``{status, flavour, module, method, package, build, steps, reasons, notes}``."""
    rec = {
        "status": UNSUPPORTED, "flavour": None, "module": None, "method": None,
        "package": None, "build": None, "steps": [], "reasons": [], "notes": [],
    }
    flavour = _flavour_or_reasons(facts["openvpn"], facts.get("packages"), rec["reasons"])
    if flavour is None:
        return rec
    if not facts["openvpn"]["installed"]:
        rec["notes"].append("OpenVPN is not installed: the flavour follows the distro's candidate "
                            "%s; install OpenVPN before the module." % _candidate(facts.get("packages"), "openvpn"))
    rec.update(flavour=flavour.name, module=flavour.module)
    side = facts["kernel_modules"][flavour.name]
    _note_wrong_flavour(facts, flavour, rec["notes"])

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

    _plan_build(facts, flavour, rec)
    return rec


def _flavour_or_reasons(openvpn, packages, reasons):
    if not openvpn["installed"]:
        candidate = _candidate(packages, "openvpn")
        if candidate is None:
            reasons.append(
                "OpenVPN is not installed and no package candidate was found: install OpenVPN "
                "2.6 or newer (the server and client roles do this), then run host_info again.")
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
    flavour = flavour_for_openvpn(version)
    if flavour is None:
        if version is not None and version >= FIRST_DCO_RELEASE:
            reasons.append(
                "%s uses the first ovpn-dco API, whose kernel module is obsolete: upgrade "
                "OpenVPN to 2.6.2 or newer." % source)
        else:
            reasons.append("%s has no data channel offload: upgrade OpenVPN to %s or newer."
                           % (source, ".".join(map(str, FIRST_DCO_V2_RELEASE))))
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


def _note_wrong_flavour(facts, flavour, notes):
    for name, side in facts["kernel_modules"].items():
        if name != flavour.name and side["loaded"]:
            notes.append(
                "%s is loaded but OpenVPN %s talks only to %s: it does not help this host."
                % (side["module"], facts["openvpn"]["version"] or "(not installed)", flavour.module))


def _cannot_load_reason(facts, flavour):
    why = facts["kernel"]["modules_not_loadable_reason"]
    if facts.get("container"):
        fix = "load %s on the container's host, or run OpenVPN on a VM or bare metal" % flavour.module
    else:
        fix = "boot a kernel that can load modules, or one with %s built in" % flavour.module
    return "%s, and %s is not loaded: %s." % (why, flavour.module, fix)


def _plan_build(facts, flavour, rec):
    """The module is not on the host: choose a package, DKMS or source build."""
    release = facts["kernel"]["release"]
    headers = facts["headers"]
    if flavour is OVPN and _kernel_ships_ovpn(facts):
        # Linux >= 6.16 with CONFIG_OVPN set yet no ovpn.ko: the distro split it out.
        rec["notes"].append("kernel %s is configured with CONFIG_OVPN but ovpn.ko is missing: "
                            "install the distro's kernel modules package." % release)
    if not headers["installed"] and not headers["installable"]:
        offered = ("no package manager the collection knows" if headers["installable"] is None
                   else "%s is not in the configured repositories" % headers["package"])
        rec["reasons"].append(
            "building %s needs headers for the running kernel %s, and %s: install the exact "
            "headers, or upgrade to a kernel whose headers the repositories carry and reboot "
            "(run 'apt-get update' first if the package lists are old)."
            % (flavour.name, release, offered))
        return
    package = next((name for name in flavour.distro_packages
                    if _candidate(facts.get("packages"), name)), None)
    if package:
        rec.update(method=METHOD_PACKAGE, package=package, build="dkms")
        rec["steps"] = ["apt-get install %s" % package]
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


def _kernel_ships_ovpn(facts):
    side = facts["kernel_modules"][OVPN.name]
    return side["kconfig"] in ("y", "m")


def _note_pending_kernel(facts, rec):
    pending = facts.get("pending_reboot_kernel")
    if pending and rec["method"] not in (None, METHOD_INKERNEL):
        rec["notes"].append(
            "kernel %s is installed and waits for a reboot: build %s for it too, or DCO is "
            "lost after the reboot." % (pending, rec["flavour"]))


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
