#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: openvpn_restart
short_description: Restart an OpenVPN unit, telling a server's clients to reconnect right away
version_added: 0.2.0
description:
  - Restarts one OpenVPN systemd unit (C(openvpn-server@NAME), C(openvpn-client@NAME) or
    C(openvpn@NAME)) with C(systemctl restart).
  - A server without C(explicit-exit-notify) in its config does not tell its clients that it goes
    away; they notice only at their C(ping-restart), often two minutes later. When the running
    server has a management interface on a unix socket (C(management PATH unix) in its config),
    this module first sends every connected client C(client-kill CID RESTART) through it, the
    same RESTART control message C(explicit-exit-notify) would send, waits O(settle) seconds and
    then restarts the unit. The clients reconnect after their C(connect-retry) pause (one second
    by default since OpenVPN 2.5), to the new process.
  - A management interface that cannot be used (none, a TCP one, a password-protected one, an
    error) is no reason not to restart; RV(management_error) then says why the clients were not
    told. The ovpnfleet.dco.rollout role signals the clients that are hosts of the same run itself.
  - Nothing of the config or the management output is returned.
author: ovpnfleet.dco contributors (@ovpnfleet)
extends_documentation_fragment:
  - ovpnfleet.dco.attributes
attributes:
  check_mode:
    support: full
    details:
      - Check mode finds the unit and its management socket and reports the restart as a change;
        it tells no client and restarts nothing.
  diff_mode:
    support: none
options:
  unit:
    description: The OpenVPN unit to restart, as C(systemctl list-units) names it.
    type: str
    required: true
  settle:
    description:
      - Seconds between telling the clients and the restart, so that the RESTART messages leave
        before the process stops. Keep it below the clients' C(connect-retry) pause, or a client
        may reconnect to the old process.
    type: float
    default: 0.3
requirements:
  - Root (C(become)) to use the management socket and restart the unit.
notes:
  - Tested with OpenVPN 2.6.14 and 2.7.8 servers and clients.
seealso:
  - module: ovpnfleet.dco.tunnel_info
"""

EXAMPLES = r"""
- name: Restart a server; clients reconnect within seconds when it has a management socket
  ovpnfleet.dco.openvpn_restart:
    unit: openvpn-server@office.service
  become: true
  register: restarted

- name: Say whether the clients were told
  ansible.builtin.debug:
    msg: "{{ restarted.clients_told }} clients told to reconnect{{ ': ' ~ restarted.management_error if restarted.management_error else '' }}"
"""

RETURN = r"""
management_socket:
  description: The running server's unix management socket, V(null) for a client or a server without one.
  returned: always
  type: str
  sample: /run/openvpn-server/office.sock
clients_told:
  description: How many clients accepted C(client-kill CID RESTART); 0 in check mode.
  returned: always
  type: int
  sample: 12
management_error:
  description: Why the clients could not be told through the management socket, V(null) when they were or there is none.
  returned: always
  type: str
  sample: null
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ovpnfleet.dco.plugins.module_utils._errors import DcoError, fail_from_error
from ansible_collections.ovpnfleet.dco.plugins.module_utils._probe import ModuleProbe
from ansible_collections.ovpnfleet.dco.plugins.module_utils.tunnels._restart import restart_unit

ARGUMENT_SPEC = dict(
    unit=dict(type="str", required=True),
    settle=dict(type="float", default=0.3),
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    if not 0 <= module.params["settle"] <= 5:
        module.fail_json(msg="restart %s: settle must be between 0 and 5 seconds (the clients' connect-retry pause "
                             "is one second by default), not %s" % (module.params["unit"], module.params["settle"]))
    try:
        result = restart_unit(ModuleProbe(module), module.params["unit"], module.params["settle"], module.check_mode)
    except DcoError as error:
        fail_from_error(module, error)
    module.exit_json(changed=True, **result)


if __name__ == "__main__":
    main()
