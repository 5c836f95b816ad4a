# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Plan how a host gets the DCO kernel module it needs, from what is really there.

``read_kmod_state`` asks a probe what each target kernel has; ``plan_kmod`` (pure) turns a
request and that state into an ordered list of steps; the kmod module runs the steps. A host
that already has what was asked gets an empty plan, so a second run changes and compiles
nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import re

from ansible_collections.ovpnfleet.dco.plugins.module_utils._errors import DcoError
from ansible_collections.ovpnfleet.dco.plugins.module_utils._generations import GENERATIONS
from ansible_collections.ovpnfleet.dco.plugins.module_utils.host._facts import (
    parse_dkms_status,
    parse_modinfo,
)
from ansible_collections.ovpnfleet.dco.plugins.module_utils.kmod._signing import has_module_signature
from ansible_collections.ovpnfleet.dco.plugins.module_utils.kmod._readiness import (
    METHOD_DKMS,
    METHOD_INKERNEL,
    METHOD_PACKAGE,
    METHOD_SOURCE,
    PERSIST_PATH,
    UNSUPPORTED,
    choose_source,
    kernel_series,
)

METHOD_ARTIFACT = "artifact"
STATE_DIR = "/var/lib/ovpnfleet-dco"
RECORD_PATH = STATE_DIR + "/installed.json"
# Where the kmod role stages a module built on the controller, one directory per kernel.
STAGED_DIR = STATE_DIR + "/artifacts"
BLOCK_PATH = "/etc/modprobe.d/ovpnfleet-dco.conf"
MODULES_ROOT = "/lib/modules"
# Where source and artifact installs put their .ko: searched before kernel/ by depmod.
UPDATES_SUBDIR = "updates/ovpnfleet-dco"
# Module files depmod indexes (Debian 13 compresses its own with xz).
MODULE_FILE_SUFFIXES = (".ko", ".ko.xz", ".ko.zst", ".ko.gz")

# Every value that becomes a file or directory name (a DKMS version in /usr/src/NAME-VERSION,
# later removed recursively; a kernel release in /lib/modules/RELEASE; a module file name) must
# match this: no "/" to climb out with, no leading "." (".." or a hidden name) or "-" (read as an
# option by dkms and modinfo), nothing a shell expands when DKMS sources dkms.conf.
PATH_COMPONENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+~-]{0,127}")
PATH_COMPONENT_RULE = ("only letters, digits and . _ + ~ - (the first one a letter or digit, at most "
                       "128 characters)")


class KmodError(DcoError):
    pass


class ModuleInUseError(KmodError):
    pass


def check_path_component(param, value):
    """Refuse ``value`` of ``param`` unless it is safe as one file or directory name."""
    if not isinstance(value, str) or not PATH_COMPONENT.fullmatch(value):
        shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
        raise KmodError("check %s: %s cannot be part of a path; use %s." % (param, shown, PATH_COMPONENT_RULE))
    return value


def check_relative_path(param, value):
    """A relative path (``src_subdir``): each of its names passes ``check_path_component``."""
    for part in (value or "").rstrip("/").split("/"):
        check_path_component(param, part)
    return value


def check_path_inputs(request, flavour, kernels):
    """Every value this run joins into a path, checked before anything is read or changed."""
    for param, value in (("flavour", flavour.name), ("flavour", flavour.dkms_name),
                         ("flavour", flavour.modprobe_name)):
        check_path_component(param, value)
    if request.get("src_version") is not None:
        check_path_component("src_version", request["src_version"])
    if request.get("src_subdir"):
        check_relative_path("src_subdir", request["src_subdir"])
    for kernel in kernels:
        # Not only from the kernels option: a release read from the host names /lib/modules too.
        check_path_component("kernels" if request.get("kernels") else "kernel release", kernel)
    if request.get("artifact"):
        name = posixpath.basename(request["artifact"])
        check_path_component("artifact", name)
        if not name.endswith(".ko"):
            raise KmodError("check artifact: %s is not a .ko file name; depmod indexes only module "
                            "files named NAME.ko." % name)


