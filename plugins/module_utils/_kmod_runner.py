# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Carry out the steps ``_kmod.plan_kmod`` chose, on the host, through one command seam.

Everything that builds happens before anything that replaces a loaded module, so a failed
build leaves the previous module loaded and its tunnels up.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import tarfile
import tempfile

from ansible_collections.ovpnfleet.dco.plugins.module_utils._errors import CommandError
from ansible_collections.ovpnfleet.dco.plugins.module_utils._files import remove_file, write_file
from ansible_collections.ovpnfleet.dco.plugins.module_utils._host_facts import (
    parse_dkms_status,
    parse_modinfo,
)
from ansible_collections.ovpnfleet.dco.plugins.module_utils._kmod import (
    RECORD_PATH,
    UPDATES_SUBDIR,
    KmodError,
    ModuleInUseError,
    vermagic_release,
)
from ansible_collections.ovpnfleet.dco.plugins.module_utils._probe import (
    SYSTEM_BIN_DIRS,
    CommandResult,
)

BUILD_LOG_TAIL_LINES = 40


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def dkms_conf(flavour, version):
    """dkms.conf for a source tree whose top-level Makefile builds with KERNEL_SRC."""
    built = {"ovpn-dco-v2": ("ovpn-dco-v2", "drivers/net/ovpn-dco"),
             "ovpn": ("ovpn", "drivers/net/ovpn")}[flavour.name]
    return "\n".join([
        'PACKAGE_NAME="%s"' % flavour.dkms_name,
        'PACKAGE_VERSION="%s"' % version,
        'MAKE[0]="make KERNEL_SRC=${kernel_source_dir}"',
        'CLEAN="make KERNEL_SRC=${kernel_source_dir} clean"',
        'BUILT_MODULE_NAME[0]="%s"' % built[0],
        'BUILT_MODULE_LOCATION[0]="%s"' % built[1],
        'DEST_MODULE_LOCATION[0]="/updates/dkms"',
        'AUTOINSTALL="yes"',
        "",
    ])


