# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read-only facts about a host's readiness for OpenVPN DCO.

Every function takes a probe (see ``_probe.py``) and returns plain data; nothing here changes
the host. ``gather_host_facts`` is the entry point; ``_readiness.py`` turns its result into a
recommendation.
"""

from __future__ import annotations

import re

from ansible_collections.ovpnfleet.dco.plugins.module_utils._generations import (
    GENERATIONS,
    generation_for_openvpn,
    kernel_sort_key,
    parse_version,
)
from ansible_collections.ovpnfleet.dco.plugins.module_utils._probe import RC_NOT_FOUND
from ansible_collections.ovpnfleet.dco.plugins.module_utils.access_server._server import (
    ProbeAccessServerHost,
    gather_info,
)

# EFI variable SecureBoot in the global-variable namespace (UEFI spec, section 3.3).
SECURE_BOOT_EFIVAR = "/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"


def gather_host_facts(probe, openvpn_binary="openvpn", packages_if_unloadable=True, packages_if_ready=True):
    """Everything host_info reports.

    The package manager is the slowest question (about half a second of apt natively, several
    seconds on a slow VM), and tunnel_info's sweeps ask on every host. ``packages_if_unloadable=False``
    skips it where no package can change the verdict because the kernel cannot load modules;
    ``packages_if_ready=False`` where the module the installed OpenVPN needs is loaded already
    (a converged host). Both only with OpenVPN installed: otherwise the distro's candidate
    picks the module."""
    uname = probe.uname()
    release = uname.release
    kernel_config = _kernel_config(probe, release)
    container = _container(probe)
    facts = {
        "kernel": _kernel_facts(probe, release, uname.machine, kernel_config, container),
        "distro": parse_os_release(probe.read("/etc/os-release") or ""),
        "container": container,
        "openvpn": _openvpn_facts(probe, openvpn_binary),
        "kernel_modules": {
            name: _module_facts(probe, flavour, release, kernel_config)
            for name, flavour in GENERATIONS.items()
        },
        "dkms": _dkms_facts(probe),
        "installed_kernels": _installed_kernels(probe),
        "secure_boot": _secure_boot(probe),
        "lockdown": parse_lockdown(probe.read("/sys/kernel/security/lockdown")),
        "module_signatures_enforced": _sig_enforce(probe),
    }
    facts["pending_reboot_kernel"] = newer_kernel(release, facts["installed_kernels"])
    facts["pending_reboot_kernel_modules"] = _pending_kernel_modules(probe, facts["pending_reboot_kernel"])
    if _packages_can_matter(facts, packages_if_unloadable, packages_if_ready):
        facts["packages"] = _package_candidates(probe, release)
    else:
        facts["packages"] = {"manager": None, "packages": {}}
    facts["headers"] = _headers_facts(probe, release, facts["packages"])
    return facts


def _packages_can_matter(facts, if_unloadable, if_ready):
    """Whether what the package manager offers can change the verdict on this host."""
    version = parse_version(facts["openvpn"]["version"] or "")
    if version is None:
        return True
    if not if_unloadable and facts["kernel"]["modules_loadable"] is False:
        return False
    flavour = generation_for_openvpn(version)
    return if_ready or flavour is None or not facts["kernel_modules"][flavour.name]["loaded"]


def gather_access_server(probe):
    """access_server_info's answer, asked through the probe: one ``sacli status`` on a host
    without Access Server (no sacli: nothing runs), everything on one with it."""
    return gather_info(ProbeAccessServerHost(probe))


def _kernel_config(probe, release):
    """The running kernel's config as a dict, and where it was read from."""
    for path in ("/boot/config-%s" % release, "/proc/config.gz"):
        text = probe.read(path)
        if text:
            return {"source": path, "options": parse_kernel_config(text)}
    return {"source": None, "options": {}}


def parse_kernel_config(text):
    """``CONFIG_X=y`` lines to ``{"CONFIG_X": "y"}``; ``# CONFIG_X is not set`` to ``"n"``.

    String methods, not a regex per line: a distro config has twelve thousand lines, and two
    regex matches each took a second of tunnel_info on a slow VM."""
    options = {}
    for line in text.splitlines():
        if line.startswith("CONFIG_"):
            name, sep, value = line.partition("=")
            if not sep:
                continue
            value = value.strip('"')
        elif line.startswith("# CONFIG_") and line.endswith(_NOT_SET):
            name, value = line[2:-len(_NOT_SET)], "n"
        else:
            continue
        # The name is CONFIG_ and one or more word characters, as the regex CONFIG_\w+ took it.
        letters = name[len("CONFIG_"):].replace("_", "")
        if len(name) > len("CONFIG_") and (not letters or letters.isalnum()):
            options[name] = value
    return options


_NOT_SET = " is not set"