def check_installed_module_path(path, kernel):
    """A module file this collection may remove: one file in /lib/modules/KERNEL/updates/."""
    check_path_component("kernel release in %s" % RECORD_PATH, kernel)
    prefix = "%s/%s/updates/" % (MODULES_ROOT, kernel)
    rest = path[len(prefix):] if isinstance(path, str) and path.startswith(prefix) else None
    if (rest is None or posixpath.normpath(path) != path or not rest.endswith(MODULE_FILE_SUFFIXES)
            or not all(PATH_COMPONENT.fullmatch(part) for part in rest.split("/"))):
        raise KmodError(
            "remove the module file %r of kernel %s: it is not a module file in %s, so it was not "
            "installed here and is left alone; fix or delete that entry in %s."
            % (path, kernel, prefix, RECORD_PATH))
    return path


def decide(request, recommendation, kernels, packages):
    """Flavour, method and source for this request on this host, and why: the one decision.

    ``auto`` becomes what host_info recommends for the flavour (the kernel's own module where
    it ships one); a build takes the source or package ``choose_source`` picks from the pinned
    ``sources`` for ``kernels``. Returns ``{flavour, method, source, version, package, why,
    warnings}`` with ``flavour`` a ``Flavour``; raises ``KmodError`` when nothing fits.
    """
    name = request["flavour"]
    if name == "auto":
        name = recommendation["flavour"]
        if name is None:
            raise KmodError("choose a DCO kernel module: %s" % (
                " ".join(recommendation["reasons"]) or "host_info recommends none; set flavour."))
    flavour = GENERATIONS[name]
    method = request["method"]
    decision = {"flavour": flavour, "method": method, "source": None, "version": request.get("src_version"),
                "package": request.get("package"), "why": None, "warnings": []}
    if method == "auto" and request.get("state") == "absent":
        # Removing takes away whatever this collection installed, by any method.
        return dict(decision, method=None, why="state absent removes what this collection installed, by any method")
    sources = request.get("sources")
    if request.get("artifact") and method in ("auto", METHOD_ARTIFACT):
        return dict(decision, method=METHOD_ARTIFACT, why="a prebuilt artifact was given")
    if method == METHOD_ARTIFACT:
        return dict(decision, why="method artifact was asked for")
    if request.get("src"):
        method = METHOD_DKMS if method == "auto" else method
        return dict(decision, method=method, why="src %s was given" % (request.get("src_version") or "(no version)"),
                    warnings=_given_src_warnings(flavour, kernels, sources, request.get("src_version")))
    if method == METHOD_INKERNEL or (method == "auto" and recommendation["flavour"] == flavour.name
                                     and recommendation["method"] == METHOD_INKERNEL):
        return dict(decision, method=METHOD_INKERNEL, why=(
            "method inkernel was asked for" if method == METHOD_INKERNEL
            else "kernel %s ships %s" % (kernels[0] if kernels else "", flavour.modprobe_name)))
    choice = choose_source(flavour, kernels, sources, packages, method=method,
                           source=request.get("source"), package=request.get("package"))
    if choice["method"] is None:
        raise KmodError("choose a method for %s: %s." % (flavour.name, choice["why"]))
    if choice["method"] in (METHOD_SOURCE, METHOD_DKMS) and not choice["source"]:
        raise KmodError("choose a source for %s: %s; pass sources (the table in kmod/sources.yml, as "
                        "the kmod role does), or src and src_sha256." % (flavour.name, choice["why"]))
    return dict(decision, **choice)