class KmodRunner:
    def __init__(self, module, flavour, request):
        self.module = module
        self.flavour = flavour
        self.request = request
        self.record = {}
        self.artifacts = []
        self._source_tree = None
        self._work = None
        # Module files removed by this run, kept until it succeeds: (kept copy, path, kernel, record entry).
        self._removed = []

    # The command seam: every program runs here, in the C locale, failing loudly.
    def run(self, argv, action, check=True, cwd=None):
        binary = self.module.get_bin_path(argv[0], opt_dirs=SYSTEM_BIN_DIRS)
        if binary is None:
            raise KmodError("%s: %s is not installed" % (action, argv[0]))
        rc, out, err = self.module.run_command([binary] + list(argv[1:]), cwd=cwd,
                                               environ_update={"LC_ALL": "C", "LANG": "C"})
        if check and rc != 0:
            raise CommandError("%s: %s exited %d" % (action, argv[0], rc), [binary] + list(argv[1:]),
                               rc, out, err)
        return rc, out, err

    def execute(self, steps, record):
        self.record = record
        try:
            for step in steps:
                getattr(self, "do_" + step["action"])(step)
        except Exception:
            self._put_back_removed()
            raise
        finally:
            if self._work:
                shutil.rmtree(self._work, ignore_errors=True)
        return self.artifacts

    def _scratch(self):
        """This run's own directory, removed when it ends."""
        if not self._work:
            self._work = tempfile.mkdtemp(prefix="ovpnfleet-kmod-")
        return self._work

    # Sources -------------------------------------------------------------------------------
    def source_tree(self):
        """Unpack the checked source once; its sha256 is verified before anything is unpacked."""
        if self._source_tree:
            return self._source_tree
        archive = self.request["src"]
        if archive.startswith(("http://", "https://")):
            archive = self._download(archive)
        actual = sha256_of(archive)
        if actual != self.request["src_sha256"].lower():
            raise KmodError("check %s: sha256 is %s, expected %s; nothing was unpacked. Fetch "
                            "the file again or fix src_sha256." % (self.request["src"], actual,
                                                                   self.request["src_sha256"]))
        unpacked = os.path.join(self._scratch(), "src")
        os.mkdir(unpacked)
        if self.request["src_format"] == "deb":
            self.run(["dpkg-deb", "-x", archive, unpacked], "unpack %s" % archive)
        else:
            _extract_tar(archive, unpacked)
        tree = os.path.join(unpacked, self.request["src_subdir"]) if self.request["src_subdir"] else unpacked
        entries = os.listdir(tree)
        if not self.request["src_subdir"] and len(entries) == 1 and os.path.isdir(os.path.join(tree, entries[0])):
            tree = os.path.join(tree, entries[0])
        if not os.path.exists(os.path.join(tree, "Makefile")):
            raise KmodError("find the source tree in %s: no Makefile at %s; set src_subdir."
                            % (self.request["src"], os.path.relpath(tree, unpacked)))
        self._source_tree = tree
        return tree

    def _download(self, url):
        from ansible.module_utils.urls import fetch_url

        response, info = fetch_url(self.module, url, timeout=60)
        if info["status"] != 200:
            raise KmodError("download %s: HTTP %s %s" % (url, info["status"], info.get("msg", "")))
        path = os.path.join(self._scratch(), "download")
        with open(path, "wb") as handle:
            shutil.copyfileobj(response, handle)
        return path

    # Steps ---------------------------------------------------------------------------------
    def do_install_packages(self, step):
        wanted = step["packages"]
        before = self._installed_packages(wanted)
        argv = ["apt-get", "install", "-y", "--no-install-recommends"] + wanted
        rc, out, err = self.run(argv, "install %s" % " ".join(wanted), check=False)
        if rc == 0:
            return
        # A DKMS build failing in a postinst (the package's, or a kernel hook's when headers
        # arrive) leaves packages half-configured and apt refusing further work. Take out only
        # what this step added and dpkg could not configure: removing a package that was already
        # there (openvpn-dco-dkms) would delete the module the running kernel uses.
        broken = self._half_installed([name for name in wanted if name not in before])
        for name in broken:
            self.run(["dpkg", "--remove", "--force-remove-reinstreq", name],
                     "remove the half-installed %s" % name, check=False)
        raise CommandError("install %s: apt-get exited %d; removed again so apt keeps working: %s. "
                           "The loaded module was not touched. DKMS build log tail:\n%s" % (
                               " ".join(wanted), rc, ", ".join(broken) or "nothing",
                               self._dkms_log_tail()),
                           argv, rc, out, err)

    def _installed_packages(self, names):
        """Which of ``names`` dpkg has fully installed and configured."""
        return {name for name, status in self._dpkg_status(names) if status == "installed"}

    def _half_installed(self, names):
        """Which of ``names`` dpkg unpacked but could not configure (not those apt never found)."""
        return [name for name, status in self._dpkg_status(names)
                if status not in ("installed", "not-installed", "config-files")]

    def _dpkg_status(self, names):
        if not names:
            return []
        _rc, out, _err = self.run(["dpkg-query", "-W", "-f=${Package} ${db:Status-Status}\n"] + list(names),
                                  "ask dpkg", check=False)
        return [tuple(line.split(" ", 1)) for line in out.splitlines() if " " in line]

    def do_dkms_register(self, step):
        name, version = step["name"], step["version"]
        dest = "/usr/src/%s-%s" % (name, version)
        marker = os.path.join(dest, ".ovpnfleet-src-sha256")
        if os.path.exists(marker) and open(marker).read().strip() == self.request["src_sha256"]:
            return
        tree = self.source_tree()
        if os.path.exists(dest):
            self.run(["dkms", "remove", "%s/%s" % (name, version), "--all"], "unregister %s" % dest,
                     check=False)
            shutil.rmtree(dest)
        shutil.copytree(tree, dest, symlinks=True)
        write_file(self.module, os.path.join(dest, "dkms.conf"), dkms_conf(self.flavour, version))
        write_file(self.module, marker, self.request["src_sha256"] + "\n")
        self.run(["dkms", "add", "-m", name, "-v", version], "register %s with DKMS" % dest)

    def do_dkms_install(self, step):
        name, kernel = step["name"], step["kernel"]
        version = step["version"] or self._dkms_version(name)
        # A package's postinst may have built and installed already: do only what is missing.
        done = self._dkms_state(name, version, kernel)
        verbs = {"installed": [], "built": ["install"]}.get(done, ["build", "install"])
        for verb in verbs:
            argv = ["dkms", verb, "-m", name, "-v", version, "-k", kernel]
            rc, out, err = self.run(argv, "%s %s for %s" % (verb, name, kernel), check=False)
            if rc != 0:
                raise CommandError("%s %s/%s for %s: dkms exited %d; the loaded module was not "
                                   "touched. Build log tail:\n%s" % (
                                       verb, name, version, kernel, rc, self._dkms_log_tail(version)),
                                   argv, rc, out, err)
        self._remember(kernel, self._modinfo(kernel, self.flavour.modprobe_name), self.request.get("src_sha256"))

    def _dkms_state(self, name, version, kernel):
        _rc, out, _err = self.run(["dkms", "status", "-m", name, "-v", version, "-k", kernel],
                                  "ask DKMS about %s/%s" % (name, version), check=False)
        states = [entry["state"] for entry in parse_dkms_status(out) if entry["kernel"] == kernel]
        return states[0] if states else None

    def do_make_install(self, step):
        kernel = step["kernel"]
        tree = self.source_tree()
        build = os.path.join(self._scratch(), "build-" + kernel)
        shutil.copytree(tree, build, symlinks=True)
        argv = ["make", "-j%d" % max(1, os.cpu_count() or 1), "KERNEL_SRC=/lib/modules/%s/build" % kernel]
        rc, out, err = self.run(argv, "compile %s for %s" % (self.flavour.name, kernel), check=False, cwd=build)
        built = os.path.join(build, step["ko_in_tree"])
        if rc != 0 or not os.path.exists(built):
            tail = "\n".join((out + err).splitlines()[-BUILD_LOG_TAIL_LINES:])
            raise CommandError("compile %s for %s: make exited %d; the loaded module was not "
                               "touched. Build log tail:\n%s" % (self.flavour.name, kernel, rc, tail),
                               argv, rc, out, err)
        self._install_ko(built, kernel, self.request["src_sha256"])

    def do_artifact_install(self, step):
        kernel = step["kernel"]
        path = self.request["artifact"]
        if self.request.get("artifact_sha256") and sha256_of(path) != self.request["artifact_sha256"]:
            raise KmodError("check %s: its sha256 is not artifact_sha256; nothing was installed." % path)
        built_for = vermagic_release(self._modinfo_file(path).get("vermagic"))
        if built_for != kernel:
            raise KmodError("install %s for kernel %s: it was built for %s (vermagic); build it for %s "
                            "or leave %s out of kernels." % (path, kernel, built_for, kernel, kernel))
        self._install_ko(path, kernel, self.request.get("artifact_sha256") or sha256_of(path))

    def _install_ko(self, built, kernel, origin_sha256):
        if self.request.get("signing_key"):
            self._sign(built, kernel)
        dest_dir = "/lib/modules/%s/%s" % (kernel, UPDATES_SUBDIR)
        dest = os.path.join(dest_dir, os.path.basename(built))
        with open(built, "rb") as handle:
            write_file(self.module, dest, handle.read(), mode=0o644)
        self.run(["depmod", "-a", kernel], "index modules of %s" % kernel)
        info = self._modinfo(kernel, self.flavour.modprobe_name)
        if info.get("filename") != dest:
            raise KmodError("install %s for %s: modprobe would load %s instead; remove that file or "
                            "its DKMS registration." % (dest, kernel, info.get("filename")))
        self._remember(kernel, info, origin_sha256)

    def _sign(self, path, kernel):
        sign_file = "/lib/modules/%s/build/scripts/sign-file" % kernel
        if not os.path.exists(sign_file):
            raise KmodError("sign %s: %s is missing; install linux-headers-%s." % (path, sign_file, kernel))
        self.run([sign_file, "sha256", self.request["signing_key"], self.request["signing_cert"], path],
                 "sign %s" % path)

    def do_modprobe(self, step):
        self.run(["modprobe", step["name"]], "load %s" % step["name"])

    def do_reload(self, step):
        self.do_unload(step)
        self.run(["modprobe", step["name"]], "load %s" % step["name"])

    def do_unload(self, step):
        self.ensure_unused(step["module"])
        # By the loaded name: "modprobe -r" looks the name up in the index first and fails
        # when the file it was loaded from is gone (replaced by another method's file).
        self.run(["rmmod", step["module"]], "unload %s" % step["module"])

    def ensure_unused(self, module_name):
        """Refuse to unload a module that an OpenVPN process or a tunnel device may use.

        The refcount alone does not tell: ovpn-dco-v2 keeps 0 while its devices carry
        traffic, and unloading it destroys them (seen on Debian 12, 6.1.0-56). So any
        running openvpn process and any device of the module's link kind, in any network
        namespace, count as users.
        """
        users = ["%s (pid %s)" % (cmdline, pid) for pid, cmdline in running_openvpn()]
        users += ["device %s" % name for name in self.devices_of_kind(self.flavour.link_kind)]
        if users:
            raise ModuleInUseError(
                "replace %s: it may be in use by %s; stop those OpenVPN instances first (the "
                "kmod role does with kmod_when_in_use: restart)." % (module_name, "; ".join(users)))

    def devices_of_kind(self, link_kind):
        """Devices of ``link_kind`` in every network namespace (tunnels often live in one)."""
        names = set()
        for pid in network_namespaces().values():
            _rc, out, _err = self.run(["nsenter", "--net=/proc/%s/ns/net" % pid, "ip", "-o", "link",
                                       "show", "type", link_kind], "list %s devices" % link_kind, check=False)
            names.update(line.split(":")[1].strip().split("@")[0] for line in out.splitlines() if ":" in line)
        return sorted(names)

    def do_write_file(self, step):
        write_file(self.module, step["path"], step["content"])

    def do_remove_file(self, step):
        remove_file(self.module, step["path"])

    def do_remove_ko(self, step):
        path, kernel = step["path"], step["kernel"]
        if os.path.exists(path):
            kept = os.path.join(self._scratch(), "removed-%d.ko" % len(self._removed))
            shutil.copy2(path, kept)
            self._removed.append((kept, path, kernel, self.record.get("kernels", {}).get(kernel)))
        remove_file(self.module, path)
        self.run(["depmod", "-a", kernel], "index modules of %s" % kernel)
        self.record.get("kernels", {}).pop(kernel, None)

    def _put_back_removed(self):
        """A step failed: the module files this run removed go back where modprobe finds them."""
        for kept, path, kernel, entry in reversed(self._removed):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            shutil.copy2(kept, path)
            self.run(["depmod", "-a", kernel], "index modules of %s" % kernel, check=False)
            if entry:
                self.record.setdefault("kernels", {})[kernel] = entry

    def do_dkms_remove(self, step):
        self.run(["dkms", "remove", "%s/%s" % (step["name"], step["version"]), "--all"],
                 "remove %s/%s from DKMS" % (step["name"], step["version"]))

    # Helpers -------------------------------------------------------------------------------
    def _remember(self, kernel, info, origin_sha256):
        path = info.get("filename")
        entry = {"path": path, "origin_sha256": origin_sha256, "srcversion": info.get("srcversion"),
                 "vermagic": info.get("vermagic"), "sha256": sha256_of(path) if path else None}
        self.record.setdefault("kernels", {})[kernel] = entry
        self.artifacts.append(dict(entry, kernel=kernel))

    def save_record(self, all_records):
        all_records[self.flavour.name] = self.record
        write_file(self.module, RECORD_PATH, json.dumps(all_records, indent=1, sort_keys=True) + "\n")

    def _modinfo(self, kernel, name):
        return parse_modinfo(CommandResult(*self.run(["modinfo", "-k", kernel, name],
                                                     "inspect %s" % name, check=False)))

    def _modinfo_file(self, path):
        return parse_modinfo(CommandResult(*self.run(["modinfo", path], "inspect %s" % path)))

    def _dkms_version(self, name):
        _rc, out, _err = self.run(["dkms", "status", "-m", name], "list DKMS %s" % name, check=False)
        for line in out.splitlines():
            head = line.split(",")[0]
            if "/" in head:
                return head.split("/", 1)[1].strip()
        raise KmodError("build %s with DKMS: the package registered no %s tree (dkms status is empty)."
                        % (name, name))

    def _dkms_log_tail(self, version="*"):
        logs = sorted(glob.glob("/var/lib/dkms/%s/%s/build/make.log" % (self.flavour.dkms_name, version)))
        if not logs:
            return "(no DKMS make.log found)"
        with open(logs[-1], "r", errors="replace") as handle:
            return "\n".join(handle.read().splitlines()[-BUILD_LOG_TAIL_LINES:])


