#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: access_server_info
short_description: Report OpenVPN Access Server's DCO state - configured, available, in use
version_added: 0.1.0
description:
  - Says whether the host is an OpenVPN Access Server (AS) host (C(/usr/local/openvpn_as/scripts/sacli)
    exists) and, when it is, reads without changing anything
    the AS version (package C(openvpn-as), from C(dpkg-query) or C(rpm)),
    whether DCO is switched on in AS's configuration (key C(vpn.server.daemon.ovpndco) of
    C(sacli ConfigQuery); only that key is kept),
    whether AS finds the DCO module and its version (C(sacli VPNSummary)),
    the API and OpenVPN daemons and whether they are on (C(sacli status)),
    the link kind of AS's tunnel devices C(as0t*) (TCP) and C(as0u*) (UDP) - V(ovpn-dco) or V(ovpn)
    when the kernel carries the data channel, V(tun) in userspace - and the clients connected.
  - Says which DCO module the AS version needs on this kernel - C(ovpn-dco-v2) (package
    C(openvpn-dco-dkms) on Debian and Ubuntu, C(kmod-ovpn-dco) on RHEL) for AS 2.12 to 3.1, the
    in-tree C(ovpn) (Linux 6.16 and newer) for AS 3.2 and newer - and that AS before 2.12 cannot
    do DCO.
  - A host without AS is not an error; RV(is_access_server) is V(false).
  - Written from AS's documentation of these commands, and tested against constructed outputs
    only, never against a real Access Server.
author: ovpnfleet.dco contributors (@ovpnfleet)
extends_documentation_fragment:
  - ovpnfleet.dco.attributes
  - ovpnfleet.dco.attributes.INFO_MODULE
options: {}
requirements:
  - Root (C(become)); C(sacli) only answers root without credentials.
  - C(ip) from iproute2 with JSON output (C(-j)) for the link kinds.
notes:
  - The AS configuration holds secrets; this module reads only the DCO key from it and returns
    nothing else of it.
seealso:
  - module: ovpnfleet.dco.access_server
  - module: ovpnfleet.dco.host_info
  - name: OpenVPN DCO in Access Server
    description: AS's own page on DCO per version.
    link: https://openvpn.net/as-docs/v3/openvpn-data-channel-offload.html
"""

EXAMPLES = r"""
- name: Read the DCO state of Access Server
  ovpnfleet.dco.access_server_info:
  become: true
  register: access_server

- name: Show what stands in the way of DCO
  ansible.builtin.debug:
    msg: "{{ access_server.problems | join('; ') }}"
  when: access_server.is_access_server and access_server.problems
"""

RETURN = r"""
is_access_server:
  description: C(/usr/local/openvpn_as/scripts/sacli) exists. Every other key is empty or V(null) when not.
  returned: always
  type: bool
  sample: true
sacli:
  description: Path of C(sacli), V(null) without Access Server.
  returned: always
  type: str
  sample: /usr/local/openvpn_as/scripts/sacli
version:
  description: Version of the installed C(openvpn-as) package, V(null) when no package manager knows it.
  returned: always
  type: str
  sample: 2.14.3-d2b0d4b4-Debian12
kernel:
  description: The running kernel's release.
  returned: always
  type: str
  sample: 6.1.0-56-amd64
api:
  description: State of AS's API service in C(sacli status) (V(on) or V(off)).
  returned: always
  type: str
  sample: "on"
daemons:
  description: Each OpenVPN daemon of C(sacli status) and its state.
  returned: always
  type: dict
  sample: {openvpn_0: "on", openvpn_1: "on"}
ready:
  description: The API and every OpenVPN daemon (at least one) are on.
  returned: always
  type: bool
  sample: true
service_errors:
  description: The C(errors) AS lists in C(sacli status).
  returned: always
  type: dict
  sample: {}
dco_setting:
  description: The value of C(vpn.server.daemon.ovpndco) as stored (a string), V(null) when unset.
  returned: always
  type: str
  sample: "true"
dco_configured:
  description:
    - Whether DCO is switched on in AS's configuration; when the key is unset, AS's documented
      default (off before 3.0, on from 3.0). V(null) when unknown.
  returned: always
  type: bool
  sample: true
dco_available:
  description: C(ovpn_dco_available) of C(sacli VPNSummary), V(null) when AS does not report it.
  returned: always
  type: bool
  sample: true
dco_module_version:
  description: C(ovpn_dco_ver) of C(sacli VPNSummary) - the module version, or why there is none.
  returned: always
  type: str
  sample: 0.2.20231103
clients:
  description: C(n_clients) of C(sacli VPNSummary).
  returned: always
  type: int
  sample: 12
interfaces:
  description: AS's tunnel devices, their transport and link kind, and whether DCO carries them.
  returned: always
  type: list
  elements: dict
  sample: [{name: as0t0, transport: tcp, kind: ovpn-dco, dco: true}, {name: as0u0, transport: udp, kind: ovpn-dco, dco: true}]
requirement:
  description:
    - What this AS version needs for DCO on this kernel - C(supported) (V(null) when the version
      is unknown), C(flavour) (V(ovpn-dco-v2) or V(ovpn), as M(ovpnfleet.dco.kmod) names them),
      C(module), C(packages) (C(deb) and C(rpm) names for V(ovpn-dco-v2), V(null) otherwise),
      C(default_enabled), C(reasons) (why DCO cannot work) and C(notes).
  returned: always
  type: dict
  sample:
    supported: true
    flavour: ovpn-dco-v2
    module: ovpn_dco_v2
    packages: {deb: openvpn-dco-dkms, rpm: kmod-ovpn-dco}
    default_enabled: false
    reasons: []
    notes: []
problems:
  description: What keeps DCO from working as configured, each with what to do.
  returned: always
  type: list
  elements: str
  sample: ["DCO is on in the configuration but Access Server reports it unavailable (Kernel module not loaded): ..."]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ovpnfleet.dco.plugins.module_utils.access_server._server import AccessServerHost, gather_info

ARGUMENT_SPEC = dict()


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    info = gather_info(AccessServerHost(module))
    module.exit_json(changed=False, **info)


if __name__ == "__main__":
    main()
