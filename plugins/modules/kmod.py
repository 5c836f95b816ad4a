#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: kmod
short_description: Build, install, load and keep the DCO kernel module OpenVPN needs
version_added: 0.1.0
description:
  - Gets the OpenVPN data channel offload module that matches the installed OpenVPN onto a
    host for the running kernel and for an installed kernel waiting for a reboot, loads it,
    loads it again at boot, and keeps the other flavour from loading on its own.
  - V(ovpn-dco-v2) serves OpenVPN 2.6 (out of tree); V(ovpn) serves OpenVPN 2.7 (in the kernel
    since Linux 6.16, or built from the ovpn-backports source on older kernels).
  - Works from the host's real state (modinfo per kernel, DKMS status, the loaded module's
    srcversion, and a record of what this module installed in C(/var/lib/ovpnfleet-dco)); a
    second run with the same input changes nothing and compiles nothing.
  - Builds happen before anything replaces a loaded module, so a failed build leaves the
    previous module loaded and the tunnels up. A module in use by tunnels is never unloaded;
    the module fails and lists the devices instead.
author: ovpnfleet.dco contributors (@ovpnfleet)
extends_documentation_fragment:
  - ovpnfleet.dco.attributes
attributes:
  check_mode:
    support: full
    details:
      - Check mode reports the planned steps in RV(steps) and changes nothing.
  diff_mode:
    support: full
    details:
      - The diff lists the planned steps.