def _given_src_warnings(flavour, kernels, sources, version):
    """An operator's own src: warn when the pinned entry of that version is untested here."""
    entries = [entry for entry in (sources or {}).values()
               if isinstance(entry, dict) and entry.get("flavour") == flavour.name
               and str(entry.get("version")) == str(version)]
    if not entries:
        return []
    tested = {str(series) for entry in entries for series in entry.get("tested_kernels") or []}
    return ["kernel %s: src_version %s is not known to build for %s (tested on %s); the build may fail."
            % (kernel, version, kernel_series(kernel) or kernel, ", ".join(sorted(tested)) or "no kernel")
            for kernel in kernels if kernel_series(kernel) not in tested]


def fill_source(request, decision, sources):
    """Point a source or dkms build without ``src`` at the pinned source the decision chose."""
    if decision["method"] not in (METHOD_SOURCE, METHOD_DKMS) or request.get("src") or not decision["source"]:
        return
    entry = sources[decision["source"]]
    request.update(src=entry["url"], src_sha256=entry["sha256"], src_version=entry["version"],
                   src_format=entry.get("format", "tar"), src_subdir=entry.get("subdir"))


def target_kernels(request, facts):
    """The running kernel, plus an installed newer one waiting for a reboot."""
    if request.get("kernels"):
        return list(request["kernels"])
    kernels = [facts["kernel"]["release"]]
    pending = facts.get("pending_reboot_kernel")
    if pending and pending not in kernels:
        kernels.append(pending)
    return kernels


def read_kmod_state(probe, flavour, kernels, dkms_name):
    """What each target kernel has of ``flavour``, what is loaded, and our install record."""
    module_dir = "/sys/module/%s" % flavour.module
    loaded = probe.exists(module_dir)
    per_kernel = {}
    for kernel in kernels:
        info = parse_modinfo(probe.run(["modinfo", "-k", kernel, flavour.modprobe_name]))
        content = probe.read_bytes(info["filename"]) if info.get("filename", "").startswith("/") else None
        per_kernel[kernel] = {
            "filename": info.get("filename"),
            "sha256": hashlib.sha256(content).hexdigest() if content is not None else None,
            "vermagic": info.get("vermagic"),
            "srcversion": info.get("srcversion"),
            "signer": info.get("signer"),
            "build_dir_exists": probe.exists("/lib/modules/%s/build/Makefile" % kernel),
        }
    dkms = probe.run(["dkms", "status", "-m", dkms_name])
    record_text = probe.read(RECORD_PATH)
    try:
        record = json.loads(record_text) if record_text else {}
    except ValueError:
        record = {}
    if not isinstance(record, dict) or not isinstance(record.get(flavour.name, {}), dict):
        record = {}
    return {
        "loaded": loaded,
        "loaded_srcversion": (probe.read(module_dir + "/srcversion") or "").strip() or None,
        "refcnt": _int_or_none(probe.read(module_dir + "/refcnt")),
        "kernels": per_kernel,
        "dkms": parse_dkms_status(dkms.stdout) if dkms.rc == 0 else [],
        "dkms_available": dkms.rc != 127,
        "record": record.get(flavour.name, {}),
        "persist": probe.read(PERSIST_PATH),
        "block": probe.read(BLOCK_PATH),
    }


def read_staged(probe, flavour):
    """The kmod role's staged copies of ``flavour``'s built module, for ``state: absent``."""
    paths = []
    for kernel in sorted(probe.listdir(STAGED_DIR) or []):
        path = "%s/%s/%s" % (STAGED_DIR, kernel, flavour.module_file)
        if PATH_COMPONENT.fullmatch(kernel) and probe.exists(path):
            paths.append(path)
    return paths


def _int_or_none(text):
    try:
        return int((text or "").strip())
    except ValueError:
        return None


def persist_content(flavour):
    first, end = flavour.openvpn_versions
    served = "%d.%d%s" % (first[0], first[1], "+" if end is None else "")
    return ("# Managed by ovpnfleet.dco: load the DCO module OpenVPN %s needs at boot.\n%s\n"
            % (served, flavour.modprobe_name))


BLOCK_HEADER = "# Managed by ovpnfleet.dco:"