def running_openvpn():
    """``(pid, cmdline)`` of every running openvpn process, from /proc."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as handle:
                argv = handle.read().split(b"\0")
        except OSError:
            continue
        if argv and os.path.basename(argv[0]) == b"openvpn":
            found.append((pid, b" ".join(part for part in argv if part).decode(errors="replace")))
    return found


def network_namespaces():
    """One process per distinct network namespace on the host: ``{netns inode: pid}``."""
    namespaces = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            namespaces.setdefault(os.stat("/proc/%s/ns/net" % pid).st_ino, pid)
        except OSError:
            continue
    return namespaces


def _extract_tar(archive, dest):
    """Unpack a tarball, refusing members that would land outside ``dest``."""
    with tarfile.open(archive) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(dest, filter="data")
            return
        # Python before 3.11.4 (Debian 12 ships 3.11.2) has no extraction filters.
        root = os.path.realpath(dest)
        for member in tar.getmembers():
            target = os.path.realpath(os.path.join(dest, member.name))
            if not target.startswith(root + os.sep) or member.issym() and os.path.isabs(member.linkname):
                raise KmodError("unpack %s: member %s points outside the tree" % (archive, member.name))
            if member.isdev():
                raise KmodError("unpack %s: member %s is a device file" % (archive, member.name))
        tar.extractall(dest)
