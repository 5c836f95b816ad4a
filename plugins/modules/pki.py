#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: pki
short_description: Keep an OpenVPN PKI - CA, certificates, CRL, tls-crypt and tls-crypt-v2 keys - in a directory
version_added: 0.1.0
description:
  - Makes a directory hold what OpenVPN servers and clients need - a CA, server and client
    certificates with the key usages C(remote-cert-tls) checks, a CRL, a tls-crypt key and
    tls-crypt-v2 server and per-client keys - and keeps it so.
  - Declarative and additive - the certificates named are issued when missing, reissued (with
    a new key) when they expire within O(renew_before_days), no longer match what is asked
    (common name, subject alternative names, usage) or were not issued by the CA; certificates
    not named are left as they are. Names in O(revoked) are revoked - their certificate goes to
    the CRL and C(revoked/), their private key and tls-crypt-v2 key are deleted.
  - Meant for the controller, with C(delegate_to) V(localhost) and C(run_once); one call per
    play keeps two hosts from writing the directory at once.
  - Private keys are written 0600 in 0700 directories and never returned; the module returns
    paths, serial numbers and expiry dates only.
author: ovpnfleet.dco contributors (@ovpnfleet)
extends_documentation_fragment:
  - ovpnfleet.dco.attributes
attributes:
  check_mode:
    support: full
    details:
      - Check mode reports what would be issued, renewed or revoked and writes nothing.
  diff_mode:
    support: none
    details:
      - Key material is never shown, so there is no diff; RV(certificates) lists what changed and why.
options:
  path:
    description:
      - The PKI directory. Layout - C(ca.crt), C(private/ca.key), C(servers/NAME.crt) and
        C(servers/NAME.key), C(clients/NAME.crt) and C(clients/NAME.key), C(crl.pem),
        C(tls-crypt.key), C(tls-crypt-v2/server.key), C(tls-crypt-v2/clients/NAME.key),
        C(revoked/), and C(index.json) (serial numbers of revoked certificates, CRL number).
    type: path
    required: true
  ca:
    description: The CA to create when the directory has none, or the CA of your own to use.
    type: dict
    default: {}
    suboptions:
      common_name:
        description: Common name of a CA the module creates.
        type: str
        default: ovpnfleet.dco CA
      valid_days:
        description: Lifetime of a CA the module creates.
        type: int
        default: 3650
      cert_path:
        description:
          - Bring your own CA - its certificate. Copied to C(PATH/ca.crt) for the roles; the
            key stays where it is. Requires O(ca.key_path).
        type: path
      key_path:
        description: Bring your own CA - its unencrypted private key (PEM).
        type: path
  servers:
    description: Server certificates (extended key usage serverAuth).
    type: list
    elements: dict
    default: []
    suboptions: &leaf
      name:
        description: File name in C(servers/) or C(clients/); letters, digits, C(.), C(_), C(-), C(@).
        type: str
        required: true
      common_name:
        description: Subject common name; defaults to O(servers[].name). Clients check a server's with C(verify-x509-name NAME name).
        type: str
      subject_alt_names:
        description: DNS names or IP addresses for the subject alternative name extension.
        type: list
        elements: str
        default: []
      valid_days:
        description: Lifetime; never beyond the CA's.
        type: int
        default: 825
  clients:
    description: Client certificates (extended key usage clientAuth), and with O(tls_crypt_v2) a tls-crypt-v2 client key each.
    type: list
    elements: dict
    default: []
    suboptions: *leaf
  revoked:
    description: Certificates to revoke. A name may not be both here and in O(servers) or O(clients) of the same kind.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The certificate's name.
        type: str
        required: true
      kind:
        description: Whether it is a client or a server certificate.
        type: str
        choices: [client, server]
        default: client
  tls_crypt:
    description: Make sure C(tls-crypt.key) exists (one shared key for C(tls-crypt)).
    type: bool
    default: false
  tls_crypt_v2:
    description: Make sure the tls-crypt-v2 server key exists and every client of O(clients) has its own client key.
    type: bool
    default: false
  key_type:
    description: Key type of new keys. EC keys use the P-256 curve; both work with OpenVPN 2.6 and 2.7.
    type: str
    choices: [ec, rsa]
    default: ec
  rsa_bits:
    description: Size of new RSA keys.
    type: int
    default: 3072
  renew_before_days:
    description: Reissue a certificate, and rebuild the CRL, when fewer days than this are left.
    type: int
    default: 30
  crl_valid_days:
    description:
      - Lifetime of the CRL. OpenVPN refuses every client once the CRL it checks has expired,
        so run the module (or M(ovpnfleet.dco.tunnel_info) to watch it) well within this.
    type: int
    default: 180