def _kernel_facts(probe, release, machine, kernel_config, container):
    options = kernel_config["options"]
    modules_disabled = (probe.read("/proc/sys/kernel/modules_disabled") or "").strip() == "1"
    if options.get("CONFIG_MODULES") == "n":
        loadable, why = False, "the kernel is built without module support (CONFIG_MODULES is not set)"
    elif modules_disabled:
        loadable, why = False, "module loading is switched off until reboot (kernel.modules_disabled=1)"
    elif not probe.exists("/proc/modules"):
        loadable, why = False, "the kernel has no /proc/modules, so it cannot load modules"
    elif container:
        loadable, why = False, ("the host is a %s container: it shares its host's kernel and "
                                "cannot load modules into it" % container)
    else:
        loadable, why = True, None
    return {
        "release": release,
        "arch": machine.strip() or None,
        "config_source": kernel_config["source"],
        "modules_loadable": loadable,
        "modules_not_loadable_reason": why,
    }


def parse_os_release(text):
    values = {}
    for line in text.splitlines():
        match = re.match(r'^([A-Z_]+)=(.*)$', line.strip())
        if match:
            values[match.group(1)] = match.group(2).strip().strip('"').strip("'")
    return {
        "id": values.get("ID"),
        "version_id": values.get("VERSION_ID"),
        "codename": values.get("VERSION_CODENAME"),
        "pretty_name": values.get("PRETTY_NAME"),
    }


def _container(probe):
    """The container technology the host runs in, or None on a VM or bare metal."""
    result = probe.run(["systemd-detect-virt", "--container"])
    name = result.stdout.strip()
    if result.rc == 0 and name and name != "none":
        return name
    if probe.exists("/run/.containerenv"):
        return "podman"
    return None


def _openvpn_facts(probe, binary):
    result = probe.run([binary, "--version"])
    if result.rc == RC_NOT_FOUND:
        return {"installed": False, "binary": binary, "version": None, "dco_built": None,
                "dco_version": None, "version_line": None}
    # openvpn --version exits 1 on 2.6 and 0 on 2.7; the text is what counts.
    parsed = parse_openvpn_version(result.stdout)
    parsed.update({"installed": parsed["version"] is not None, "binary": binary})
    return parsed


def parse_openvpn_version(text):
    """Version, the ``[DCO]`` build flag and the ``DCO version:`` line of ``openvpn --version``."""
    lines = text.splitlines()
    first = lines[0] if lines else ""
    match = re.match(r"^OpenVPN (\S+)", first)
    dco_version = None
    for line in lines:
        found = re.match(r"^DCO version: (.*)$", line.strip())
        if found:
            dco_version = None if found.group(1).strip() == "N/A" else found.group(1).strip()
    return {
        "version": match.group(1) if match else None,
        "dco_built": "[DCO]" in first if match else None,
        "dco_version": dco_version,
        "version_line": first or None,
    }


def _module_facts(probe, flavour, release, kernel_config):
    sys_dir = "/sys/module/%s" % flavour.module
    loaded = probe.exists(sys_dir)
    builtin = _is_builtin(probe, flavour, release)
    modinfo = parse_modinfo(probe.run(["modinfo", flavour.modprobe_name]))
    version = probe.read(sys_dir + "/version") if loaded else None
    filename = modinfo.get("filename")
    return {
        "flavour": flavour.name,
        "module": flavour.module,
        "loaded": loaded,
        "builtin": builtin,
        "version": (version or "").strip() or modinfo.get("version"),
        "filename": None if filename in (None, "(builtin)") else filename,
        "origin": module_origin(filename, builtin),
        "vermagic": modinfo.get("vermagic"),
        "signer": modinfo.get("signer"),
        "kconfig": _kconfig_value(kernel_config, flavour),
    }


def _kconfig_value(kernel_config, flavour):
    if flavour.kconfig is None:
        return None
    return kernel_config["options"].get(flavour.kconfig) if kernel_config["source"] else None


def _is_builtin(probe, flavour, release):
    builtin_list = probe.read("/lib/modules/%s/modules.builtin" % release) or ""
    wanted = "/" + flavour.module_file
    return any(line.strip().endswith(wanted) for line in builtin_list.splitlines())


def parse_modinfo(result):
    """``modinfo NAME`` output to a dict of its first value per key; {} when not found."""
    if result.rc != 0:
        return {}
    info = {}
    for line in result.stdout.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() and key.strip() not in info:
            info[key.strip()] = value.strip()
    return info


def module_origin(filename, builtin):
    """Where a module file comes from: in-tree, dkms, updates (a manual build) or None."""
    if builtin or filename == "(builtin)":
        return "builtin"
    if not filename:
        return None
    if "/updates/dkms/" in filename:
        return "dkms"
    if "/updates/" in filename or "/extra/" in filename:
        return "updates"
    if "/kernel/" in filename:
        return "in-tree"
    return "other"


def _dkms_facts(probe):
    result = probe.run(["dkms", "status"])
    if result.rc == RC_NOT_FOUND:
        return {"installed": False, "modules": []}
    return {"installed": True, "modules": parse_dkms_status(result.stdout)}


