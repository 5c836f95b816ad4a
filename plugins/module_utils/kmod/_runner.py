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
import zlib

from ansible_collections.ovpnfleet.dco.plugins.module_utils._errors import CommandError
from ansible_collections.ovpnfleet.dco.plugins.module_utils._files import remove_file, write_file
from ansible_collections.ovpnfleet.dco.plugins.module_utils.host._facts import (
    parse_dkms_status,
    parse_modinfo,
)
from ansible_collections.ovpnfleet.dco.plugins.module_utils.kmod._plan import (
    MODULES_ROOT,
    RECORD_PATH,
    UPDATES_SUBDIR,
    KmodError,
    ModuleInUseError,
    check_installed_module_path,
    check_path_component,
    check_relative_path,
    vermagic_release,
)
from ansible_collections.ovpnfleet.dco.plugins.module_utils._probe import (
    SYSTEM_BIN_DIRS,
    CommandResult,
)

try:
    from lzma import LZMAError
except ImportError:  # a Python built without lzma opens no .xz tarball either
    LZMAError = tarfile.CompressionError

BUILD_LOG_TAIL_LINES = 40
# Where DKMS looks for registered source trees; this module owns only the NAME-VERSION trees
# it put there, each marked with SRC_MARKER.
DKMS_SRC_ROOT = "/usr/src"
SRC_MARKER = ".ovpnfleet-src-sha256"
# What reading a broken or truncated archive raises besides tarfile's own errors.
TAR_READ_ERRORS = (tarfile.TarError, OSError, EOFError, zlib.error, LZMAError, ValueError)
# What a step's file work raises; turned into an error that names the step.
STEP_ERRORS = (OSError, ValueError, EOFError, tarfile.TarError)


def os_cause(error):
    """An OSError as "reason (path)", without Python's "[Errno N]" or a "None" for a missing part."""
    if isinstance(error, OSError) and error.strerror:
        return "%s (%s)" % (error.strerror, error.filename) if error.filename else error.strerror
    return str(error) or type(error).__name__


def sha256_of(path):
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    except OSError as error:
        raise KmodError("read %s: %s" % (path, os_cause(error)))
    return digest.hexdigest()