options:
  state:
    description:
      - V(present) installs, loads and persists the module; V(absent) unloads it and removes
        what this module installed (files, DKMS registrations, boot-time loading).
    type: str
    choices: [present, absent]
    default: present
  flavour:
    description:
      - Which module. V(auto) picks the one the installed OpenVPN needs, as
        M(ovpnfleet.dco.host_info) recommends; on an OpenVPN Access Server host, the one
        that Access Server's version needs.
    type: str
    choices: [auto, ovpn-dco-v2, ovpn]
    default: auto
  method:
    description:
      - How the module gets onto the host.
      - V(inkernel) uses the module the kernel ships (C(ovpn) on Linux 6.16 and newer).
      - V(package) installs the distribution's DKMS package (Debian's C(openvpn-dco-dkms)).
      - V(dkms) registers O(src) with DKMS, which rebuilds it for new kernels.
      - V(source) compiles O(src) with C(make) against each kernel's build directory.
      - V(artifact) installs a prebuilt O(artifact) whose vermagic matches the kernel.
      - V(auto) takes V(artifact) when O(artifact) is set, V(dkms) when O(src) is set, V(inkernel)
        when the kernel ships the module, else the newest pinned source of O(sources) tested on
        every target kernel (method V(source)), else the distribution's package where apt offers
        it, else the newest pinned source with a warning that no source is known to build there.
      - V(source) and V(dkms) without O(src) take the pinned source chosen the same way from
        O(sources).
    type: str
    choices: [auto, inkernel, package, dkms, source, artifact]
    default: auto
  sources:
    description:
      - The pinned sources, as the C(ovpn_dco_sources) table of the collection's
        C(kmod/sources.yml) (name to C(flavour), C(version), C(url), C(sha256), C(format),
        C(subdir), C(tested_kernels)); the M(ovpnfleet.dco.kmod) role passes it.
      - A kernel matches C(tested_kernels) by the major.minor of its release (C(6.12) for
        C(6.12.118+deb13-amd64)).
    type: dict
  source:
    description:
      - Name of the entry of O(sources) to build, instead of the one chosen by the rule of
        O(method). It is used even where its C(tested_kernels) do not list a target kernel,
        with a warning.
    type: str
  decide_only:
    description:
      - Only decide (flavour, method, source or package, why, warnings, build group) and return
        it in RV(decision); nothing of the module is read or changed, and a host that cannot run
        DCO is reported there instead of failing. The kmod role's preflight asks this.
      - The kernel releases and the architecture are checked against the rule of O(src_version),
        since the role joins them into controller paths.
    type: bool
    default: false
  src:
    description:
      - Source archive on the host (a path) or a URL, for O(method=dkms) and O(method=source).
      - Its sha256 is checked against O(src_sha256) before anything is unpacked.
      - A tarball is refused before anything is written when any member could land outside the
        build directory (an absolute name, C(..), a symlink pointing out or a member written
        through a symlink, a hard link to anything but an earlier file of the archive) or is a
        device or FIFO. Members are unpacked owned by root, without set-id bits.
    type: str
  src_sha256:
    description: The sha256 the source archive must have. Required with O(src).
    type: str
  src_version:
    description:
      - Version of the source, used as the DKMS version (the tree goes to
        C(/usr/src/NAME-VERSION)) and in the install record.
      - Only letters, digits and C(. _ + ~ -), starting with a letter or digit; anything else
        fails before the host is read or changed.
      - With O(method=dkms), an existing C(/usr/src/NAME-VERSION) this module did not put there
        (a package's tree) is left alone and the module fails.
    type: str
  src_format:
    description:
      - V(tar) for a tarball (any compression), V(deb) for a Debian package that carries the
        source tree (like C(openvpn-dco-dkms)).
    type: str
    choices: [tar, deb]
    default: tar
  src_subdir:
    description:
      - The source tree inside the archive (for example C(usr/src/ovpn-dco-0.0+git20231103) in
        the Debian package). Default is the archive's only top-level directory.
      - A relative path whose every name follows the rule of O(src_version).
    type: str
  artifact:
    description:
      - Path on the host of a prebuilt C(.ko), for O(method=artifact). It is installed under its
        own file name, which must end in C(.ko) and follow the rule of O(src_version).
    type: path
  artifact_sha256:
    description: The sha256 O(artifact) must have.
    type: str
  package:
    description: The distribution package for O(method=package). Default is what host_info found.
    type: str
  kernels:
    description:
      - Kernel releases to install for. Default is the running kernel plus an installed newer
        kernel waiting for a reboot.
      - Each follows the rule of O(src_version), as do the releases read from the host.
    type: list
    elements: str
  load:
    description: Load the module now (on the running kernel).
    type: bool
    default: true
  persist:
    description: Load the module at boot, through C(/etc/modules-load.d/ovpnfleet-dco.conf).
    type: bool
    default: true
  block_other_flavour:
    description:
      - Keep an older flavour from loading on its own (C(/etc/modprobe.d/ovpnfleet-dco.conf)).
        C(ovpn) blacklists C(ovpn_dco_v2). C(ovpn-dco-v2) blacklists nothing, since OpenVPN 2.7
        loads C(ovpn) through its alias, and a file of this collection that blacklists C(ovpn)
        is removed.
    type: bool
    default: true
  signing_key:
    description:
      - Private key to sign modules built with O(method=source) or installed with
        O(method=artifact), for kernels that only load signed modules. DKMS signs with its own key.
    type: path
  signing_cert:
    description: Certificate (DER or PEM) that matches O(signing_key). Required with O(signing_key).
    type: path
requirements:
  - Linux with module support, C(modinfo), C(modprobe), C(depmod).
  - For builds, C(make), a compiler and the exact C(linux-headers) of each target kernel (the
    M(ovpnfleet.dco.kmod) role installs them only where a build happens).
seealso:
  - module: ovpnfleet.dco.host_info
"""

EXAMPLES = r"""
- name: Give each host the DCO module its OpenVPN needs
  ovpnfleet.dco.kmod:
  become: true

- name: Build ovpn-dco-v2 from Debian's package source, pinned by sha256
  ovpnfleet.dco.kmod:
    flavour: ovpn-dco-v2
    method: dkms
    src: /var/tmp/openvpn-dco-dkms_0.0+git20231103-1~deb12u1_all.deb
    src_format: deb
    src_subdir: usr/src/ovpn-dco-0.0+git20231103
    src_version: 0.0+git20231103
    src_sha256: 8e84e1a7091a55b970019bfa3f5398965a2d18f45091b5ba9263a54b71ccd0a6
  become: true

- name: Ask which module, method and pinned source each host would get, and why
  ovpnfleet.dco.kmod:
    decide_only: true
    # The table of the collection's kmod/sources.yml, loaded with ansible.builtin.include_vars.
    sources: "{{ ovpn_dco_sources }}"
  register: kmod_decision

- name: Install a module built once on another host with the same kernel
  ovpnfleet.dco.kmod:
    flavour: ovpn-dco-v2
    method: artifact
    artifact: /var/tmp/ovpn-dco-v2.ko
  become: true

- name: Take the module off the host
  ovpnfleet.dco.kmod:
    state: absent
  become: true
"""

RETURN = r"""
flavour:
  description: The flavour that was managed.
  returned: always
  type: str
  sample: ovpn-dco-v2
method:
  description: The method that was used.
  returned: always
  type: str
  sample: dkms
kernels:
  description: The kernel releases that were targeted.
  returned: always
  type: list
  elements: str
  sample: [6.1.0-50-amd64]
steps:
  description: What was done (or, in check mode, would be done), in order.
  returned: always
  type: list
  elements: str
  sample: [register ovpn-dco 0.0+git20231103 with DKMS, load ovpn-dco-v2]
artifacts:
  description:
    - Module files installed by this run, with what a play needs to fetch them to a
      controller-side cache and install them elsewhere with O(method=artifact).
  returned: always
  type: list
  elements: dict
  sample:
    - kernel: 6.1.0-50-amd64
      path: /lib/modules/6.1.0-50-amd64/updates/dkms/ovpn-dco-v2.ko
      sha256: 3f0c5b3d3b3a4c1e9d1f0b7a2d9e8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a392817
      vermagic: 6.1.0-50-amd64 SMP preempt mod_unload modversions
      srcversion: 9B1D2C3E4F5A6B7C8D9E0F1
      origin_sha256: 8e84e1a7091a55b970019bfa3f5398965a2d18f45091b5ba9263a54b71ccd0a6
loaded:
  description: Whether the module is loaded at the end.
  returned: always
  type: bool
  sample: true
decision:
  description: What O(decide_only) decided, for a role or playbook to sequence and print.
  returned: when O(decide_only=true)
  type: dict
  contains:
    status:
      description: The host's readiness, as M(ovpnfleet.dco.host_info) says it (V(ready), V(actionable), V(unsupported)).
      type: str
      returned: always
      sample: actionable
    reasons:
      description: Why the host cannot run DCO, each with what to do.
      type: list
      elements: str
      returned: always
      sample: []
    skip:
      description: True when the host cannot run DCO; nothing else was decided.
      type: bool
      returned: always
      sample: false
    flavour:
      description: The flavour, V(null) when skipped.
      type: str
      returned: always
      sample: ovpn-dco-v2
    method:
      description: V(inkernel), V(package), V(source), V(dkms) or V(artifact); V(null) when skipped.
      type: str
      returned: always
      sample: source
    source:
      description: The name of the pinned source to build (in O(sources)), or V(null).
      type: str
      returned: always
      sample: ovpn-dco-v2-debian-0.0+git20241121
    version:
      description: Its version, or V(null).
      type: str
      returned: always
      sample: 0.0+git20241121
    package:
      description: The distribution package for method V(package), or V(null).
      type: str
      returned: always
      sample: openvpn-dco-dkms
    why:
      description: Why this method and source (or why nothing).
      type: str
      returned: always
      sample: ovpn-dco-v2-debian-0.0+git20241121 is the newest pinned ovpn-dco-v2 source tested on 6.12 (tested on 6.1, 6.12)
    warnings:
      description: What may fail later (a build no pinned source is known to succeed at), also given as module warnings.
      type: list
      elements: str
      returned: always
      sample: []
    kernels:
      description: The target kernel releases, running one first, checked as path names.
      type: list
      elements: str
      returned: always
      sample: [6.12.118+deb13-amd64]
    arch:
      description: The machine architecture, checked as a path name.
      type: str
      returned: always
      sample: x86_64
    module_file:
      description: The file name of the built module, or V(null) when skipped.
      type: str
      returned: always
      sample: ovpn-dco-v2.ko
    build_key:
      description: Hosts with the same key build once between them (method V(source)); V(null) otherwise.
      type: str
      returned: always
      sample: ovpn-dco-v2-debian-0.0+git20241121_6.12.118+deb13-amd64_x86_64
    summary:
      description: One line for a plan, V(null) when skipped.
      type: str
      returned: always
      sample: ovpn-dco-v2 by method source from 0.0+git20241121
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ovpnfleet.dco.plugins.module_utils._errors import DcoError, fail_from_error
from ansible_collections.ovpnfleet.dco.plugins.module_utils._generations import GENERATIONS
from ansible_collections.ovpnfleet.dco.plugins.module_utils.kmod._service import manage_kmod

ARGUMENT_SPEC = dict(
    state=dict(type="str", choices=["present", "absent"], default="present"),
    flavour=dict(type="str", choices=["auto"] + list(GENERATIONS), default="auto"),
    method=dict(type="str", choices=["auto", "inkernel", "package", "dkms", "source", "artifact"],
                default="auto"),
    sources=dict(type="dict"),
    source=dict(type="str"),
    decide_only=dict(type="bool", default=False),
    src=dict(type="str"),
    src_sha256=dict(type="str"),
    src_version=dict(type="str"),
    src_format=dict(type="str", choices=["tar", "deb"], default="tar"),
    src_subdir=dict(type="str"),
    artifact=dict(type="path"),
    artifact_sha256=dict(type="str"),
    package=dict(type="str"),
    kernels=dict(type="list", elements="str"),
    load=dict(type="bool", default=True),
    persist=dict(type="bool", default=True),
    block_other_flavour=dict(type="bool", default=True),
    # A path to the key, not the key: nothing secret to hide.
    signing_key=dict(type="path", no_log=False),
    signing_cert=dict(type="path"),
)


def main():
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        supports_check_mode=True,
        required_together=[("src", "src_sha256"), ("signing_key", "signing_cert")],
        required_if=[("method", "dkms", ("src", "sources"), True), ("method", "source", ("src", "sources"), True),
                     ("method", "artifact", ("artifact",))],
        required_by={"source": ("sources",)},
    )
    try:
        result = manage_kmod(module)
    except DcoError as error:
        fail_from_error(module, error)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
