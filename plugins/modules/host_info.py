#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: host_info
short_description: Report whether a host can run OpenVPN Data Channel Offload and how to get there
version_added: 0.1.0
description:
  - Reads, without changing anything, what decides whether OpenVPN's data channel offload (DCO)
    can work on a Linux host, and recommends the kernel module flavour and the way to install it.
  - OpenVPN 2.6.2 to 2.6.x needs the out-of-tree C(ovpn-dco-v2) module; OpenVPN 2.7 and newer
    needs the C(ovpn) module, in the kernel since Linux 6.16. A mismatch makes OpenVPN fall back
    to userspace without an error.
  - Reports the kernel release and architecture, the distribution, whether the kernel can load
    modules at all, the OpenVPN version and whether it was built with DCO, both kernel module
    flavours (loaded, built in, installed, version, origin), DKMS state per kernel, kernel headers
    (installed or installable), Secure Boot, kernel lockdown and module signature enforcement,
    and an installed kernel that waits for a reboot.
  - Works on hosts without OpenVPN (it says so, and recommends from the distribution's package
    candidate when there is one).
  - On an OpenVPN Access Server host (detected as M(ovpnfleet.dco.access_server_info) does it,
    by C(/usr/local/openvpn_as/scripts/sacli)) the Access Server version, not the host's
    C(openvpn), decides - C(ovpn-dco-v2) (C(openvpn-dco-dkms) on Debian and Ubuntu,
    C(kmod-ovpn-dco) on RHEL) for AS 2.12 to 3.1, the in-tree C(ovpn) (Linux 6.16 and newer) for
    AS 3.2 and newer, no DCO before 2.12 - and the steps end with the DCO key
    C(vpn.server.daemon.ovpndco) set through M(ovpnfleet.dco.access_server), C(sacli start) and a check.
author: ovpnfleet.dco contributors (@ovpnfleet)
extends_documentation_fragment:
  - ovpnfleet.dco.attributes
  - ovpnfleet.dco.attributes.INFO_MODULE
options:
  openvpn_binary:
    description:
      - The OpenVPN program to ask for its version, by name (looked up in C(PATH) and the sbin
        directories) or by absolute path.
    type: str
    default: openvpn
  sources:
    description:
      - The pinned sources, as the C(ovpn_dco_sources) table of the collection's
        C(kmod/sources.yml). With it the recommendation for a module that must be built names
        the source M(ovpnfleet.dco.kmod) would build (the newest one tested on the host's
        kernels), as the kmod role decides; without it, only the distribution's package can be
        named.
    type: dict
requirements:
  - Linux. C(modinfo), C(dkms), C(apt-cache) and C(mokutil) are used when present; their absence
    is reported, not an error.
notes:
  - Run it with C(become=true); without root some files (for example the EFI variables) may not
    be readable, and the result says V(null) where it could not tell.
seealso:
  - module: ovpnfleet.dco.access_server_info
  - name: OpenVPN DCO readme
    description: What DCO is and which options it supports.
    link: https://github.com/OpenVPN/openvpn/blob/master/README.dco.md
"""

EXAMPLES = r"""
- name: Find out what each host needs for DCO
  ovpnfleet.dco.host_info:
  become: true
  register: dco_host

- name: Stop early on hosts that cannot run DCO
  ansible.builtin.debug:
    msg: "{{ inventory_hostname }}: {{ dco_host.recommendation.reasons | join('; ') }}"
  when: dco_host.recommendation.status == 'unsupported'

- name: Ask a self-built OpenVPN in /opt
  ovpnfleet.dco.host_info:
    openvpn_binary: /opt/openvpn/sbin/openvpn
  become: true
"""

RETURN = r"""
kernel:
  description: The running kernel.
  returned: always
  type: dict
  contains:
    release:
      description: Kernel release, as C(uname -r) prints it.
      type: str
      returned: always
      sample: 6.1.0-50-amd64
    arch:
      description: Machine architecture.
      type: str
      returned: always
      sample: x86_64
    config_source:
      description: Where the kernel config was read from, or V(null) when none was found.
      type: str
      returned: always
      sample: /boot/config-6.1.0-50-amd64
    modules_loadable:
      description: Whether this kernel can load modules at all.
      type: bool
      returned: always
      sample: true
    modules_not_loadable_reason:
      description: Why it cannot, when it cannot.
      type: str
      returned: always
      sample: the kernel is built without module support (CONFIG_MODULES is not set)
distro:
  description: Values from C(/etc/os-release).
  returned: always
  type: dict
  sample: {id: debian, version_id: "12", codename: bookworm, pretty_name: Debian GNU/Linux 12 (bookworm)}
container:
  description: The container technology the host runs in (C(systemd-detect-virt --container)), or V(null).
  returned: always
  type: str
  sample: podman
