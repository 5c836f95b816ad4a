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
  - A certificate never outlives its CA, and is not reissued for expiry when a new one would
    end on the same day, so a CA near its end does not make every run reissue every
    certificate. The CA itself is renewed only when O(ca.renew) says so; otherwise a CA within
    O(renew_before_days) is reported as a warning, and an expired one fails the run.
  - Every option and every file already in the directory is read and checked before anything
    is written - names, subject alternative names, lifetimes, the CA (its key matches, it is a
    CA, it has not expired), the index, the CRL and the keys - so a failed run leaves the
    directory as it was.
  - Meant for the controller, with C(delegate_to) V(localhost) and C(run_once); one call per
    play keeps two hosts from writing the directory at once.
  - Private keys are written 0600 in 0700 directories and never returned; the module returns
    paths, serial numbers and expiry dates only. A key or private directory that group or
    others can reach is set back to 0600 or 0700 and listed in RV(modes_fixed).
author: ovpnfleet.dco contributors (@ovpnfleet)
extends_documentation_fragment:
  - ovpnfleet.dco.attributes
attributes:
  check_mode:
    support: full
    details:
      - Check mode reports what would be issued, renewed, revoked or have its mode fixed, and writes nothing.
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
        description:
          - Common name of a CA the module creates; letters, digits, spaces, C(.), C(_), C(-), C(@)
            and C(:), 64 characters at most.
        type: str
        default: ovpnfleet.dco CA
      valid_days:
        description: Lifetime of a CA the module creates or renews; more than O(renew_before_days).
        type: int
        default: 3650
      renew:
        description:
          - Renew the CA the module made when it expires within O(renew_before_days) (or has
            expired) - a new certificate with the same subject and key and a lifetime of
            O(ca.valid_days). Certificates it issued stay valid; those that end with the old CA
            are reissued once.
          - Off by default, because the new C(ca.crt) must then reach every server and client;
            without it a CA near its end is a warning and an expired one fails the run.
          - Not for a CA of your own (O(ca.cert_path)); renew that where it was made.
        type: bool
        default: false
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
        description:
          - File name in C(servers/) or C(clients/); letters, digits, C(.), C(_), C(-), C(@), starting
            with a letter or digit, 64 characters at most.
        type: str
        required: true
      common_name:
        description:
          - Subject common name; defaults to O(servers[].name). Clients check a server's with C(verify-x509-name NAME name).
          - Letters, digits, spaces, C(.), C(_), C(-), C(@) and C(:), 64 characters at most.
        type: str
      subject_alt_names:
        description:
          - DNS names or IP addresses for the subject alternative name extension.
          - A DNS name follows the host name rules (labels of letters, digits and inner hyphens, no
            trailing dot); a value with a colon or an all-digit last label must be a valid IP address.
        type: list
        elements: str
        default: []
      valid_days:
        description: Lifetime; never beyond the CA's. More than O(renew_before_days).
        type: int
        default: 825
  clients:
    description: Client certificates (extended key usage clientAuth), and with O(tls_crypt_v2) a tls-crypt-v2 client key each.
    type: list
    elements: dict
    default: []
    suboptions: *leaf
  revoked:
    description:
      - Certificates to revoke. A name may not be both here and in O(servers) or O(clients) of the same kind.
      - A name with no certificate of that kind, and not revoked before, fails the run with the known names.
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
    description: Size of new RSA keys, 2048 to 16384.
    type: int
    default: 3072
  renew_before_days:
    description:
      - Reissue a certificate, and rebuild the CRL, when fewer days than this are left.
      - Also when a CA near its end is reported, or renewed with O(ca.renew).
    type: int
    default: 30
  crl_valid_days:
    description:
      - Lifetime of the CRL; more than O(renew_before_days). OpenVPN refuses every client once the
        CRL it checks has expired, so run the module (or M(ovpnfleet.dco.tunnel_info) to watch it)
        well within this.
    type: int
    default: 180
requirements:
  - cryptography >= 42.0 where the module runs (the controller); it reads validity dates as UTC-aware values, which older releases lack.
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

- name: Renew the CA when it is within renew_before_days, then hand out the new ca.crt
  ovpnfleet.dco.pki:
    path: "{{ playbook_dir }}/pki"
    ca:
      renew: true
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
      description: Whether the CA was created, renewed or its certificate copied in.
      type: bool
      returned: always
      sample: false
    reasons:
      description: Why it changed; empty when it was kept.
      type: list
      elements: str
      returned: always
      sample: ["renewed with the same key: expires in 12 days (renew_before_days 30)"]
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
modes_fixed:
  description:
    - Private keys and private directories that group or others could reach, with the mode they
      had and the one they were (or in check mode would be) given.
  returned: always
  type: list
  elements: dict
  sample: [{path: /home/ops/vpn/pki/clients/alice.key, before: "0644", after: "0600"}]
  contains:
    path:
      description: The file or directory.
      type: str
      returned: always
      sample: /home/ops/vpn/pki/clients/alice.key
    before:
      description: Its mode before, octal.
      type: str
      returned: always
      sample: "0644"
    after:
      description: Its mode after, octal.
      type: str
      returned: always
      sample: "0600"
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

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.ovpnfleet.dco.plugins.module_utils._errors import DcoError, fail_from_error
from ansible_collections.ovpnfleet.dco.plugins.module_utils.pki import _certificates as pki
from ansible_collections.ovpnfleet.dco.plugins.module_utils.pki._directory import manage_pki

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
        renew=dict(type="bool", default=False),
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


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    if pki.CRYPTOGRAPHY_ERROR:
        module.fail_json(msg=missing_required_lib("cryptography"), exception=pki.CRYPTOGRAPHY_ERROR)
    try:
        result, warnings = manage_pki(module)
    except DcoError as error:
        fail_from_error(module, error)
    for warning in warnings:
        module.warn(warning)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
