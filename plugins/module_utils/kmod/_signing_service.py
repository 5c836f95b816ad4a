# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The module_signing module's flow: keep the key pair, read the MOK list, request an enrolment."""

from __future__ import annotations

import os
import tempfile

from ansible_collections.ovpnfleet.dco.plugins.module_utils._errors import CommandError
from ansible_collections.ovpnfleet.dco.plugins.module_utils._files import write_file
from ansible_collections.ovpnfleet.dco.plugins.module_utils._probe import SYSTEM_BIN_DIRS, ModuleProbe
from ansible_collections.ovpnfleet.dco.plugins.module_utils.host._facts import parse_lockdown
from ansible_collections.ovpnfleet.dco.plugins.module_utils.kmod import _signing
from ansible_collections.ovpnfleet.dco.plugins.module_utils.kmod._signing import SigningError


def manage_signing(module):
    params = module.params
    key_path, cert_path = params["key"], params["cert"]
    result = {"changed": False, "key": key_path, "cert": cert_path, "generated": False,
              "fingerprint_sha256": None, "mok_state": None, "enrollment_requested": False,
              "console_action": "", "signatures_required": None}
    cert_der = _ensure_pair(module, params, result)
    if cert_der is None:  # check mode, nothing generated yet
        return result
    result["fingerprint_sha256"] = _signing.fingerprint(cert_der)
    if params["mok"] == "ignore":
        return result
    result["signatures_required"] = signatures_required(ModuleProbe(module))
    mokutil = module.get_bin_path("mokutil", opt_dirs=SYSTEM_BIN_DIRS)
    if mokutil is None:
        if params["mok"] == "enroll":
            raise SigningError("request the MOK enrolment of %s: mokutil is not installed; install "
                               "the mokutil package." % cert_path)
        return result
    with _der_file(module, cert_path, cert_der) as der_path:
        state = _test_key(module, mokutil, der_path)
        if params["mok"] == "enroll" and state == _signing.MOK_NOT_ENROLLED:
            _signing.check_password(params["mok_password"])
            result.update(changed=True, enrollment_requested=True)
            if not module.check_mode:
                _import(module, mokutil, der_path, params["mok_password"])
                state = _test_key(module, mokutil, der_path)
                if state != _signing.MOK_PENDING:
                    raise SigningError("request the MOK enrolment of %s: mokutil --import succeeded but "
                                       "--test-key then said %s; run 'mokutil --list-new' to see what "
                                       "is requested." % (cert_path, state))
            else:
                state = _signing.MOK_PENDING
    result["mok_state"] = state
    result["console_action"] = _signing.console_steps(state, cert_path, result["fingerprint_sha256"])
    return result


def signatures_required(probe):
    """Whether the running kernel refuses modules its keys did not sign (lockdown, which Secure
    Boot turns on in Debian's kernels, or module.sig_enforce)."""
    lockdown = parse_lockdown(probe.read("/sys/kernel/security/lockdown"))
    enforce = (probe.read("/sys/module/module/parameters/sig_enforce") or "").strip()
    return lockdown in ("integrity", "confidentiality") or enforce == "Y"


def _ensure_pair(module, params, result):
    """The certificate's DER; the pair is made first when asked and both files are missing."""
    key_path, cert_path = params["key"], params["cert"]
    have_key, have_cert = os.path.exists(key_path), os.path.exists(cert_path)
    if not have_key and not have_cert and params["generate"]:
        result.update(changed=True, generated=True)
        if module.check_mode:
            return None
        key_pem, cert_der = _signing.new_signing_key(params["common_name"], params["valid_days"])
        for path, mode in ((key_path, 0o700), (cert_path, 0o755)):
            os.makedirs(os.path.dirname(path) or ".", mode=mode, exist_ok=True)
        write_file(module, key_path, key_pem, mode=0o600)
        write_file(module, cert_path, cert_der, mode=0o644)
        return cert_der
    if have_key != have_cert or not have_cert:
        missing = cert_path if have_key else key_path if have_cert else "%s and %s" % (key_path, cert_path)
        raise SigningError("read the module signing key: %s missing; give both files, or neither with "
                           "generate=true to make a new pair." % (missing + (" is" if have_key or have_cert else " are")))
    cert_der = _signing.certificate_der(_read(cert_path), cert_path)
    if not _signing.key_matches_certificate(_read(key_path), cert_der, key_path):
        raise SigningError("check the module signing key %s: it does not match the certificate %s; "
                           "give the certificate of that key." % (key_path, cert_path))
    return cert_der


def _read(path):
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as error:
        raise SigningError("read %s: %s; check the path and its permissions." % (path, error.strerror)) from error


class _der_file:
    """The certificate as a DER file for mokutil: the given one, or a temporary copy of a PEM one."""

    def __init__(self, module, cert_path, cert_der):
        self.module, self.cert_path, self.cert_der, self.temporary = module, cert_path, cert_der, None

    def __enter__(self):
        if _read(self.cert_path) == self.cert_der:
            return self.cert_path
        handle, self.temporary = tempfile.mkstemp(suffix=".der", dir=getattr(self.module, "tmpdir", None))
        with os.fdopen(handle, "wb") as out:
            out.write(self.cert_der)
        return self.temporary

    def __exit__(self, *_exc):
        if self.temporary:
            os.unlink(self.temporary)


def _test_key(module, mokutil, der_path):
    argv = [mokutil, "--test-key", der_path]
    rc, out, err = module.run_command(argv, environ_update={"LC_ALL": "C", "LANG": "C"})
    state = _signing.parse_test_key(rc, out, err)
    if state != _signing.MOK_NOT_ENROLLED:
        return state
    # mokutil versions differ in whether --test-key counts a pending request: the request list decides.
    rc, out, err = module.run_command([mokutil, "--list-new"], environ_update={"LC_ALL": "C", "LANG": "C"})
    with open(der_path, "rb") as handle:
        return _signing.MOK_PENDING if _signing.in_listing(out, handle.read()) else state


def _import(module, mokutil, der_path, password):
    # The password goes on stdin, twice (mokutil asks for it and its confirmation): on argv it
    # would show in the process list.
    argv = [mokutil, "--import", der_path]
    rc, out, err = module.run_command(argv, data="%s\n%s\n" % (password, password), binary_data=True,
                                      environ_update={"LC_ALL": "C", "LANG": "C"})
    if rc != 0:
        raise CommandError("request the MOK enrolment of %s: mokutil --import exited %d; is the "
                           "firmware booted with UEFI and is efivarfs writable?" % (der_path, rc),
                           argv, rc, out, err)