def block_content(flavour):
    """Keep an older flavour from loading on its own: it would never be used here.

    None when there is none. A newer one is never blocked: OpenVPN 2.7 loads ovpn through its
    alias when it starts, and a blacklist left from the ovpn-dco-v2 days kept it in userspace
    after the reboot into Debian's backports kernel (seen on the lab).
    """
    first = flavour.openvpn_versions[0]
    older = [other for other in GENERATIONS.values()
             if other.name != flavour.name and other.openvpn_versions[1] is not None
             and other.openvpn_versions[1] <= first]
    if not older:
        return None
    return _block_header(flavour) + "".join(
        "blacklist %s\n" % other.modprobe_name.replace("-", "_") for other in older)


def kernel_is_satisfied(method, flavour, kernel, state, request):
    """Whether ``kernel`` already has the module the request asks for, from real state."""
    have = state["kernels"][kernel]
    filename = have["filename"] or ""
    if method == METHOD_INKERNEL:
        return "/kernel/" in filename or filename == "(builtin)"
    if method in (METHOD_PACKAGE, METHOD_DKMS):
        return "/updates/dkms/" in filename and any(
            entry["kernel"] == kernel and entry["state"] == "installed"
            and (method == METHOD_PACKAGE or entry["version"] == request["src_version"])
            for entry in state["dkms"])
    if method == METHOD_ARTIFACT:
        # The same bytes where modprobe looks: whoever built them, nothing to do.
        return bool(filename) and have["sha256"] == request["artifact_sha256"]
    recorded = state["record"].get("kernels", {}).get(kernel, {})
    return (bool(filename) and recorded.get("path") == filename
            and recorded.get("origin_sha256") == request["src_sha256"]
            and recorded.get("sha256") == have["sha256"])


def plan_kmod(request, flavour, method, kernels, state, running_kernel, headers_offered=None):
    """Ordered steps (dicts with ``action`` and a human ``describe``) to reach the request.

    ``headers_offered`` maps a kernel release to the headers version the package manager
    offers (None: not offered), for the error when a build lacks headers.
    """
    if request["state"] == "absent":
        return _plan_absent(flavour, state)
    steps = []
    missing = [k for k in kernels if not kernel_is_satisfied(method, flavour, k, state, request)]
    if method in (METHOD_DKMS, METHOD_SOURCE):
        _check_headers(flavour, [k for k in missing if not state["kernels"][k]["build_dir_exists"]],
                       headers_offered or {})
    if method == METHOD_INKERNEL and missing:
        raise KmodError(
            "find %s in kernel %s: the kernel does not ship it (modinfo found %s); use a kernel "
            ">= 6.16 with CONFIG_OVPN, or method dkms or source with a pinned source."
            % (flavour.modprobe_name, ", ".join(missing),
               ", ".join(state["kernels"][k]["filename"] or "nothing" for k in missing)))
    # Before the package: its postinst runs "dkms install", which leaves our identical file in
    # place and installs nothing of its own (seen on Debian 12 moving from source to package).
    for kernel in missing:
        steps.extend(_replaced_install_steps(method, kernel, state))
    if method == METHOD_PACKAGE and missing:
        steps.append(_step("install_packages", "install %s and headers for %s" % (
            request["package"], ", ".join(missing)),
            packages=["dkms"] + ["linux-headers-%s" % k for k in missing] + [request["package"]]))
    for kernel in missing:
        steps.extend(_install_steps(request, flavour, method, kernel, state))
    if running_kernel in kernels and request["load"]:
        steps.extend(_load_steps(flavour, state, running_kernel, missing))
    if request["persist"] and state["persist"] != persist_content(flavour):
        steps.append(_step("write_file", "persist %s in %s" % (flavour.modprobe_name, PERSIST_PATH),
                           path=PERSIST_PATH, content=persist_content(flavour)))
    block = block_content(flavour)
    if request["block_other_flavour"] and block is not None and state["block"] != block:
        steps.append(_step("write_file", "keep the older flavour from auto-loading (%s)" % BLOCK_PATH,
                           path=BLOCK_PATH, content=block))
    elif block is None and (state["block"] or "").startswith(BLOCK_HEADER):
        steps.append(_step("remove_file", "remove %s: it blacklists a newer flavour, which a newer "
                           "OpenVPN must be able to load" % BLOCK_PATH, path=BLOCK_PATH))
    return steps