openvpn:
  description: The installed OpenVPN.
  returned: always
  type: dict
  contains:
    installed:
      description: Whether OpenVPN answered C(--version).
      type: bool
      returned: always
      sample: true
    binary:
      description: The program asked.
      type: str
      returned: always
      sample: openvpn
    version:
      description: OpenVPN version.
      type: str
      returned: always
      sample: 2.6.14
    dco_built:
      description: Whether the build has DCO (C([DCO]) on the first line).
      type: bool
      returned: always
      sample: true
    dco_version:
      description: The C(DCO version) OpenVPN reports, V(null) when it says N/A (module not loaded).
      type: str
      returned: always
      sample: 0.0+git20231103
    version_line:
      description: First line of C(openvpn --version).
      type: str
      returned: always
      sample: OpenVPN 2.6.14 x86_64-pc-linux-gnu [SSL (OpenSSL)] [DCO]
kernel_modules:
  description: Both DCO kernel module flavours, keyed by flavour name (C(ovpn-dco-v2), C(ovpn)).
  returned: always
  type: dict
  contains:
    flavour:
      description: Flavour name.
      type: str
      returned: always
      sample: ovpn
    module:
      description: Module name in C(/sys/module).
      type: str
      returned: always
      sample: ovpn
    loaded:
      description: Whether it is loaded now.
      type: bool
      returned: always
      sample: false
    builtin:
      description: Whether it is built into the kernel.
      type: bool
      returned: always
      sample: false
    version:
      description: Module version from sysfs or modinfo (the in-tree C(ovpn) has none).
      type: str
      returned: always
      sample: 0.0+git20231103
    filename:
      description: The module file modinfo finds for the running kernel.
      type: str
      returned: always
      sample: /lib/modules/7.3.4+deb13-amd64/kernel/drivers/net/ovpn/ovpn.ko.xz
    origin:
      description: Where the file comes from, V(in-tree), V(builtin), V(dkms), V(updates) (a manual build), V(other), or V(null).
      type: str
      returned: always
      sample: in-tree
    vermagic:
      description: The module's vermagic.
      type: str
      returned: always
      sample: 6.1.0-50-amd64 SMP preempt mod_unload modversions
    signer:
      description: Who signed the module file.
      type: str
      returned: always
      sample: DKMS module signing key
    kconfig:
      description: C(CONFIG_OVPN) of the running kernel for the C(ovpn) flavour (V(y), V(m), V(n)); V(null) otherwise.
      type: str
      returned: always
      sample: m
dkms:
  description: DKMS and what it has per kernel.
  returned: always
  type: dict
  contains:
    installed:
      description: Whether C(dkms) is installed.
      type: bool
      returned: always
      sample: true
    modules:
      description: One entry per line of C(dkms status); C(state) is V(added), V(built) or V(installed).
      type: list
      elements: dict
      returned: always
      sample: [{name: ovpn-dco, version: 0.0+git20231103, kernel: 6.1.0-50-amd64, arch: x86_64, state: installed, detail: installed}]
installed_kernels:
  description: Kernel releases with an image in C(/boot) and a C(/lib/modules) tree, oldest first.
  returned: always
  type: list
  elements: str
  sample: [6.1.0-50-amd64, 6.1.0-56-amd64]
pending_reboot_kernel:
  description: An installed kernel newer than the running one, or V(null).
  returned: always
  type: str
  sample: 6.1.0-56-amd64
pending_reboot_kernel_modules:
  description:
    - For the kernel in RV(pending_reboot_kernel), each flavour's module file as C(modinfo -k) finds
      it (C(filename), and C(origin) as in RV(kernel_modules)); V(null) when no kernel waits.
    - A waiting kernel that ships the module OpenVPN needs turns the recommendation into a
      reboot; one that ships the newer flavour adds a note with the order of the move.
  returned: always
  type: dict
  sample: {ovpn: {filename: /lib/modules/7.3.4+deb13-amd64/kernel/drivers/net/ovpn/ovpn.ko.xz, origin: in-tree},
           ovpn-dco-v2: {filename: null, origin: null}}
packages:
  description: What the package manager offers of the packages a DCO rollout may need.
  returned: always
  type: dict
  sample: {manager: apt, packages: {openvpn-dco-dkms: {installed: null, candidate: 0.0+git20231103-1~deb12u1}}}
headers:
  description: Headers for the running kernel.
  returned: always
  type: dict
  contains:
    installed:
      description: Whether C(/lib/modules/RELEASE/build/Makefile) exists.
      type: bool
      returned: always
      sample: false
    build_dir:
      description: The kernel build directory.
      type: str
      returned: always
      sample: /lib/modules/6.1.0-50-amd64/build
    package:
      description: The exact headers package.
      type: str
      returned: always
      sample: linux-headers-6.1.0-50-amd64
    installable:
      description: Whether the package manager offers that package; V(null) when it cannot tell.
      type: bool
      returned: always
      sample: true
    candidate:
      description: The version it would install.
      type: str
      returned: always
      sample: 6.1.158-1