def parse_dkms_status(text):
    """Lines of ``dkms status`` (DKMS 2.x and 3.x formats) to dicts.

    3.x: ``ovpn-dco/0.0+git20231103, 6.1.0-56-amd64, x86_64: installed``;
    2.x: ``ovpn-dco, 0.0+git20231103, 6.1.0-56-amd64, x86_64: installed``;
    a module added but not built for any kernel has only name and version.
    """
    modules = []
    for line in text.splitlines():
        head, sep, state = line.rpartition(":")
        if not sep:
            continue
        fields = [field.strip() for field in head.split(",")]
        if "/" in fields[0]:
            name, version = fields[0].split("/", 1)
            rest = fields[1:]
        elif len(fields) >= 2:
            name, version = fields[0], fields[1]
            rest = fields[2:]
        else:
            continue
        state = state.strip()
        modules.append({
            "name": name,
            "version": version,
            "kernel": rest[0] if rest else None,
            "arch": rest[1] if len(rest) > 1 else None,
            # "installed (WARNING! Diff between built and installed module!)" is still installed.
            "state": state.split(" ")[0] if state else state,
            "detail": state,
        })
    return modules


def _installed_kernels(probe):
    """Kernel releases with both a /boot image and a /lib/modules tree, oldest first."""
    images = {
        name[len("vmlinuz-"):]
        for name in probe.listdir("/boot") or []
        if name.startswith("vmlinuz-")
    }
    trees = set(probe.listdir("/lib/modules") or [])
    return sorted(images & trees, key=kernel_sort_key)


def newer_kernel(running, installed):
    """The newest installed kernel if it is newer than the running one (a reboot is pending)."""
    if not installed:
        return None
    newest = installed[-1]
    return newest if kernel_sort_key(newest) > kernel_sort_key(running) else None


def _pending_kernel_modules(probe, release):
    """Each flavour's module file in the kernel waiting for a reboot, None when none waits.

    Whether the reboot brings the module OpenVPN needs (Debian's backports kernel ships ovpn)
    or drops the one it runs on decides what the plan says before the reboot, not after.
    """
    if not release:
        return None
    modules = {}
    for name, flavour in GENERATIONS.items():
        filename = parse_modinfo(probe.run(["modinfo", "-k", release, flavour.modprobe_name])).get("filename")
        modules[name] = {"filename": None if filename in (None, "(builtin)") else filename,
                         "origin": module_origin(filename, filename == "(builtin)")}
    return modules


def _secure_boot(probe):
    result = probe.run(["mokutil", "--sb-state"])
    text = (result.stdout + result.stderr).lower()
    if result.rc != RC_NOT_FOUND and "secureboot enabled" in text:
        return {"enabled": True, "source": "mokutil"}
    if result.rc != RC_NOT_FOUND and "secureboot disabled" in text:
        return {"enabled": False, "source": "mokutil"}
    if not probe.exists("/sys/firmware/efi"):
        return {"enabled": False, "source": "no EFI firmware"}
    data = probe.read_bytes(SECURE_BOOT_EFIVAR)
    if data:
        # 4 bytes of attributes, then the one-byte value.
        return {"enabled": data[-1] == 1, "source": "efivars"}
    return {"enabled": None, "source": None}


def parse_lockdown(text):
    """``none [integrity] confidentiality`` -> ``integrity``; None when there is no LSM file."""
    if not text:
        return None
    match = re.search(r"\[(\w+)\]", text)
    return match.group(1) if match else None


def _sig_enforce(probe):
    text = probe.read("/sys/module/module/parameters/sig_enforce")
    if text is None:
        return None
    return text.strip() == "Y"


def _package_candidates(probe, release):
    """What the package manager knows of the packages a DCO rollout may need (apt only)."""
    names = ["linux-headers-%s" % release, "openvpn", "dkms"]
    for flavour in GENERATIONS.values():
        names.extend(flavour.distro_packages)
    result = probe.run(["apt-cache", "policy"] + names)
    if result.rc == RC_NOT_FOUND:
        return {"manager": None, "packages": {}}
    policies = parse_apt_policy(result.stdout)
    return {
        "manager": "apt",
        "packages": {name: policies.get(name, {"installed": None, "candidate": None}) for name in names},
    }


def parse_apt_policy(text):
    """``apt-cache policy A B`` to ``{A: {"installed": v|None, "candidate": v|None}}``.

    Packages apt does not know at all are simply absent from its output.
    """
    policies = {}
    current = None
    for line in text.splitlines():
        header = re.match(r"^(\S+):$", line)
        if header:
            current = header.group(1)
            policies[current] = {"installed": None, "candidate": None}
            continue
        field = re.match(r"^\s+(Installed|Candidate): (\S+)", line)
        if field and current:
            value = None if field.group(2) == "(none)" else field.group(2)
            policies[current][field.group(1).lower()] = value
    return policies


def _headers_facts(probe, release, packages):
    build_dir = "/lib/modules/%s/build" % release
    package = "linux-headers-%s" % release
    installed = probe.exists(build_dir + "/Makefile")
    if packages["manager"] is None:
        installable = None
        candidate = None
    else:
        candidate = packages["packages"][package]["candidate"]
        installable = candidate is not None
    return {
        "installed": installed,
        "build_dir": build_dir,
        "package": package,
        "installable": installable,
        "candidate": candidate,
    }