def _check_headers(flavour, kernels, headers_offered):
    if not kernels:
        return
    offers = "; ".join(
        "linux-headers-%s %s" % (kernel, ("is offered as %s" % headers_offered[kernel])
                                 if headers_offered.get(kernel) else "is not in the configured repositories")
        for kernel in kernels)
    raise KmodError(
        "build %s for %s: no kernel headers (/lib/modules/RELEASE/build is missing); %s. Install "
        "the exact headers (the kmod role does), or boot a kernel whose headers the repositories "
        "carry." % (flavour.name, ", ".join(kernels), offers))


def _replaced_install_steps(method, kernel, state):
    """A file we installed by source or artifact would shadow a DKMS build: take it away.

    The runner puts it back if a later step fails, so a failed build changes nothing.
    """
    if method not in (METHOD_PACKAGE, METHOD_DKMS):
        return []
    ours = state["record"].get("kernels", {}).get(kernel)
    if not ours or not ours.get("path") or "/updates/dkms/" in ours["path"]:
        return []
    check_installed_module_path(ours["path"], kernel)
    return [_step("remove_ko", "remove %s, installed before by another method" % ours["path"],
                  path=ours["path"], kernel=kernel)]


def _install_steps(request, flavour, method, kernel, state):
    if method == METHOD_PACKAGE:
        # The package's postinst builds for kernels with headers; this covers the others and
        # a build dpkg left at "added".
        return [_step("dkms_install", "build and install %s with DKMS for %s" % (flavour.name, kernel),
                      name=flavour.dkms_name, version=None, kernel=kernel)]
    if method == METHOD_DKMS:
        return [
            _step("dkms_register", "register %s %s with DKMS" % (flavour.dkms_name, request["src_version"]),
                  name=flavour.dkms_name, version=request["src_version"]),
            _step("dkms_install", "build and install %s %s with DKMS for %s" % (
                flavour.name, request["src_version"], kernel),
                name=flavour.dkms_name, version=request["src_version"], kernel=kernel),
        ]
    if method == METHOD_SOURCE:
        return [_step("make_install", "compile %s %s for %s and install it in /lib/modules/%s/%s"
                      % (flavour.name, request["src_version"], kernel, kernel, UPDATES_SUBDIR),
                      kernel=kernel, ko_in_tree=flavour.source_ko)]
    return [_step("artifact_install", "install the prebuilt %s for %s" % (flavour.name, kernel),
                  kernel=kernel)]


def _load_steps(flavour, state, running_kernel, missing):
    fresh_file = running_kernel in missing
    if not state["loaded"]:
        return [_step("modprobe", "load %s" % flavour.modprobe_name, name=flavour.modprobe_name)]
    if fresh_file or (state["loaded_srcversion"] and state["kernels"][running_kernel]["srcversion"]
                      and state["loaded_srcversion"] != state["kernels"][running_kernel]["srcversion"]):
        return [_step("reload", "replace the loaded %s with the installed one" % flavour.module,
                      name=flavour.modprobe_name, module=flavour.module)]
    return []


