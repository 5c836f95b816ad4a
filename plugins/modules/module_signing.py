#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: module_signing
short_description: Make a kernel module signing key, and read or request its enrolment as a MOK
version_added: "1.1.0"
description:
  - Makes a self-signed module signing key and certificate (RSA 2048, codeSigning) with the
    C(cryptography) library when O(generate=true) and neither file exists. The kmod module signs
    the modules it builds with them (O(ovpnfleet.dco.kmod#module:signing_key)).
  - Reads whether the certificate is in the MOK list (C(mokutil --test-key)), the list of keys
    shim gives the kernel on a Secure Boot machine.
  - With O(mok=enroll), requests the enrolment (C(mokutil --import), the password on its standard
    input). The enrolment ends only at the console, in MokManager at the next boot; RV(console_action)
    says what the person there does. See docs/secure_boot.md.
  - The key is never read into the result; the password is not logged.
author: ovpnfleet.dco contributors (@ovpnfleet)
extends_documentation_fragment: [ovpnfleet.dco.attributes]
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
options:
  key:
    description: Private key (unencrypted PEM), as C(sign-file) reads it. Written with mode 0600 when generated.
    type: path
    required: true
  cert:
    description: Certificate of O(key), DER or PEM. Generated as DER, the form C(mokutil) takes.
    type: path
    required: true
  generate:
    description: Make O(key) and O(cert) when neither exists. An existing pair is kept as it is.
    type: bool
    default: false
  common_name:
    description: Common name of a generated certificate; MokManager shows it at the console.
    type: str
    default: ovpnfleet.dco module signing key
  valid_days:
    description: Validity of a generated certificate. The kernel does not check it.
    type: int
    default: 3650
  mok:
    description:
      - V(ignore) does not look at the MOK list (on a controller, for example).
      - V(check) reports RV(mok_state).
      - V(enroll) also requests the enrolment when the key is not enrolled nor requested.
    type: str
    choices: [ignore, check, enroll]
    default: check
  mok_password:
    description: One-time password the person at the console types in MokManager. Required with O(mok=enroll).
    type: str
requirements:
  - cryptography (to generate or check the key)
  - mokutil, for O(mok=check) and O(mok=enroll) on a UEFI host
notes:
  - Debian's kernels trust MOKs for module signatures; so do those of other distributions that
    ship shim. A kernel booted with C(module.sig_enforce=1) and no Secure Boot trusts only its
    built-in keys, and no MOK helps there.
"""

EXAMPLES = r"""
- name: Make the fleet's module signing key once, on the controller
  ovpnfleet.dco.module_signing:
    key: "{{ lookup('env', 'HOME') }}/.cache/ovpnfleet-dco/signing/key.pem"
    cert: "{{ lookup('env', 'HOME') }}/.cache/ovpnfleet-dco/signing/cert.der"
    generate: true
    mok: ignore
  delegate_to: localhost
  run_once: true

- name: Request its enrolment on a Secure Boot host (confirmed at the console at the next boot)
  ovpnfleet.dco.module_signing:
    key: /var/lib/ovpnfleet-dco/signing/key.pem
    cert: /var/lib/ovpnfleet-dco/signing/cert.der
    mok: enroll
    mok_password: "{{ vault_mok_password }}"
"""

RETURN = r"""
key:
  description: Path of the private key.
  returned: always
  type: str
  sample: /var/lib/ovpnfleet-dco/signing/key.pem
cert:
  description: Path of the certificate.
  returned: always
  type: str
  sample: /var/lib/ovpnfleet-dco/signing/cert.der
generated:
  description: Whether this run made the key and certificate.
  returned: always
  type: bool
  sample: false
fingerprint_sha256:
  description: SHA-256 of the DER certificate, to compare with what MokManager shows. V(null) in check mode before generation.
  returned: always
  type: str
  sample: 3f0c5e0d6c7a4f0e9b1d2c3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c
mok_state:
  description:
    - V(enrolled), V(pending) (requested, waiting for the console), V(not_enrolled), V(no_efi)
      (no MOK list on this boot), or V(null) with O(mok=ignore) or without mokutil.
  returned: always
  type: str
  sample: pending
enrollment_requested:
  description: Whether this run asked for the enrolment (mokutil --import).
  returned: always
  type: bool
  sample: true
signatures_required:
  description:
    - Whether the running kernel loads only signed modules (lockdown, which Secure Boot turns on,
      or C(module.sig_enforce=1)). V(null) with O(mok=ignore).
  returned: always
  type: bool
  sample: true
console_action:
  description: What a person must do at the console for the kernel to trust the key; empty when nothing.
  returned: always
  type: str
  sample: "enrolment of /var/lib/ovpnfleet-dco/signing/cert.der (sha256 3f0c...) is requested: at the next boot, ..."
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.ovpnfleet.dco.plugins.module_utils._errors import DcoError, fail_from_error
from ansible_collections.ovpnfleet.dco.plugins.module_utils.kmod import _signing
from ansible_collections.ovpnfleet.dco.plugins.module_utils.kmod._signing_service import manage_signing

ARGUMENT_SPEC = dict(
    key=dict(type="path", required=True, no_log=False),
    cert=dict(type="path", required=True),
    generate=dict(type="bool", default=False),
    common_name=dict(type="str", default="ovpnfleet.dco module signing key"),
    valid_days=dict(type="int", default=3650),
    mok=dict(type="str", choices=["ignore", "check", "enroll"], default="check"),
    mok_password=dict(type="str", no_log=True),
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True,
                           required_if=[("mok", "enroll", ("mok_password",))])
    if _signing.x509 is None:
        module.fail_json(msg=missing_required_lib("cryptography"))
    try:
        result = manage_signing(module)
    except DcoError as error:
        fail_from_error(module, error)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
