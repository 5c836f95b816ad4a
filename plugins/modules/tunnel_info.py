#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: tunnel_info
short_description: Say for every OpenVPN instance of a host whether DCO is really active and the tunnel healthy
version_added: 0.1.0
description:
  - Finds every OpenVPN instance - the systemd units C(openvpn-server@NAME),
    C(openvpn-client@NAME) and C(openvpn@NAME), and openvpn processes started any other way -
    and reports for each what the kernel and OpenVPN say, in one call.
  - The interface OpenVPN opened (from its own log since it started), its link kind read over
    rtnetlink (C(ovpn-dco) for the out-of-tree module, C(ovpn) for the in-tree one, C(tun) in
    userspace), and RV(instances[].dco_active).
  - With DCO active, the peers the kernel holds, over generic netlink (family C(ovpn-dco-v2) or
    C(ovpn)) - peer id, remote and VPN addresses, keepalive, VPN and link byte and packet counters.
  - With DCO off, the reason OpenVPN logged, and what M(ovpnfleet.dco.config_info) says of the config.
  - The management interface when the config has one on a unix socket (clients of a server,
    state of a client), days left on the certificate, CA and CRL, and for clients a ping to the
    server's tunnel address.
  - RV(instances[].healthy) and RV(instances[].problems), each problem saying what to do.
  - Only the host's own instances - those sharing the module's PID namespace and root directory,
    which includes instances started under C(ip netns exec) or in a sandboxed systemd unit -
    are inspected. OpenVPN running in containers on the host is counted in
    RV(foreign_instances) with its pid and namespaces only; none of its files are read.
  - On an OpenVPN Access Server host (detected as M(ovpnfleet.dco.access_server_info) does it),
    AS's own daemons are not plain instances - AS starts them and regenerates their configs. Each
    of its devices C(as0t*) (TCP) and C(as0u*) (UDP) is an instance with RV(instances[].manager)
    V(access_server), no C(unit) and no C(config) (so a rollout never restarts or edits it; switch
    DCO with M(ovpnfleet.dco.access_server)), its link kind, RV(instances[].dco_active) and the
    kernel's peers; RV(access_server) says what AS itself reports. Written from AS's documentation
    and tested against constructed outputs, never against a real Access Server.
  - Log files are read from their end (at most 4 MiB, regular files only) and a unit's journal
    to its last 50000 lines; a problem says whether a log could not be read or said nothing.
author: ovpnfleet.dco contributors (@ovpnfleet)
extends_documentation_fragment:
  - ovpnfleet.dco.attributes
  - ovpnfleet.dco.attributes.INFO_MODULE
options:
  min_cert_days:
    description: A certificate, CA or CRL with fewer days left than this is a problem.
    type: int
    default: 30
  dco_required:
    description: Count an instance running in userspace as a problem.
    type: bool
    default: false
  ping:
    description: Ping the server's tunnel address from every client instance.
    type: bool
    default: true
  openvpn_version:
    description: OpenVPN version whose rules judge the configs; defaults to the host's C(openvpn --version).
    type: str