def dkms_conf(flavour, version):
    """dkms.conf for a source tree whose top-level Makefile builds with KERNEL_SRC."""
    return "\n".join([
        'PACKAGE_NAME="%s"' % flavour.dkms_name,
        'PACKAGE_VERSION="%s"' % version,
        'MAKE[0]="make KERNEL_SRC=${kernel_source_dir}"',
        'CLEAN="make KERNEL_SRC=${kernel_source_dir} clean"',
        'BUILT_MODULE_NAME[0]="%s"' % flavour.module_file[:-len(".ko")],
        'BUILT_MODULE_LOCATION[0]="%s"' % flavour.source_dir,
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
                try:
                    getattr(self, "do_" + step["action"])(step)
                except STEP_ERRORS as error:
                    raise KmodError("%s: %s; the steps after it were not run." % (
                        step["describe"], os_cause(error))) from error
        except Exception as error:
            self._put_back_removed(error)
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
        subdir = self.request.get("src_subdir")
        if subdir:
            check_relative_path("src_subdir", subdir)
        unpacked = os.path.join(self._scratch(), "src")
        os.mkdir(unpacked)
        if self.request["src_format"] == "deb":
            self.run(["dpkg-deb", "-x", archive, unpacked], "unpack %s" % archive)
        else:
            _extract_tar(archive, unpacked)
        tree = os.path.join(unpacked, subdir) if subdir else unpacked
        if not _inside(os.path.realpath(tree), os.path.realpath(unpacked)) or not os.path.isdir(tree):
            raise KmodError("find the source tree in %s: it has no directory %s; set src_subdir to "
                            "the directory that holds the Makefile." % (self.request["src"], subdir))
        entries = os.listdir(tree)
        if not subdir and len(entries) == 1 and os.path.isdir(os.path.join(tree, entries[0])):
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
        dest = dkms_source_dir(name, version)
        ours = _read_marker(dest)
        if ours == self.request["src_sha256"]:
            return
        if os.path.lexists(dest) and ours is None:
            raise KmodError(
                "register %s %s with DKMS: %s exists and was not put there by this module (it has "
                "no %s), so it is left alone; remove it (dpkg -S %s names a package that owns it) "
                "or choose another src_version." % (name, version, dest, SRC_MARKER, dest))
        tree = self.source_tree()
        # Built complete next to its place, then renamed into it: no half tree under DKMS's name.
        staging = tempfile.mkdtemp(prefix=".ovpnfleet-", dir=DKMS_SRC_ROOT)
        try:
            staged = os.path.join(staging, "tree")
            shutil.copytree(tree, staged, symlinks=True)
            write_file(self.module, os.path.join(staged, "dkms.conf"), dkms_conf(self.flavour, version))
            write_file(self.module, os.path.join(staged, SRC_MARKER), self.request["src_sha256"] + "\n")
            if ours is not None:
                self.run(["dkms", "remove", "%s/%s" % (name, version), "--all"], "unregister %s" % dest,
                         check=False)
                remove_own_source_tree(dest)
            os.rename(staged, dest)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        self.run(["dkms", "add", "-m", name, "-v", version], "register %s with DKMS" % dest)

    def do_dkms_install(self, step):
        name, kernel = step["name"], check_path_component("kernels", step["kernel"])
        version = check_path_component("src_version", step["version"] or self._dkms_version(name))
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
        kernel = check_path_component("kernels", step["kernel"])
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
        if built_for is None:
            raise KmodError("install %s for kernel %s: modinfo found no vermagic in it; is it a kernel "
                            "module?" % (path, kernel))
        if built_for != kernel:
            raise KmodError("install %s for kernel %s: it was built for %s (vermagic); build it for %s "
                            "or leave %s out of kernels." % (path, kernel, built_for, kernel, kernel))
        self._install_ko(path, kernel, self.request.get("artifact_sha256") or sha256_of(path))

    def _install_ko(self, built, kernel, origin_sha256):
        if self.request.get("signing_key"):
            self._sign(built, kernel)
        dest_dir = "%s/%s/%s" % (MODULES_ROOT, check_path_component("kernels", kernel), UPDATES_SUBDIR)
        dest = os.path.join(dest_dir, check_path_component("artifact", os.path.basename(built)))
        with open(built, "rb") as handle:
            write_file(self.module, dest, handle.read(), mode=0o644)
        self.run(["depmod", "-a", kernel], "index modules of %s" % kernel)
        info = self._modinfo(kernel, self.flavour.modprobe_name)
        if info.get("filename") != dest:
            found = ("would load %s instead; remove that file or its DKMS registration" % info["filename"]
                     if info.get("filename") else "does not find it; check depmod's configuration")
            raise KmodError("install %s for %s: modprobe %s." % (dest, kernel, found))
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
        path, kernel = check_installed_module_path(step["path"], step["kernel"]), step["kernel"]
        if os.path.exists(path):
            kept = os.path.join(self._scratch(), "removed-%d.ko" % len(self._removed))
            shutil.copy2(path, kept)
            self._removed.append((kept, path, kernel, self.record.get("kernels", {}).get(kernel)))
        remove_file(self.module, path)
        self.run(["depmod", "-a", kernel], "index modules of %s" % kernel)
        self.record.get("kernels", {}).pop(kernel, None)

    def _put_back_removed(self, failure):
        """A step failed: the module files this run removed go back where modprobe finds them."""
        lost = []
        for kept, path, kernel, entry in reversed(self._removed):
            try:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                shutil.copy2(kept, path)
            except OSError as error:
                lost.append("%s: %s" % (path, os_cause(error)))
                continue
            self.run(["depmod", "-a", kernel], "index modules of %s" % kernel, check=False)
            if entry:
                self.record.setdefault("kernels", {})[kernel] = entry
        if lost:
            raise KmodError("put back the module files removed before this failure (%s): %s; "
                            "reinstall the module." % (failure, "; ".join(lost))) from failure

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
        try:
            with open(logs[-1], "r", errors="replace") as handle:
                return "\n".join(handle.read().splitlines()[-BUILD_LOG_TAIL_LINES:])
        except OSError as error:
            return "(%s unreadable: %s)" % (logs[-1], os_cause(error))


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


def dkms_source_dir(name, version):
    """/usr/src/NAME-VERSION, from names that cannot climb out of /usr/src."""
    return os.path.join(DKMS_SRC_ROOT, "%s-%s" % (check_path_component("flavour", name),
                                                  check_path_component("src_version", version)))


def _read_marker(tree):
    """The source sha256 this module recorded in ``tree``, or None when the tree is not ours."""
    marker = os.path.join(tree, SRC_MARKER)
    if os.path.islink(tree) or os.path.islink(marker) or not os.path.isfile(marker):
        return None
    try:
        with open(marker, "rb") as handle:
            return handle.read(200).decode("ascii", "replace").strip()
    except OSError as error:
        raise KmodError("read %s: %s" % (marker, os_cause(error)))


def remove_own_source_tree(tree):
    """Remove a tree this module registered: only a real directory directly in DKMS_SRC_ROOT."""
    root = os.path.realpath(DKMS_SRC_ROOT)
    if (os.path.dirname(tree) != DKMS_SRC_ROOT or os.path.islink(tree)
            or os.path.dirname(os.path.realpath(tree)) != root or _read_marker(tree) is None):
        raise KmodError("remove %s: it is not a source tree this module put in %s; left alone."
                        % (tree, DKMS_SRC_ROOT))
    shutil.rmtree(tree)


def _inside(path, root):
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _member_parts(archive, member):
    """The names of a member's path inside the destination; refuses absolute names and "..".

    "./" prefixes and repeated slashes are what tar writes for ``tar -C dir .``: harmless.
    """
    name = member.name
    if name.startswith("/"):
        raise KmodError("unpack %s: member %r has an absolute name; nothing was unpacked." % (archive, name))
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise KmodError("unpack %s: member %r climbs out of the tree with ..; nothing was unpacked."
                        % (archive, name))
    return parts


def _symlink_target(archive, member, parent):
    """Where a symlink points, as names inside the destination; refuses anything else.

    Only leading ".." are allowed, then plain names: a ".." after a name could climb from
    behind another symlink ("lnk/.." is the parent of wherever lnk points), which no check of
    names alone can follow. The link's own directory is made of real directories (members under
    a symlink are refused), so each leading ".." climbs exactly one of them.
    """
    link = member.linkname
    parts = [part for part in link.split("/") if part not in ("", ".")]
    ups = 0
    while ups < len(parts) and parts[ups] == "..":
        ups += 1
    if not link or link.startswith("/") or ".." in parts[ups:] or ups > len(parent):
        raise KmodError("unpack %s: symlink %r points to %r, outside the tree or through \"..\" after "
                        "a name; nothing was unpacked." % (archive, member.name, link))
    return list(parent[:len(parent) - ups]) + parts[ups:]


def check_tar_members(archive, members):
    """Refuse the whole archive if any member could write, link or point outside the tree.

    One check for every Python: it runs before extraction, also where tarfile's "data" filter
    exists (that filter then checks again while it writes, but may stop halfway).
    """
    kinds = {(): "dir"}
    for member in members:
        parts = tuple(_member_parts(archive, member))
        if member.isdir():
            kind = "dir"
        elif member.issym():
            kind = "symlink"
        elif member.islnk():
            kind = "hardlink"
        elif member.isreg():
            kind = "file"
        else:
            raise KmodError("unpack %s: member %r is a device, FIFO or other special file; a source "
                            "tree has none; nothing was unpacked." % (archive, member.name))
        for depth in range(len(parts)):
            above = kinds.setdefault(parts[:depth], "dir")
            if above != "dir":
                raise KmodError("unpack %s: member %r lies under %r, which is a %s in the archive; "
                                "nothing was unpacked." % (archive, member.name, "/".join(parts[:depth]), above))
        if parts in kinds and not (kind == "dir" and kinds[parts] == "dir"):
            # A second member of one name writes through the first (a file over a symlink or a
            # hard link writes where that points).
            raise KmodError("unpack %s: member %r replaces an earlier %s of that name; nothing was "
                            "unpacked." % (archive, member.name, kinds[parts]))
        if kind == "symlink":
            _symlink_target(archive, member, parts[:-1])
        elif kind == "hardlink":
            # tar names a hard link's target from the top of the archive, not from the link.
            target = [part for part in member.linkname.split("/") if part not in ("", ".")]
            if kinds.get(tuple(target)) != "file" or member.linkname.startswith("/") or ".." in target:
                raise KmodError("unpack %s: hard link %r points to %r, which is not a regular file "
                                "earlier in the archive; nothing was unpacked."
                                % (archive, member.name, member.linkname))
        kinds[parts] = kind
        _plain_attributes(member)


def _plain_attributes(member):
    """Owned by root, no set-id bits, not writable by others: what the "data" filter also does."""
    member.uid = member.gid = 0
    member.uname = member.gname = "root"
    if member.isdir():
        member.mode = (member.mode & 0o755) | 0o700
    elif member.isreg() or member.islnk():
        member.mode = (member.mode & 0o755) | 0o600


def _extract_tar(archive, dest):
    """Unpack a tarball into the empty ``dest``; nothing is written unless every member passes."""
    try:
        tar = tarfile.open(archive)
    except TAR_READ_ERRORS as error:
        raise KmodError("unpack %s: it is not a tarball (plain, gzip, bzip2 or xz) that Python can "
                        "read (%s); check src_format, or fetch it again."
                        % (archive, os_cause(error).splitlines()[0].rstrip(":"))) from error
    try:
        with tar:
            members = tar.getmembers()
            check_tar_members(archive, members)
            if hasattr(tarfile, "data_filter"):
                tar.extractall(dest, members=members, filter="data")
            else:
                # Python before 3.11.4 (Debian 12 ships 3.11.2) has no extraction filters: the
                # check above is all there is.
                tar.extractall(dest, members=members)
    except TAR_READ_ERRORS as error:
        raise KmodError("unpack %s: %s; is the file complete? Fetch it again."
                        % (archive, os_cause(error).splitlines()[0])) from error
