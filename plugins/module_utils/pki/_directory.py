# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One run of the pki module over one directory: read and check everything, plan, then write.

Nothing is written until every input and every file already there has been read and checked,
so a bad option, a foreign CA key or a damaged file fails the run with the directory exactly as
it was. Writes then go in an order a cut-short run can recover from: keys before their
certificates, revocations recorded (revoked/, CRL, index.json) before files are removed.
"""

from __future__ import annotations

import json
import os
import stat

from ansible_collections.ovpnfleet.dco.plugins.module_utils._files import remove_file, write_file
from ansible_collections.ovpnfleet.dco.plugins.module_utils.pki import _certificates as pki
from ansible_collections.ovpnfleet.dco.plugins.module_utils.pki import _tls_crypt as tls_crypt

PRIVATE_DIRS = ("private", "servers", "clients", "tls-crypt-v2", "tls-crypt-v2/clients")
PUBLIC_DIRS = ("revoked",)
# Directories whose *.key files are private keys, next to the single key files.
KEY_DIRS = ("servers", "clients", "tls-crypt-v2/clients")
KEY_FILES = ("private/ca.key", "tls-crypt.key", "tls-crypt-v2/server.key")
# PEM files are a few kB; a cap keeps a wrong path (a disk image, /dev/zero) from being read whole.
MAX_FILE_BYTES = 1024 * 1024
SECRET_MODE, PRIVATE_DIR_MODE, PUBLIC_MODE = 0o600, 0o700, 0o644
# Group or other may do anything at all.
LOOSE = 0o077


def read_text(path, what, missing_ok=False):
    """A small ASCII file, or None when it is missing and ``missing_ok``.

    Opened without blocking and checked on the open descriptor, so a FIFO or a device in its
    place is refused instead of hanging or filling memory. Errors name the file, never its content.
    """
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        if missing_ok:
            return None
        raise pki.PkiError("read %s %s: no such file; check the path" % (what, path))
    except OSError as error:
        raise pki.PkiError("read %s %s: %s" % (what, path, error.strerror))
    try:
        with os.fdopen(descriptor, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise pki.PkiError("read %s %s: not a regular file; put the file there or remove what is there" % (what, path))
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        raise pki.PkiError("read %s %s: %s" % (what, path, error.strerror))
    if len(data) > MAX_FILE_BYTES:
        raise pki.PkiError("read %s %s: larger than %d bytes, so not a PEM file; check the path" % (what, path, MAX_FILE_BYTES))
    try:
        return data.decode("ascii")
    except UnicodeDecodeError:
        raise pki.PkiError("read %s %s: not ASCII text, so not a PEM file; replace or remove it" % (what, path))


class PkiDirectory:
    """Reads of one PKI directory; every path it hands out is inside it."""

    def __init__(self, path):
        self.path = path

    def file(self, relative):
        return os.path.join(self.path, relative)

    def read(self, relative, what):
        return read_text(self.file(relative), what, missing_ok=True)

    def mode(self, relative, directory=False):
        """The permission bits of a file or directory, None when missing; refuses the wrong kind."""
        try:
            info = os.stat(self.file(relative))
        except FileNotFoundError:
            return None
        except OSError as error:
            raise pki.PkiError("read %s: %s" % (self.file(relative), error.strerror))
        if directory and not stat.S_ISDIR(info.st_mode):
            raise pki.PkiError("use %s: not a directory; the PKI layout has a directory there, move the file away"
                               % self.file(relative))
        if not directory and stat.S_ISDIR(info.st_mode):
            raise pki.PkiError("use %s: a directory where the PKI layout has a file; move it away" % self.file(relative))
        return stat.S_IMODE(info.st_mode)

    def check_layout(self):
        """The directory and its subdirectories are directories where they exist."""
        try:
            info = os.stat(self.path)
        except FileNotFoundError:
            return
        except OSError as error:
            raise pki.PkiError("use PKI directory %s: %s" % (self.path, error.strerror))
        if not stat.S_ISDIR(info.st_mode):
            raise pki.PkiError("use PKI directory %s: not a directory; point path at a directory" % self.path)
        for relative in PRIVATE_DIRS + PUBLIC_DIRS:
            self.mode(relative, directory=True)

    def listing(self, relative, suffix):
        """Names of the files ending in ``suffix`` in a subdirectory, without the suffix."""
        try:
            entries = os.listdir(self.file(relative))
        except FileNotFoundError:
            return []
        except OSError as error:
            raise pki.PkiError("list %s: %s" % (self.file(relative), error.strerror))
        return sorted(entry[:-len(suffix)] for entry in entries if entry.endswith(suffix) and len(entry) > len(suffix))


class Plan:
    """What a run will do, decided before anything is done."""

    def __init__(self):
        self.writes = []
        self.removes = []
        self.modes = []
        self.warnings = []

    def write(self, relative, text, secret=False):
        self.writes.append((relative, text, secret))

    def touched(self):
        return set(relative for relative, _text, _secret in self.writes) | set(self.removes)


def check_params(params):
    """Every option, before anything is read or written."""
    renew = params["renew_before_days"]
    if not 0 <= renew < pki.MAX_DAYS:
        raise pki.PkiError("check renew_before_days (%r): use 0 to %d" % (renew, pki.MAX_DAYS - 1))
    if not 2048 <= params["rsa_bits"] <= 16384:
        raise pki.PkiError("check rsa_bits (%r): use 2048 to 16384 (OpenSSL 3 refuses smaller keys at its default level)"
                           % params["rsa_bits"])
    ca = params["ca"]
    pki.check_days(ca["valid_days"], "ca.valid_days", renew)
    pki.check_days(params["crl_valid_days"], "crl_valid_days", renew)
    pki.check_common_name(ca["common_name"], "ca.common_name")
    if ca["renew"] and ca["cert_path"]:
        raise pki.PkiError("renew CA %s: it is a CA of your own; renew it where it was made, or drop ca.renew" % ca["cert_path"])
    asked = []
    for kind in pki.KINDS:
        for item in params[kind + "s"]:
            pki.check_name(item["name"], "%s name" % kind)
            what = "%s %s" % (kind, item["name"])
            pki.check_common_name(item["common_name"] or item["name"], "common_name of " + what)
            pki.check_days(item["valid_days"], "valid_days of " + what, renew)
            for alt_name in item["subject_alt_names"]:
                pki.check_alt_name(alt_name)
            asked.append((kind, item["name"]))
    for entry in params["revoked"]:
        pki.check_name(entry["name"], "revoked name")
        if (entry["kind"], entry["name"]) in asked:
            raise pki.PkiError("%s %s is both asked for and revoked: drop it from one of the lists" % (entry["kind"], entry["name"]))
    if len(set(asked)) != len(asked):
        raise pki.PkiError("a name appears twice in servers or clients: %s" % sorted(set(item for item in asked if asked.count(item) > 1)))


def read_index(directory):
    """index.json: the CRL number and the revoked certificates, checked entry by entry."""
    path = directory.file("index.json")
    text = directory.read("index.json", "index")
    if text is None:
        return {"crl_number": 0, "revoked": []}
    try:
        index = json.loads(text)
    except ValueError:
        raise pki.PkiError("read index %s: not JSON; restore it from a backup (the CRL is built from it)" % path)
    problem = _index_problem(index)
    if problem:
        raise pki.PkiError("read index %s: %s; restore it from a backup (the CRL is built from it)" % (path, problem))
    return index


def _index_problem(index):
    if not isinstance(index, dict) or not isinstance(index.get("revoked"), list):
        return "not an object with a list 'revoked'"
    number = index.get("crl_number")
    if not isinstance(number, int) or isinstance(number, bool) or number < 0:
        return "'crl_number' is not a whole number"
    for position, record in enumerate(index["revoked"]):
        try:
            if record["kind"] not in pki.KINDS or not pki.NAME.fullmatch(record["name"]):
                raise ValueError
            if "%x" % int(record["serial"], 16) != record["serial"]:
                raise ValueError
            pki.parse_date(record["date"])
        except (KeyError, TypeError, ValueError):
            return "revoked entry %d is not {kind, name, serial (hex), date (ISO 8601)}" % position
    return None


def plan_ca(directory, params, now, plan):
    """The CA certificate and key, checked; a new or renewed CA is planned, never written here."""
    wanted, renew_before = params["ca"], params["renew_before_days"]
    if wanted["cert_path"]:
        cert_text = read_text(wanted["cert_path"], "CA certificate")
        key = pki.load_private_key(read_text(wanted["key_path"], "CA key"), wanted["key_path"])
        cert = pki.load_certificate(cert_text, wanted["cert_path"])
        how_to_renew = "renew it where it was made and point ca.cert_path at the new certificate"
        _check_ca(cert, key, wanted["cert_path"], now, how_to_renew)
        if pki.days_left(cert, now) < renew_before:
            plan.warnings.append(_expiry_warning(wanted["cert_path"], cert, now, renew_before, how_to_renew))
        _warn_loose_own_key(wanted["key_path"], plan)
        reasons = [] if directory.read("ca.crt", "CA certificate") == cert_text else ["copied from ca.cert_path"]
        plan.write("ca.crt", cert_text)
        return cert, key, _ca_summary(directory, cert, reasons, now)
    cert_text = directory.read("ca.crt", "CA certificate")
    key_text = directory.read("private/ca.key", "CA key")
    if cert_text is None and key_text is None:
        key = pki.new_private_key(params["key_type"], params["rsa_bits"])
        cert = pki.build_ca(key, wanted["common_name"], wanted["valid_days"], now)
        plan.write("private/ca.key", pki.private_key_pem(key), secret=True)
        plan.write("ca.crt", pki.certificate_pem(cert))
        return cert, key, _ca_summary(directory, cert, ["missing"], now)
    if cert_text is None or key_text is None:
        there, gone = ("private/ca.key", "ca.crt") if cert_text is None else ("ca.crt", "private/ca.key")
        raise pki.PkiError("use CA %s: %s is missing; restore it from a backup, or remove %s too to start a new CA "
                           "(every certificate is then reissued)" % (directory.path, directory.file(gone), directory.file(there)))
    key = pki.load_private_key(key_text, directory.file("private/ca.key"))
    cert = pki.load_certificate(cert_text, directory.file("ca.crt"))
    path = directory.file("ca.crt")
    problem = pki.ca_problem(cert, key, now)
    if problem:
        raise pki.PkiError("use CA %s: %s" % (path, problem))
    if pki.days_left(cert, now) >= renew_before:
        return cert, key, _ca_summary(directory, cert, [], now)
    if not wanted["renew"]:
        # Not renewed behind the operator's back: a renewed CA must reach every peer.
        _check_ca(cert, key, path, now, "set ca.renew: true to renew it with the same key")
        plan.warnings.append(_expiry_warning(path, cert, now, renew_before, "set ca.renew: true to renew it with the same key"))
        return cert, key, _ca_summary(directory, cert, [], now)
    reasons = ["renewed with the same key: %s (renew_before_days %d)" % (_expiry_text(cert, now), renew_before)]
    cert = pki.renew_ca(cert, key, wanted["valid_days"], now)
    plan.write("ca.crt", pki.certificate_pem(cert))
    plan.warnings.append("CA %s renewed: hand the new ca.crt to every server and client before the old one expires" % path)
    return cert, key, _ca_summary(directory, cert, reasons, now)


def _check_ca(cert, key, path, now, how_to_renew):
    problem = pki.ca_problem(cert, key, now)
    if problem:
        raise pki.PkiError("use CA %s: %s" % (path, problem))
    if pki.not_after(cert) <= now:
        raise pki.PkiError("use CA %s: it expired on %s; %s" % (path, pki.not_after(cert).isoformat(), how_to_renew))


def _expiry_text(cert, now):
    if pki.not_after(cert) <= now:
        return "expired on %s" % pki.not_after(cert).isoformat()
    return "expires in %d days" % pki.days_left(cert, now)


def _expiry_warning(path, cert, now, renew_before, how_to_renew):
    return ("CA %s %s (renew_before_days %d): every certificate it issued ends with it and cannot be renewed "
            "past it; %s" % (path, _expiry_text(cert, now), renew_before, how_to_renew))


def _warn_loose_own_key(path, plan):
    # A CA key of your own is not ours to chmod; say so rather than pass silently.
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return
    if mode & LOOSE:
        plan.warnings.append("CA key %s is mode %04o: other users can read it; chmod 600 it" % (path, mode))


def _ca_summary(directory, cert, reasons, now):
    return {"path": directory.file("ca.crt"), "changed": bool(reasons), "reasons": reasons,
            "common_name": pki.common_name_of(cert), "not_after": pki.not_after(cert).isoformat(),
            "days_left": pki.days_left(cert, now)}


def plan_revocations(directory, params, index, now, plan):
    for entry in params["revoked"]:
        kind, name = entry["kind"], entry["name"]
        relative = "%ss/%s" % (kind, name)
        cert_text = directory.read(relative + ".crt", "certificate")
        if cert_text is None:
            if any(record["kind"] == kind and record["name"] == name for record in index["revoked"]):
                continue
            raise pki.PkiError("revoke %s %r: %s has no such certificate; %s"
                               % (kind, name, directory.path, _known_names(directory, index, kind, name)))
        cert = pki.load_certificate(cert_text, directory.file(relative + ".crt"))
        serial = "%x" % cert.serial_number
        if serial not in [record["serial"] for record in index["revoked"]]:
            index["revoked"].append({"kind": kind, "name": name, "serial": serial,
                                     "date": now.replace(microsecond=0).isoformat()})
        plan.write("revoked/%s-%s-%s.crt" % (kind, name, serial), cert_text)
        plan.removes.extend([relative + ".key", relative + ".crt"])
        if kind == "client":
            plan.removes.append("tls-crypt-v2/clients/%s.key" % name)


def _known_names(directory, index, kind, name):
    def known(of_kind):
        return sorted(set(directory.listing(of_kind + "s", ".crt"))
                      | set(record["name"] for record in index["revoked"] if record["kind"] == of_kind))

    names = known(kind)
    text = "known %ss: %s" % (kind, ", ".join(names) if names else "none")
    other = [other for other in pki.KINDS if other != kind and name in known(other)]
    if other:
        text += "; %r is a %s: set kind: %s" % (name, other[0], other[0])
    return text


def plan_leaf(directory, params, kind, item, ca_cert, ca_key, now, plan):
    wanted = dict(item, common_name=item["common_name"] or item["name"])
    relative = "%ss/%s" % (kind, item["name"])
    cert_text = directory.read(relative + ".crt", "certificate")
    key_text = directory.read(relative + ".key", "private key")
    cert = pki.load_certificate(cert_text, directory.file(relative + ".crt")) if cert_text else None
    key = pki.load_private_key(key_text, directory.file(relative + ".key")) if key_text else None
    reasons = pki.reissue_reasons(kind, cert, key, wanted, ca_cert, now, params["renew_before_days"])
    if reasons:
        key = pki.new_private_key(params["key_type"], params["rsa_bits"])
        cert = pki.build_leaf(kind, key, wanted, ca_cert, ca_key, now)
        plan.write(relative + ".key", pki.private_key_pem(key), secret=True)
        plan.write(relative + ".crt", pki.certificate_pem(cert))
    return {"kind": kind, "name": item["name"], "path": directory.file(relative + ".crt"),
            "key_path": directory.file(relative + ".key"), "serial": "%x" % cert.serial_number,
            "not_after": pki.not_after(cert).isoformat(), "days_left": pki.days_left(cert, now),
            "changed": bool(reasons), "reasons": reasons}


def plan_crl(directory, params, index, ca_cert, ca_key, now, plan):
    text = directory.read("crl.pem", "CRL")
    crl = pki.load_crl(text, directory.file("crl.pem")) if text else None
    serials = [int(record["serial"], 16) for record in index["revoked"]]
    reasons = pki.crl_update_reasons(crl, ca_cert, serials, now, params["renew_before_days"])
    if reasons:
        index["crl_number"] += 1
        entries = [{"serial": int(record["serial"], 16), "date": record["date"]} for record in index["revoked"]]
        crl = pki.build_crl(ca_cert, ca_key, entries, index["crl_number"], params["crl_valid_days"], now)
        plan.write("crl.pem", pki.crl_pem(crl))
    return {"path": directory.file("crl.pem"), "next_update": crl.next_update_utc.isoformat(),
            "changed": bool(reasons), "reasons": reasons}


def plan_tls_crypt(directory, plan):
    text = directory.read("tls-crypt.key", "tls-crypt key")
    if text is None:
        plan.write("tls-crypt.key", tls_crypt.new_static_key(), secret=True)
    else:
        _checked_key(tls_crypt.read_static_key, text, directory.file("tls-crypt.key"))
    return {"path": directory.file("tls-crypt.key"), "changed": text is None}


def plan_tls_crypt_v2(directory, certificates, plan):
    text = directory.read("tls-crypt-v2/server.key", "tls-crypt-v2 server key")
    new_server_key = text is None
    if new_server_key:
        text = tls_crypt.new_v2_server_key()
        plan.write("tls-crypt-v2/server.key", text, secret=True)
    server_key = _checked_key(tls_crypt.read_v2_server_key, text, directory.file("tls-crypt-v2/server.key"))
    for certificate in certificates:
        if certificate["kind"] != "client":
            continue
        relative = "tls-crypt-v2/clients/%s.key" % certificate["name"]
        client_text = directory.read(relative, "tls-crypt-v2 client key")
        try:
            keep = client_text is not None and not new_server_key and tls_crypt.unwrap_v2_client_key(server_key, client_text)
        except tls_crypt.TlsCryptKeyError:
            keep = False
        if not keep:
            plan.write(relative, tls_crypt.new_v2_client_key(server_key), secret=True)
            certificate["changed"] = True
            certificate["reasons"] = certificate["reasons"] + ["tls-crypt-v2 client key missing or not from the server key"]
        certificate["tls_crypt_v2_key_path"] = directory.file(relative)
    return {"path": directory.file("tls-crypt-v2/server.key"), "changed": new_server_key}


def _checked_key(read, text, path):
    try:
        return read(text, path)
    except tls_crypt.TlsCryptKeyError as error:
        raise pki.PkiError("%s; remove it to have a new one made (every peer then needs the new key)" % error)


def plan_modes(directory, plan):
    """Private directories 0700 and keys 0600: anything group or others can reach is tightened."""
    for relative in PRIVATE_DIRS:
        mode = directory.mode(relative, directory=True)
        if mode is not None and mode & LOOSE:
            plan.modes.append((relative, mode, PRIVATE_DIR_MODE))
    touched = plan.touched()
    keys = list(KEY_FILES) + ["%s/%s.key" % (folder, name) for folder in KEY_DIRS for name in directory.listing(folder, ".key")]
    for relative in keys:
        if relative in touched:
            continue
        mode = directory.mode(relative)
        if mode is not None and mode & LOOSE:
            plan.modes.append((relative, mode, SECRET_MODE))


def apply_plan(module, directory, plan):
    """Do what the plan says (in check mode: nothing); returns whether anything changed."""
    changed = bool(plan.modes)
    try:
        if not module.check_mode:
            for relative, _before, after in plan.modes:
                os.chmod(directory.file(relative), after)
        if plan.writes:
            changed = _make_directories(module, directory) or changed
        for relative, text, secret in plan.writes:
            result = write_file(module, directory.file(relative), text, mode=SECRET_MODE if secret else PUBLIC_MODE)
            changed = changed or result["changed"]
        for relative in plan.removes:
            changed = remove_file(module, directory.file(relative))["changed"] or changed
    except OSError as error:
        raise pki.PkiError("write PKI directory %s: %s" % (directory.path, error.strerror or error))
    return changed


def _make_directories(module, directory):
    missing = [relative for relative in PRIVATE_DIRS + PUBLIC_DIRS if not os.path.isdir(directory.file(relative))]
    if missing and not module.check_mode:
        os.makedirs(directory.path, exist_ok=True)
        for relative in missing:
            os.makedirs(directory.file(relative), exist_ok=True)
            # Explicit, because mkdir's mode is filtered by the umask and skips intermediate directories.
            os.chmod(directory.file(relative), PRIVATE_DIR_MODE if relative in PRIVATE_DIRS else 0o755)
    return bool(missing)


def manage_pki(module):
    """The whole run; returns the module result and the warnings for ``module.warn``."""
    params = module.params
    check_params(params)
    now = pki.utc_now()
    directory = PkiDirectory(params["path"])
    directory.check_layout()
    plan = Plan()
    index = read_index(directory)
    ca_cert, ca_key, ca_summary = plan_ca(directory, params, now, plan)
    plan_revocations(directory, params, index, now, plan)
    certificates = [plan_leaf(directory, params, kind, item, ca_cert, ca_key, now, plan)
                    for kind in pki.KINDS for item in params[kind + "s"]]
    result = {"ca": ca_summary, "certificates": certificates}
    if params["tls_crypt"]:
        result["tls_crypt"] = plan_tls_crypt(directory, plan)
    if params["tls_crypt_v2"]:
        result["tls_crypt_v2"] = plan_tls_crypt_v2(directory, certificates, plan)
    result["crl"] = plan_crl(directory, params, index, ca_cert, ca_key, now, plan)
    result["revoked"] = index["revoked"]
    plan.write("index.json", json.dumps(index, indent=2, sort_keys=True) + "\n")
    plan_modes(directory, plan)
    result["modes_fixed"] = [{"path": directory.file(relative), "before": "%04o" % before, "after": "%04o" % after}
                             for relative, before, after in plan.modes]
    result["changed"] = apply_plan(module, directory, plan)
    return result, plan.warnings