requirements:
  - cryptography >= 3.4 where the module runs (the controller).
notes:
  - tls-crypt-v2 client keys cannot be revoked by the CRL; a revoked client's key file is
    deleted, and its certificate is what the server refuses.
seealso:
  - module: ovpnfleet.dco.tunnel_info
  - name: OpenVPN's tls-crypt-v2 description
    description: The client key format this module writes.
    link: https://github.com/OpenVPN/openvpn/blob/master/doc/tls-crypt-v2.txt
"""

EXAMPLES = r"""
- name: PKI for the VPN servers and their clients
  ovpnfleet.dco.pki:
    path: "{{ playbook_dir }}/pki"
    ca:
      common_name: Example VPN CA
    servers:
      - name: vpn1
        common_name: vpn1.example.org
        subject_alt_names: [vpn1.example.org, 192.0.2.10]
    clients:
      - name: alice
      - name: bob
        valid_days: 90
    tls_crypt_v2: true
  delegate_to: localhost
  run_once: true

- name: Revoke a lost laptop's certificate
  ovpnfleet.dco.pki:
    path: "{{ playbook_dir }}/pki"
    revoked:
      - name: bob
  delegate_to: localhost
  run_once: true

- name: Use the organisation's CA
  ovpnfleet.dco.pki:
    path: /srv/vpn-pki
    ca:
      cert_path: /srv/ca/ca.crt
      key_path: /srv/ca/private/ca.key
    servers:
      - name: vpn1
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
ca:
  description: The CA.
  returned: always
  type: dict
  contains:
    path:
      description: The CA certificate in the directory.
      type: str
      returned: always
      sample: /home/ops/vpn/pki/ca.crt
    common_name:
      description: Its common name.
      type: str
      returned: always
      sample: Example VPN CA
    not_after:
      description: Expiry, ISO 8601 UTC.
      type: str
      returned: always
      sample: "2036-11-22T10:00:00+00:00"
    days_left:
      description: Whole days until it expires.
      type: int
      returned: always
      sample: 3649
    changed:
      description: Whether the CA was created or its certificate copied in.
      type: bool
      returned: always
      sample: false
certificates:
  description: Every server and client certificate asked for.
  returned: always
  type: list
  elements: dict
  contains:
    kind:
      description: V(server) or V(client).
      type: str
      returned: always
      sample: client
    name:
      description: The name asked for.
      type: str
      returned: always
      sample: alice
    path:
      description: Certificate file.
      type: str
      returned: always
      sample: /home/ops/vpn/pki/clients/alice.crt
    key_path:
      description: Private key file (0600); its content is never returned.
      type: str
      returned: always
      sample: /home/ops/vpn/pki/clients/alice.key
    serial:
      description: Serial number in hex.
      type: str
      returned: always
      sample: 5f3a0c1d9e
    not_after:
      description: Expiry, ISO 8601 UTC.
      type: str
      returned: always
      sample: "2029-02-25T10:00:00+00:00"
    days_left:
      description: Whole days until it expires.
      type: int
      returned: always
      sample: 824
    changed:
      description: Whether it was (or in check mode would be) issued now.
      type: bool
      returned: always
      sample: true
    reasons:
      description: Why it was issued; empty when it was kept.
      type: list
      elements: str
      returned: always
      sample: [missing]
    tls_crypt_v2_key_path:
      description: The client's tls-crypt-v2 key file, for clients when O(tls_crypt_v2) is set.
      type: str
      returned: when O(tls_crypt_v2) is set and the kind is client
      sample: /home/ops/vpn/pki/tls-crypt-v2/clients/alice.key
revoked:
  description: Every certificate in the CRL.
  returned: always
  type: list
  elements: dict
  contains:
    kind:
      description: V(server) or V(client).
      type: str
      returned: always
      sample: client
    name:
      description: The name it had.
      type: str
      returned: always
      sample: bob
    serial:
      description: Serial number in hex.
      type: str
      returned: always
      sample: 1c2d3e
    date:
      description: When it was revoked, ISO 8601 UTC.
      type: str
      returned: always
      sample: "2026-11-25T10:00:00+00:00"