requirements:
  - cryptography on the host for certificate days (Debian's python3-cryptography 38 or newer).
  - Root (C(become)) to read the kernel's peers, journals and management sockets, and to tell
    containers' processes from the host's (without it they count as the host's).
seealso:
  - module: ovpnfleet.dco.config_info
  - module: ovpnfleet.dco.host_info
  - module: ovpnfleet.dco.access_server_info
"""

EXAMPLES = r"""
- name: Read every tunnel of the host
  ovpnfleet.dco.tunnel_info:
  register: tunnels

- name: Show what is wrong
  ansible.builtin.debug:
    msg: "{{ item.name }}: {{ item.problems | join('; ') }}"
  loop: "{{ tunnels.instances | rejectattr('healthy') }}"
  loop_control:
    label: "{{ item.name }}"

- name: Fail where a tunnel runs in userspace
  ovpnfleet.dco.tunnel_info:
    dco_required: true
    min_cert_days: 14
  register: tunnels
  failed_when: not tunnels.healthy
"""

RETURN = r"""
healthy:
  description: Every instance is healthy (true when the host has none), and Access Server reports no problem.
  returned: always
  type: bool
  sample: true
access_server:
  description:
    - What M(ovpnfleet.dco.access_server_info) says of Access Server - C(is_access_server) (V(false),
      and every other key empty, on other hosts), C(version), C(ready) (API and every daemon on),
      C(dco_setting) (C(vpn.server.daemon.ovpndco) as stored), C(dco_configured), C(dco_available) and
      C(dco_module_version) (C(sacli VPNSummary)), C(clients), C(flavour) (the module its version
      needs), C(readiness) (as RV(readiness), judged by the AS version; V(null) without AS) and
      C(problems), each with what to do.
  returned: always
  type: dict
  sample: {is_access_server: true, version: 2.14.3-d2b0d4b4-Debian12, ready: true, dco_setting: "true",
           dco_configured: true, dco_available: true, dco_module_version: 0.2.20231103, clients: 3,
           flavour: ovpn-dco-v2, readiness: {status: ready, flavour: ovpn-dco-v2, method: dkms, reasons: []},
           problems: []}
readiness:
  description:
    - Whether the host can run DCO at all, as M(ovpnfleet.dco.host_info) recommends - C(status)
      (V(ready), V(actionable), V(unsupported)), C(flavour), C(method) and C(reasons) (for
      example a container on a kernel without module support).
    - Judged by the host's own OpenVPN, for its own instances; Access Server's is in RV(access_server).
  returned: always
  type: dict
  sample: {status: ready, flavour: ovpn-dco-v2, method: null, reasons: []}
openvpn_version:
  description: The host's OpenVPN version, whose rules judged the configs.
  returned: always
  type: str
  sample: 2.6.14
foreign_instances:
  description:
    - OpenVPN processes this host's C(/proc) shows that belong to containers (another PID
      namespace or another root directory than the module's), not to the host. Nothing of
      them is read beyond their namespaces; C(pid) is as the host sees it.
  returned: always
  type: list
  elements: dict
  sample: [{pid: 48213, pid_namespace: 4026532689, mount_namespace: 4026532687, reason: another PID namespace}]
instances:
  description: One entry per OpenVPN instance of the host itself.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Instance name (the unit's instance, else the config's file name; the device for Access Server).
      type: str
      returned: always
      sample: office
    manager:
      description:
        - V(access_server) for a daemon of OpenVPN Access Server (one per C(as0t*)/C(as0u*) device),
          which only M(ovpnfleet.dco.access_server) may switch; V(null) for OpenVPN instances of the host.
      type: str
      returned: always
      sample: null
    transport:
      description: V(tcp) (C(as0t*)) or V(udp) (C(as0u*)).
      type: str
      returned: when manager is access_server
      sample: udp
    unit:
      description: The systemd unit, V(null) for an openvpn started otherwise and for Access Server.
      type: str
      returned: always
      sample: openvpn-server@office.service
    state:
      description: The unit's ActiveState, V(active) for a running process without a unit.
      type: str
      returned: always
      sample: active
    mode:
      description: V(server), V(client) or V(p2p), from the config.
      type: str
      returned: always
      sample: server
    interface:
      description: The tunnel interface OpenVPN opened.
      type: str
      returned: always
      sample: tun0
    link_kind:
      description: Its rtnetlink kind - V(ovpn-dco), V(ovpn) or V(tun).
      type: str
      returned: always
      sample: ovpn-dco
    dco_active:
      description:
        - Whether the kernel carries the data channel.
        - Where the link cannot be read over rtnetlink, what OpenVPN logged (a DCO or a TUN/TAP device
          opened), with the reason among the problems; V(null) when neither could be read.
      type: bool
      returned: always
      sample: true
    dco_off_reason:
      description: Why DCO is off, in OpenVPN's own words when it logged them.
      type: str
      returned: always
      sample: "Note: '--allow-compression' is not set to 'no', disabling data channel offload."
    module:
      description: The kernel module serving the interface, with version and srcversion.
      type: dict
      returned: always
      sample: {name: ovpn_dco_v2, version: 0.2.20231103, srcversion: 4C1F0E0F2C}
    peers:
      description: The peers the kernel holds (DCO only), with byte and packet counters.
      type: list
      elements: dict
      returned: always
      sample: [{id: 0, remote_address: 192.0.2.21, remote_port: 45742, vpn_ipv4: 10.30.0.2, vpn_rx_bytes: 1680}]
    config:
      description: The instance's config file; V(null) for Access Server, whose configs are its own.
      type: str
      returned: always
      sample: /etc/openvpn/server/office.conf
    management:
      description:
        - What the management interface said - C(clients) of a server, C(state) of a client - or C(error).
        - A server without one gets its C(clients) from the C(--status) file OpenVPN rewrites every
          minute (Debian's units pass it), with that file as C(source).
      type: dict
      returned: always
      sample: {clients: [{common_name: alice, vpn_ipv4: 10.8.0.2, bytes_received: 5123}]}
    certificates:
      description: Days left on C(cert), C(ca) and C(crl-verify) (the CRL's next update).
      type: dict
      returned: always
      sample: {cert: {days_left: 824}, ca: {days_left: 3649}, crl-verify: {days_left: 179}}
    vpn_ipv4:
      description:
        - This end's IPv4 tunnel address from the config (C(ifconfig), else the first host of C(server)),
          V(null) when the config gives none (a client gets its address from the server).
        - The enable_dco playbook matches a client's C(ping.target) with it to find the client's server.
      type: str
      returned: always
      sample: 10.8.0.1
    ping:
      description: Clients - the ping to the server's tunnel address.
      type: dict
      returned: always
      sample: {target: 10.30.0.1, ok: true}
    config_dco_compatible:
      description: M(ovpnfleet.dco.config_info)'s verdict on the config.
      type: bool
      returned: always
      sample: true
    config_blockers:
      description:
        - What in the config turns DCO off, with the fix, each with V(option), V(line), V(reason), V(fix)
          and V(rule), the id of the DCO rule that found it (as in M(ovpnfleet.dco.config_info)).
      type: list
      elements: dict
      returned: always
      sample: []
    healthy:
      description: No problems.
      type: bool
      returned: always
      sample: true
    problems:
      description: What is wrong, each with what to do.
      type: list
      elements: str
      returned: always
      sample: []
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ovpnfleet.dco.plugins.module_utils._probe import ModuleProbe
from ansible_collections.ovpnfleet.dco.plugins.module_utils.access_server._server import summary_of
from ansible_collections.ovpnfleet.dco.plugins.module_utils.host._facts import gather_access_server, gather_host_facts
from ansible_collections.ovpnfleet.dco.plugins.module_utils.kmod._readiness import recommend
from ansible_collections.ovpnfleet.dco.plugins.module_utils.tunnels._host import TunnelHost
from ansible_collections.ovpnfleet.dco.plugins.module_utils.tunnels._instances import survey

ARGUMENT_SPEC = dict(
    min_cert_days=dict(type="int", default=30),
    dco_required=dict(type="bool", default=False),
    ping=dict(type="bool", default=True),
    openvpn_version=dict(type="str"),
)


def tunnel_info(params, host):
    access_server = gather_access_server(host.probe)
    # Access Server's verdict follows its own version, whose module may need the packages even
    # where the host's own OpenVPN is ready: only there are they asked on a converged host.
    facts = gather_host_facts(host.probe, packages_if_unloadable=False,
                              packages_if_ready=bool(access_server.get("is_access_server")))
    # readiness is for the host's own instances, judged by its own openvpn; Access Server's
    # daemons get theirs from the AS version, so a host running both is judged right for each.
    readiness = _readiness(recommend(facts))
    facts["access_server"] = access_server
    version = params["openvpn_version"] or facts["openvpn"]["version"] or "2.6"
    found = survey(host, dict(params, openvpn_version=version), access_server=facts["access_server"])
    server = summary_of(facts["access_server"])
    server["readiness"] = _readiness(recommend(facts)) if server["is_access_server"] else None
    return {"changed": False, "openvpn_version": version, "instances": found["instances"],
            "foreign_instances": found["foreign_instances"], "readiness": readiness, "access_server": server,
            "healthy": all(instance["healthy"] for instance in found["instances"]) and not server["problems"]}


def _readiness(recommendation):
    return {key: recommendation[key] for key in ("status", "flavour", "method", "reasons")}


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    module.exit_json(**tunnel_info(module.params, TunnelHost(ModuleProbe(module))))


if __name__ == "__main__":
    main()
