#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: access_server
short_description: Switch OpenVPN Access Server's data channel offload on or off
version_added: 0.1.0
description:
  - Sets OpenVPN Access Server's (AS) DCO key C(vpn.server.daemon.ovpndco) to C(true) or C(false)
    through C(sacli), the way AS's documentation does, and applies it with C(sacli start).
  - Reads the key from C(sacli ConfigQuery) first and changes nothing when it already holds the
    wanted value, so a second run reports no change and restarts nothing. C(sacli start) runs
    only after a change, or when O(restart) asks for it.
  - Waits until C(sacli status) shows the API and every OpenVPN daemon on before the change, and
    again after C(sacli start), up to O(timeout) seconds each time.
  - Refuses O(dco=enabled) on AS before 2.12, which cannot do DCO, and when the AS version cannot
    be read. Warns when AS 3.2 or newer runs on a kernel older than Linux 6.16 (it uses the in-tree
    C(ovpn) module), and when AS reports the DCO module unavailable after the change.
  - Installing the kernel module is not part of this module; see M(ovpnfleet.dco.kmod) and
    RV(flavour).
  - Written from AS's documentation of these commands, and tested against constructed outputs
    only, never against a real Access Server.
author: ovpnfleet.dco contributors (@ovpnfleet)
extends_documentation_fragment:
  - ovpnfleet.dco.attributes
attributes:
  check_mode:
    support: full
    details:
      - Check mode reads the key and the daemons' state and reports the change it would make;
        it neither writes the key nor runs C(sacli start).
  diff_mode:
    support: full
    details:
      - The diff shows the key before and after.
options:
  dco:
    description: V(enabled) sets the key to C(true), V(disabled) to C(false).
    type: str
    choices: [enabled, disabled]
    required: true
  restart:
    description:
      - Run C(sacli start) (and wait as after a change) even when the key already holds the wanted
        value. AS's daemons open DCO devices only when they start, so a DCO module installed or
        upgraded while the key is already on takes effect only then. Reported as a change.
    type: bool
    default: false
  timeout:
    description:
      - Seconds to wait for the API and every OpenVPN daemon to be on, before the change and
        again after C(sacli start).
    type: int
    default: 180
requirements:
  - Root (C(become)); C(sacli) only answers root without credentials.
notes:
  - C(sacli start) restarts AS's OpenVPN daemons, which drops the connected clients; they
    reconnect on their own.
  - The AS configuration holds secrets; this module reads only the DCO key from it and returns
    nothing else of it.
seealso:
  - module: ovpnfleet.dco.access_server_info
  - module: ovpnfleet.dco.kmod
  - name: Turn on OpenVPN DCO in Access Server
    description: AS's tutorial for verifying and troubleshooting DCO.
    link: https://openvpn.net/as-docs/v3/tutorials/tutorial--turn-on-openvpn-dco.html
"""

EXAMPLES = r"""
- name: Switch DCO on in Access Server
  ovpnfleet.dco.access_server:
    dco: enabled
  become: true
  register: access_server

- name: Restart AS's daemons after the DCO module was installed, the key being on already
  ovpnfleet.dco.access_server:
    dco: enabled
    restart: true
  become: true

- name: Switch DCO off again, giving a slow host more time to come back
  ovpnfleet.dco.access_server:
    dco: disabled
    timeout: 600
  become: true
"""

RETURN = r"""
version:
  description: Version of the installed C(openvpn-as) package, V(null) when it could not be read.
  returned: always
  type: str
  sample: 2.14.3-d2b0d4b4-Debian12
flavour:
  description:
    - The DCO module this AS version needs, as M(ovpnfleet.dco.kmod) names it (V(ovpn-dco-v2) or
      V(ovpn)), V(null) when it cannot do DCO.
  returned: always
  type: str
  sample: ovpn-dco-v2
dco_before:
  description: The key's value before, as stored (a string), V(null) when it was unset.
  returned: always
  type: str
  sample: "false"
dco_after:
  description:
    - The key's value after (in check mode, the value it would have); V(null) when it was unset
      and stays so (O(dco=disabled) on AS before 3.0, where off is the default).
  returned: always
  type: str
  sample: "true"
restarted:
  description: C(sacli start) ran (after a change, or for O(restart)).
  returned: always
  type: bool
  sample: true
daemons:
  description: Each OpenVPN daemon of C(sacli status) and its state at the end.
  returned: always
  type: dict
  sample: {openvpn_0: "on", openvpn_1: "on"}
dco_available:
  description: C(ovpn_dco_available) of C(sacli VPNSummary) at the end, V(null) when AS does not report it.
  returned: always
  type: bool
  sample: true
dco_module_version:
  description: C(ovpn_dco_ver) of C(sacli VPNSummary) at the end.
  returned: always
  type: str
  sample: 0.2.20231103
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ovpnfleet.dco.plugins.module_utils._errors import DcoError, fail_from_error
from ansible_collections.ovpnfleet.dco.plugins.module_utils.access_server._server import AccessServerHost, switch_dco

ARGUMENT_SPEC = dict(
    dco=dict(type="str", choices=["enabled", "disabled"], required=True),
    timeout=dict(type="int", default=180),
    restart=dict(type="bool", default=False),
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    if module.params["timeout"] < 0:
        module.fail_json(msg="check timeout: %d is negative: give the seconds to wait, 0 or more"
                         % module.params["timeout"])
    try:
        result, diff, warnings = switch_dco(AccessServerHost(module), module.params["dco"],
                                            module.params["timeout"], module.check_mode,
                                            restart=module.params["restart"])
    except DcoError as error:
        fail_from_error(module, error)
    for warning in warnings:
        module.warn(warning)
    if module._diff:
        result["diff"] = diff
    module.exit_json(**result)


if __name__ == "__main__":
    main()