crl:
  description: The CRL.
  returned: always
  type: dict
  contains:
    path:
      description: The CRL file.
      type: str
      returned: always
      sample: /home/ops/vpn/pki/crl.pem
    next_update:
      description: When it expires, ISO 8601 UTC.
      type: str
      returned: always
      sample: "2027-05-24T10:00:00+00:00"
    changed:
      description: Whether it was rebuilt.
      type: bool
      returned: always
      sample: false
    reasons:
      description: Why it was rebuilt.
      type: list
      elements: str
      returned: always
      sample: [revocations changed]
tls_crypt:
  description: The shared tls-crypt key, when O(tls_crypt) is set.
  returned: when O(tls_crypt) is set
  type: dict
  sample: {path: /home/ops/vpn/pki/tls-crypt.key, changed: false}
tls_crypt_v2:
  description: The tls-crypt-v2 server key, when O(tls_crypt_v2) is set.
  returned: when O(tls_crypt_v2) is set
  type: dict
  sample: {path: /home/ops/vpn/pki/tls-crypt-v2/server.key, changed: false}
"""

import json
import os
import re

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.ovpnfleet.dco.plugins.module_utils._errors import DcoError, fail_from_error
from ansible_collections.ovpnfleet.dco.plugins.module_utils._files import read_bytes_or_none, remove_file, write_file

from ansible_collections.ovpnfleet.dco.plugins.module_utils import _pki as pki
from ansible_collections.ovpnfleet.dco.plugins.module_utils import _tls_crypt as tls_crypt

LEAF_OPTIONS = dict(
    name=dict(type="str", required=True),
    common_name=dict(type="str"),
    subject_alt_names=dict(type="list", elements="str", default=[]),
    valid_days=dict(type="int", default=825),
)

ARGUMENT_SPEC = dict(
    path=dict(type="path", required=True),
    ca=dict(type="dict", default={}, options=dict(
        common_name=dict(type="str", default="ovpnfleet.dco CA"),
        valid_days=dict(type="int", default=3650),
        cert_path=dict(type="path"),
        key_path=dict(type="path", no_log=False),
    ), required_together=[("cert_path", "key_path")]),
    servers=dict(type="list", elements="dict", default=[], options=LEAF_OPTIONS),
    clients=dict(type="list", elements="dict", default=[], options=LEAF_OPTIONS),
    revoked=dict(type="list", elements="dict", default=[], options=dict(
        name=dict(type="str", required=True),
        kind=dict(type="str", choices=["client", "server"], default="client"),
    )),
    tls_crypt=dict(type="bool", default=False),
    tls_crypt_v2=dict(type="bool", default=False),
    key_type=dict(type="str", choices=["ec", "rsa"], default="ec"),
    rsa_bits=dict(type="int", default=3072),
    renew_before_days=dict(type="int", default=30),
    crl_valid_days=dict(type="int", default=180),
)

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]*$")
PRIVATE_DIRS = ("private", "servers", "clients", "tls-crypt-v2", "tls-crypt-v2/clients")


class PkiDirectory:
    """The files of one PKI directory, written through the collection's one write helper."""

    def __init__(self, module, path):
        self.module = module
        self.path = path
        self.changed = False

    def file(self, *parts):
        return os.path.join(self.path, *parts)

    def read(self, *parts):
        data = read_bytes_or_none(self.file(*parts))
        return None if data is None else data.decode("ascii", errors="replace")

    def write(self, relative, text, secret=False):
        if not self.module.check_mode:
            for directory in PRIVATE_DIRS:
                os.makedirs(self.file(directory), mode=0o700, exist_ok=True)
            os.makedirs(self.file("revoked"), mode=0o755, exist_ok=True)
        result = write_file(self.module, self.file(relative), text, mode=0o600 if secret else 0o644)
        self.changed = self.changed or result["changed"]
        return result["changed"]

    def remove(self, relative):
        result = remove_file(self.module, self.file(relative))
        self.changed = self.changed or result["changed"]

    def index(self):
        text = self.read("index.json")
        if text is None:
            return {"crl_number": 0, "revoked": []}
        try:
            return json.loads(text)
        except ValueError as error:
            raise pki.PkiError("read %s: %s" % (self.file("index.json"), error))


