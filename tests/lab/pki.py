# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The brownfield's small PKI in .lab/pki/, made with the openssl CLI: a CA, a server
certificate per OpenVPN server and a client certificate per OpenVPN client (EC P-256).
Keys are 0600; nothing is reissued while its certificate exists."""

from __future__ import annotations

import os

from tests.lab.common import run
from tests.lab.state import STATE_DIR

PKI_DIR = os.path.join(STATE_DIR, "pki")
DAYS = "825"
KEY_OPTIONS = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
USAGE = {"server": "serverAuth", "client": "clientAuth"}


def path(name):
    return os.path.join(PKI_DIR, name)


def ensure_ca():
    os.makedirs(PKI_DIR, mode=0o700, exist_ok=True)
    if not os.path.exists(path("ca.crt")):
        run(["openssl", "req", "-x509"] + KEY_OPTIONS + [
            "-keyout", path("ca.key"), "-out", path("ca.crt"), "-days", DAYS,
            "-subj", "/CN=ovpnfleet lab CA"])
    os.chmod(path("ca.key"), 0o600)


def ensure_certificate(host, role):
    """HOST.ROLE.crt and .key, signed by the lab CA; role is server or client."""
    base = "%s.%s" % (host, role)
    key, crt, csr, ext = (path(base + suffix) for suffix in (".key", ".crt", ".csr", ".ext"))
    if os.path.exists(crt) and os.path.exists(key):
        return
    run(["openssl", "req"] + KEY_OPTIONS + ["-keyout", key, "-out", csr, "-subj", "/CN=" + host])
    os.chmod(key, 0o600)
    with open(ext, "w") as handle:
        handle.write("basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyAgreement\n"
                     "extendedKeyUsage=%s\n" % USAGE[role])
    run(["openssl", "x509", "-req", "-in", csr, "-CA", path("ca.crt"), "-CAkey", path("ca.key"),
         "-CAcreateserial", "-out", crt, "-days", DAYS, "-extfile", ext])
    os.unlink(csr)
    os.unlink(ext)


def read(name):
    with open(path(name)) as handle:
        return handle.read()