secure_boot:
  description: Secure Boot state and how it was found (mokutil, efivars, or no EFI firmware).
  returned: always
  type: dict
  sample: {enabled: false, source: no EFI firmware}
lockdown:
  description: Kernel lockdown mode (V(none), V(integrity), V(confidentiality)), V(null) without the lockdown LSM.
  returned: always
  type: str
  sample: none
module_signatures_enforced:
  description: The kernel's C(module.sig_enforce), V(null) when the kernel cannot tell.
  returned: always
  type: bool
  sample: false
access_server:
  description:
    - What M(ovpnfleet.dco.access_server_info) reports, with the same keys - C(is_access_server)
      (V(false) and every other key empty on a host without Access Server), C(version),
      C(dco_setting), C(dco_configured), C(dco_available), C(dco_module_version), C(daemons),
      C(interfaces), C(requirement), C(problems). Nothing of AS's configuration but the DCO key.
  returned: always
  type: dict
  sample: {is_access_server: true, version: 2.14.3-d2b0d4b4-Debian12, dco_setting: "false", dco_configured: false,
           dco_available: false, requirement: {supported: true, flavour: ovpn-dco-v2}, problems: []}
recommendation:
  description: What the host needs for DCO.
  returned: always
  type: dict
  contains:
    status:
      description:
        - V(ready) (the right module is loaded), V(actionable) (the collection can get it there) or V(unsupported).
        - On Access Server, V(ready) also needs the DCO key set to V(true).
      type: str
      returned: always
      sample: actionable
    flavour:
      description: The flavour the OpenVPN version (on Access Server, the AS version) needs.
      type: str
      returned: always
      sample: ovpn-dco-v2
    module:
      description: Its module name.
      type: str
      returned: always
      sample: ovpn_dco_v2
    method:
      description:
        - How the module gets there, V(inkernel), V(package), V(dkms) or V(source); V(null) when unsupported.
        - For a module to build, V(source) (a pinned source of O(sources) tested on the host's
          kernels) comes before V(package) (the distribution's package, where apt offers it).
      type: str
      returned: always
      sample: package
    package:
      description: The distro package for method V(package).
      type: str
      returned: always
      sample: openvpn-dco-dkms
    source:
      description: The pinned source (a name in O(sources)) for method V(source), else V(null).
      type: str
      returned: always
      sample: ovpn-dco-v2-debian-0.0+git20241121
    why:
      description: Why this method and source or package, for a module that must be built; else V(null).
      type: str
      returned: always
      sample: no table of pinned sources was given, and apt offers openvpn-dco-dkms 0.0+git20231103-1~deb12u1, which DKMS builds on each host
    build:
      description: How the module is compiled (V(dkms), or V(make) for a pinned source), V(null) when nothing is compiled.
      type: str
      returned: always
      sample: dkms
    steps:
      description:
        - The steps in order.
        - On Access Server the kernel steps (for the kmod role) come first, then setting
          C(vpn.server.daemon.ovpndco) to V(true) with M(ovpnfleet.dco.access_server) (when it is not),
          C(sacli start), and the check.
      type: list
      elements: str
      returned: always
      sample: [apt-get install linux-headers-6.1.0-50-amd64, apt-get install openvpn-dco-dkms, modprobe ovpn-dco-v2]
    reasons:
      description: Why the host cannot run DCO, each with what to do.
      type: list
      elements: str
      returned: always
      sample: []
    notes:
      description: Things to know that do not block DCO (a pending reboot, module signing, a wrong flavour loaded).
      type: list
      elements: str
      returned: always
      sample: []
    access_server:
      description:
        - On Access Server, its C(version), the DCO key as stored (C(dco_setting), V(null) when unset),
          whether DCO is on (C(dco_configured), AS's documented default when the key is unset),
          C(default_enabled) (on from AS 3.0), and what C(sacli VPNSummary) says (C(dco_available),
          C(dco_module_version)). V(null) on other hosts.
      type: dict
      returned: always
      sample: {version: 2.14.3-d2b0d4b4-Debian12, dco_setting: "false", dco_configured: false, default_enabled: false,
               dco_available: false, dco_module_version: Kernel module not loaded}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ovpnfleet.dco.plugins.module_utils._probe import ModuleProbe
from ansible_collections.ovpnfleet.dco.plugins.module_utils.host._facts import gather_access_server, gather_host_facts
from ansible_collections.ovpnfleet.dco.plugins.module_utils.kmod._readiness import recommend


def main():
    module = AnsibleModule(
        argument_spec=dict(openvpn_binary=dict(type="str", default="openvpn"), sources=dict(type="dict")),
        supports_check_mode=True,
    )
    probe = ModuleProbe(module)
    facts = gather_host_facts(probe, module.params["openvpn_binary"])
    facts["access_server"] = gather_access_server(probe)
    facts["recommendation"] = recommend(facts, module.params["sources"])
    module.exit_json(changed=False, **facts)


if __name__ == "__main__":
    main()