def ensure_ca(directory, params, now):
    wanted = params["ca"]
    if wanted["cert_path"]:
        cert_text = read_text(wanted["cert_path"], "CA certificate")
        key = pki.load_private_key(read_text(wanted["key_path"], "CA key"), wanted["key_path"])
        cert = pki.load_certificate(cert_text, wanted["cert_path"])
        changed = directory.write("ca.crt", cert_text)
    else:
        cert_text, key_text = directory.read("ca.crt"), directory.read("private", "ca.key")
        changed = cert_text is None or key_text is None
        if changed:
            key = pki.new_private_key(params["key_type"], params["rsa_bits"])
            cert = pki.build_ca(key, wanted["common_name"], wanted["valid_days"], now)
            directory.write("private/ca.key", pki.private_key_pem(key), secret=True)
            directory.write("ca.crt", pki.certificate_pem(cert))
        else:
            key = pki.load_private_key(key_text, directory.file("private", "ca.key"))
            cert = pki.load_certificate(cert_text, directory.file("ca.crt"))
    if not pki.key_matches(cert, key):
        raise pki.PkiError("use CA %s: its private key does not match its certificate" % directory.file("ca.crt"))
    if pki.days_left(cert, now) < params["renew_before_days"]:
        directory.module.warn("CA %s expires in %d days: every certificate it issued stops working then; plan a new CA"
                              % (directory.file("ca.crt"), pki.days_left(cert, now)))
    summary = {"path": directory.file("ca.crt"), "changed": changed,
               "common_name": cert.subject.rfc4514_string().split("=", 1)[-1],
               "not_after": pki.not_after(cert).isoformat(), "days_left": pki.days_left(cert, now)}
    return cert, key, summary


def read_text(path, what):
    try:
        with open(path, "r", encoding="ascii") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError) as error:
        raise pki.PkiError("read %s %s: %s" % (what, path, error))


def ensure_leaf(directory, params, kind, item, ca_cert, ca_key, now):
    wanted = dict(item, common_name=item["common_name"] or item["name"])
    relative = "%ss/%s" % (kind, item["name"])
    cert_text, key_text = directory.read(relative + ".crt"), directory.read(relative + ".key")
    cert = pki.load_certificate(cert_text, directory.file(relative + ".crt")) if cert_text else None
    key = pki.load_private_key(key_text, directory.file(relative + ".key")) if key_text else None
    reasons = pki.reissue_reasons(kind, cert, key, wanted, ca_cert, now, params["renew_before_days"])
    if reasons:
        key = pki.new_private_key(params["key_type"], params["rsa_bits"])
        cert = pki.build_leaf(kind, key, wanted, ca_cert, ca_key, now)
        # Key first: a run cut short in between leaves a mismatch that the next run repairs.
        directory.write(relative + ".key", pki.private_key_pem(key), secret=True)
        directory.write(relative + ".crt", pki.certificate_pem(cert))
    return {"kind": kind, "name": item["name"], "path": directory.file(relative + ".crt"),
            "key_path": directory.file(relative + ".key"), "serial": "%x" % cert.serial_number,
            "not_after": pki.not_after(cert).isoformat(), "days_left": pki.days_left(cert, now),
            "changed": bool(reasons), "reasons": reasons}


def revoke(directory, index, entry, now):
    relative = "%ss/%s" % (entry["kind"], entry["name"])
    cert_text = directory.read(relative + ".crt")
    if cert_text is None:
        return
    cert = pki.load_certificate(cert_text, directory.file(relative + ".crt"))
    serial = "%x" % cert.serial_number
    if serial not in [record["serial"] for record in index["revoked"]]:
        index["revoked"].append({"kind": entry["kind"], "name": entry["name"], "serial": serial,
                                 "date": now.replace(microsecond=0).isoformat()})
    directory.write("revoked/%s-%s-%s.crt" % (entry["kind"], entry["name"], serial), cert_text)
    directory.remove(relative + ".key")
    directory.remove(relative + ".crt")
    if entry["kind"] == "client":
        directory.remove("tls-crypt-v2/clients/%s.key" % entry["name"])