def _plan_absent(flavour, state):
    steps = []
    if state["loaded"]:
        steps.append(_step("unload", "unload %s" % flavour.module, module=flavour.module,
                           name=flavour.modprobe_name))
    for kernel, entry in sorted(state["record"].get("kernels", {}).items()):
        if not entry.get("path"):
            # modinfo found no file when it was recorded: there is nothing of ours to remove.
            continue
        check_installed_module_path(entry["path"], kernel)
        steps.append(_step("remove_ko", "remove %s from %s" % (entry["path"], kernel),
                           path=entry["path"], kernel=kernel))
    for entry in state["dkms"]:
        if entry["state"] in ("added", "built", "installed"):
            steps.append(_step("dkms_remove", "remove %s/%s from DKMS" % (entry["name"], entry["version"]),
                               name=entry["name"], version=entry["version"]))
            break
    # The role's staged copies: a move to ovpn left a 5 MB ovpn-dco-v2.ko there (lab).
    for path in state.get("staged") or []:
        steps.append(_step("remove_file", "remove the staged %s" % path, path=path))
    # The files are shared by both flavours: only this flavour's content is ours to remove
    # (after a move to ovpn, they persist ovpn and must stay).
    for path, content, ours in ((PERSIST_PATH, state["persist"], persist_content(flavour)),
                                (BLOCK_PATH, state["block"], _block_header(flavour))):
        if content is not None and (content == ours or (path == BLOCK_PATH and content.startswith(ours))):
            steps.append(_step("remove_file", "remove %s" % path, path=path))
    return steps


def _block_header(flavour):
    # The first line names the flavour the host talks to, whatever a version of it blacklisted.
    return "%s this host's OpenVPN talks to %s only.\n" % (BLOCK_HEADER, flavour.module)


def _step(action, describe, **details):
    details.update(action=action, describe=describe)
    return details


def vermagic_release(vermagic):
    """The kernel release a module was built for: the first word of its vermagic."""
    return (vermagic or "").split(" ")[0] or None


def check_host_can_load(recommendation, loadable):
    """Refuse first, with host_info's reasons, a kernel that cannot load any module."""
    if not loadable:
        raise KmodError("install a DCO kernel module: %s" % " ".join(recommendation["reasons"]))


def check_recommendation_allows(recommendation, method):
    """Refuse early when host_info found a blocker this method cannot get around.

    A prebuilt artifact needs no headers, so only it may proceed on an ``unsupported`` host
    (whose reasons are then about building).
    """
    if recommendation["status"] == UNSUPPORTED and method != METHOD_ARTIFACT:
        raise KmodError("install a DCO kernel module: %s" % " ".join(recommendation["reasons"]))


def signatures_required(facts):
    """Whether the running kernel loads only signed modules, and why."""
    reasons = []
    if facts["secure_boot"]["enabled"]:
        reasons.append("Secure Boot is on")
    if facts["lockdown"] in ("integrity", "confidentiality"):
        reasons.append("kernel lockdown is %s" % facts["lockdown"])
    if facts["module_signatures_enforced"]:
        reasons.append("module.sig_enforce is set")
    return reasons


def unsigned_refusal(facts, method, request, flavour_name):
    """Why the kernel would reject the module this method installs unsigned, or None.

    DKMS and distro packages sign with DKMS's own key (its enrolment is host_info's note); a
    module from the kernel's tree is signed by the distribution.
    """
    reasons = signatures_required(facts)
    if method == METHOD_ARTIFACT and request.get("artifact") and os.path.isfile(request["artifact"]) \
            and has_module_signature(request["artifact"]):
        # The group's builder signed it (the kmod role installs members from its cache without
        # the key); whether the kernel trusts that key is the MOK list's, which module_signing reads.
        return None
    if reasons and method in (METHOD_SOURCE, METHOD_ARTIFACT) and not request.get("signing_key"):
        return ("install an unsigned %s: the kernel only loads signed modules (%s); pass signing_key "
                "and signing_cert with a key enrolled in the MOK list, or use method dkms, whose "
                "key DKMS enrols with 'mokutil --import'." % (flavour_name, ", ".join(reasons)))
    return None


def check_signing(facts, method, request):
    """Refuse an unsigned build the kernel would reject at load time."""
    refusal = unsigned_refusal(facts, method, request, request["flavour"])
    if refusal:
        raise KmodError(refusal)
