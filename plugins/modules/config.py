#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: config
short_description: Make an OpenVPN config keep data channel offload on, with the smallest edit
version_added: 0.1.0
description:
  - Edits an existing OpenVPN config so that OpenVPN keeps data channel offload (DCO) on, using
    the rules of M(ovpnfleet.dco.config_info) for the OpenVPN version on the host. Only the lines
    that block DCO change; a removed line stays as a comment saying why; comments, order and
    options the module does not know are kept byte for byte.
  - Each edit says what peers notice (RV(edits[].impact)) - V(none); V(compatible), peers of
    OpenVPN 2.4 or newer follow by themselves (a server's compression becomes C(compress migrate),
    non-AEAD ciphers leave C(data-ciphers), C(topology subnet)); V(breaking), some peers cannot
    connect until they change too (C(fragment), C(data-ciphers-fallback), a p2p C(cipher)).
    Breaking edits are applied only with O(allow_breaking); otherwise they are listed in
    RV(not_edited) and the config keeps them.
  - With O(dco=disabled) it adds C(disable-dco) instead, to run the instance in userspace on purpose.
  - Restarting OpenVPN is the caller's job; the module only writes the file.
author: ovpnfleet.dco contributors (@ovpnfleet)
extends_documentation_fragment:
  - ovpnfleet.dco.attributes
attributes:
  check_mode:
    support: full
    details:
      - Check mode computes the same edits and writes nothing.
  diff_mode:
    support: full
    details:
      - The diff is the whole file before and after.
options:
  path:
    description: The config file, for example C(/etc/openvpn/server/office.conf).
    type: path
    required: true
  cwd:
    description: OpenVPN's working directory for relative includes; defaults to the directory of O(path).
    type: path
  openvpn_version:
    description:
      - The OpenVPN version whose rules apply (V(2.6.14), V(2.7)); defaults to the version
        C(openvpn --version) reports on the host, else V(2.6).
    type: str
  dco:
    description: V(enabled) removes what blocks DCO; V(disabled) adds C(disable-dco).
    type: str
    choices: [enabled, disabled]
    default: enabled
  allow_breaking:
    description: Also apply edits some peers cannot follow by themselves (see RV(edits[].impact)).
    type: bool
    default: false
  backup:
    description: Keep a timestamped copy of the file before changing it.
    type: bool
    default: true
notes:
  - A config OpenVPN would refuse, an unreadable file or an include loop fails the module and
    nothing is written. Blockers in an included file are reported in RV(not_edited), not edited.
  - When O(path) is a symlink, the file it points to is edited and the link stays; the backup is
    made next to that file. A file with more than one hard link is refused (replacing it would
    leave the other names with the old content), as are a dangling link, a directory, a FIFO or
    a device, and a file larger than 1 MiB.
  - Changed and added lines end like the file's lines (LF or CRLF); bytes that are not UTF-8 are
    written back as they were and shown as C(\xNN) in the result.
  - A backup is kept only when the write succeeds.
  - Servers first, clients second - a client's compression can only go once its server runs
    C(compress migrate) or no compression; the C(enable_dco) playbook orders hosts that way.
seealso:
  - module: ovpnfleet.dco.config_info
"""

EXAMPLES = r"""
- name: Make the office server keep DCO on (backup, compatible edits only)
  ovpnfleet.dco.config:
    path: /etc/openvpn/server/office.conf
  register: dco_config_edit

- name: Say what clients will notice and what was left
  ansible.builtin.debug:
    msg: "{{ dco_config_edit.edits | map(attribute='impact') | list }} / left: {{ dco_config_edit.not_edited | map(attribute='why') | list }}"

- name: Run one instance in userspace on purpose
  ovpnfleet.dco.config:
    path: /etc/openvpn/server/office.conf
    dco: disabled
"""

RETURN = r"""
dco_compatible:
  description: Whether OpenVPN keeps DCO on with the config as it is now (after the edits).
  returned: always
  type: bool
  sample: true
dco_compatible_before:
  description: The same for the config before the edits.
  returned: always
  type: bool
  sample: false
edits:
  description: The lines changed, in the order they were made.
  returned: always
  type: list
  elements: dict
  contains:
    option:
      description: The option the edit is about.
      type: str
      returned: always
      sample: comp-lzo
    line:
      description:
        - The line's number in the file as written, after all edits of the run. A line commented
          out keeps its number; an added line (C(topology subnet), C(disable-dco)) moves the lines
          below it, and the numbers of earlier edits say so.
      type: int
      returned: always
      sample: 12
    before:
      description: The line before (empty for an added line).
      type: str
      returned: always
      sample: comp-lzo
    after:
      description: The line after.
      type: str
      returned: always
      sample: compress migrate
    impact:
      description: V(none), V(compatible) or V(breaking), see the description.
      type: str
      returned: always
      sample: compatible
    why:
      description: What peers notice.
      type: str
      returned: always
      sample: clients that still compress keep connecting
    rule:
      description:
        - The id of the DCO rule whose fix this is (as in M(ovpnfleet.dco.config_info)'s RV(ovpnfleet.dco.config_info#module:blockers[].rule)),
          V(null) for the C(disable-dco) line O(dco=disabled) adds.
      type: str
      returned: always
      sample: dco-compression
not_edited:
  description:
    - Blockers left in the config, each with the reason it was not edited.
    - Named so because Ansible reserves C(skipped) - a task returning it shows as skipped and its
      handlers never run, although the file was written.
  returned: always
  type: list
  elements: dict
  contains:
    option:
      description: The option of the blocker.
      type: str
      returned: always
      sample: fragment
    file:
      description: The file it is in.
      type: str
      returned: always
      sample: /etc/openvpn/server/office.conf
    line:
      description: Its line.
      type: int
      returned: always
      sample: 9
    why:
      description: Why it was not edited, and what to do.
      type: str
      returned: always
      sample: "breaking: both ends must drop 'fragment' together"
    rule:
      description: The id of the DCO rule that found it.
      type: str
      returned: always
      sample: dco-fragment
  sample: [{option: fragment, file: /etc/openvpn/server/office.conf, line: 9, why: "breaking: both ends must drop 'fragment' together", rule: dco-fragment}]
blockers:
  description: What still turns DCO off, as M(ovpnfleet.dco.config_info) reports it.
  returned: always
  type: list
  elements: dict
  sample: []
openvpn_version:
  description: The OpenVPN version whose rules were applied.
  returned: always
  type: str
  sample: 2.6.14
backup_file:
  description: The backup made, when the file changed and O(backup) is set.
  returned: when changed and O(backup) is set
  type: str
  sample: /etc/openvpn/server/office.conf.12345.2026-11-25@10:00:00~
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ovpnfleet.dco.plugins.module_utils._errors import DcoError, fail_from_error
from ansible_collections.ovpnfleet.dco.plugins.module_utils._probe import ModuleProbe
from ansible_collections.ovpnfleet.dco.plugins.module_utils.openvpn._config_service import fix_config

ARGUMENT_SPEC = dict(
    path=dict(type="path", required=True),
    cwd=dict(type="path"),
    openvpn_version=dict(type="str"),
    dco=dict(type="str", choices=["enabled", "disabled"], default="enabled"),
    allow_breaking=dict(type="bool", default=False),
    backup=dict(type="bool", default=True),
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    try:
        result = fix_config(module, ModuleProbe(module))
    except DcoError as error:
        fail_from_error(module, error)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