def ensure_crl(directory, params, index, ca_cert, ca_key, now):
    text = directory.read("crl.pem")
    crl = pki.load_crl(text, directory.file("crl.pem")) if text else None
    serials = [int(record["serial"], 16) for record in index["revoked"]]
    reasons = pki.crl_update_reasons(crl, ca_cert, serials, now, params["renew_before_days"])
    if reasons:
        index["crl_number"] += 1
        entries = [{"serial": int(record["serial"], 16), "date": record["date"]} for record in index["revoked"]]
        crl = pki.build_crl(ca_cert, ca_key, entries, index["crl_number"], params["crl_valid_days"], now)
        directory.write("crl.pem", pki.crl_pem(crl))
    return {"path": directory.file("crl.pem"), "next_update": crl.next_update_utc.isoformat(),
            "changed": bool(reasons), "reasons": reasons}


def ensure_tls_crypt_v2(directory, certificates):
    text = directory.read("tls-crypt-v2", "server.key")
    changed = text is None
    if changed:
        text = tls_crypt.new_v2_server_key()
        directory.write("tls-crypt-v2/server.key", text, secret=True)
    server_key = tls_crypt.read_v2_server_key(text)
    for certificate in certificates:
        if certificate["kind"] != "client":
            continue
        relative = "tls-crypt-v2/clients/%s.key" % certificate["name"]
        client_text = directory.read(relative)
        try:
            keep = client_text is not None and not changed and tls_crypt.unwrap_v2_client_key(server_key, client_text)
        except tls_crypt.TlsCryptKeyError:
            keep = False
        if not keep:
            directory.write(relative, tls_crypt.new_v2_client_key(server_key), secret=True)
            certificate["changed"] = True
            certificate["reasons"] = certificate["reasons"] + ["tls-crypt-v2 client key missing or not from the server key"]
        certificate["tls_crypt_v2_key_path"] = directory.file(relative)
    return {"path": directory.file("tls-crypt-v2", "server.key"), "changed": changed}


def ensure_tls_crypt(directory):
    text = directory.read("tls-crypt.key")
    if text is not None:
        tls_crypt.read_static_key(text)
    else:
        directory.write("tls-crypt.key", tls_crypt.new_static_key(), secret=True)
    return {"path": directory.file("tls-crypt.key"), "changed": text is None}


def check_names(params):
    asked = [("server", item["name"]) for item in params["servers"]] + [("client", item["name"]) for item in params["clients"]]
    for kind, name in asked + [(entry["kind"], entry["name"]) for entry in params["revoked"]]:
        if not NAME.match(name):
            raise pki.PkiError("name %r: use letters, digits, '.', '_', '-' and '@', starting with a letter or digit" % name)
    for entry in params["revoked"]:
        if (entry["kind"], entry["name"]) in asked:
            raise pki.PkiError("%s %s is both asked for and revoked: drop it from one of the lists" % (entry["kind"], entry["name"]))
    if len(set(asked)) != len(asked):
        raise pki.PkiError("a name appears twice in servers or clients: %s" % sorted(set(item for item in asked if asked.count(item) > 1)))


def manage_pki(module):
    params = module.params
    check_names(params)
    directory = PkiDirectory(module, params["path"])
    now = pki.utc_now()
    index = directory.index()
    ca_cert, ca_key, ca_summary = ensure_ca(directory, params, now)
    for entry in params["revoked"]:
        revoke(directory, index, entry, now)
    certificates = [ensure_leaf(directory, params, kind, item, ca_cert, ca_key, now)
                    for kind, items in (("server", params["servers"]), ("client", params["clients"]))
                    for item in items]
    result = {"ca": ca_summary, "certificates": certificates, "revoked": index["revoked"],
              "crl": ensure_crl(directory, params, index, ca_cert, ca_key, now)}
    if params["tls_crypt"]:
        result["tls_crypt"] = ensure_tls_crypt(directory)
    if params["tls_crypt_v2"]:
        result["tls_crypt_v2"] = ensure_tls_crypt_v2(directory, certificates)
    if directory.changed:
        directory.write("index.json", json.dumps(index, indent=2, sort_keys=True) + "\n")
    result["changed"] = directory.changed
    return result


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    if pki.CRYPTOGRAPHY_ERROR:
        module.fail_json(msg=missing_required_lib("cryptography"), exception=pki.CRYPTOGRAPHY_ERROR)
    try:
        result = manage_pki(module)
    except DcoError as error:
        fail_from_error(module, error)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
