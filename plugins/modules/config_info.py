#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: config_info
short_description: Say whether OpenVPN keeps data channel offload on for a config, and what blocks it
version_added: 0.1.0
description:
  - Parses an OpenVPN config the way OpenVPN does (comments, quoting, inline blocks,
    C(<connection>) blocks, C(config) includes, C(cd)) and applies OpenVPN's own data channel
    offload (DCO) rules for the given OpenVPN version.
  - OpenVPN turns DCO off without failing when a config carries an option DCO cannot serve; it
    logs one note and runs in userspace. This module lists every such option with the note
    OpenVPN prints and the fix, in the order OpenVPN checks them.
  - The rules follow OpenVPN's source, not the option names, and were checked against OpenVPN
    2.6 and 2.7 binaries. For example C(comp-lzo no) turns DCO off, C(compress migrate) does
    not; OpenVPN 2.6 defaults to C(topology net30) even with C(server), 2.7 to C(subnet).
  - Whether the kernel has the DCO module is not part of this answer; see
    M(ovpnfleet.dco.host_info).
author: ovpnfleet.dco contributors (@ovpnfleet)
extends_documentation_fragment:
  - ovpnfleet.dco.attributes
  - ovpnfleet.dco.attributes.INFO_MODULE
options:
  path:
    description:
      - The config file on the host, for example C(/etc/openvpn/server/server.conf).
      - It and every file it includes must be a regular file (a named pipe or a device is
        refused, not read) of at most 1 MiB, and all of them together at most 4 MiB.
      - Exactly one of O(path) and O(content) is required.
    type: path
  content:
    description:
      - The config text itself, for a config that is not on the host yet; at most 1 MiB.
      - Relative C(config) includes are read relative to O(cwd); without O(cwd) the module
        fails on a relative include instead of guessing a directory.
    type: str
  cwd:
    description:
      - The directory OpenVPN runs in (its C(--cd)); relative C(config) includes are opened from
        there, as OpenVPN does.
      - Defaults to the directory of O(path), which is what the systemd units of Debian and of
        OpenVPN use. Required for relative includes in O(content).
      - Files named by other options (C(ca), C(cert), C(key) and the like) are never opened.
    type: path
  openvpn_version:
    description:
      - The OpenVPN version whose rules apply, C(2.6.x) or C(2.7.x). C(2.6) or C(2.7) alone mean
        the newest release of that series the rules know.
      - Defaults to the version C(openvpn --version) reports on the host, else C(2.6).
    type: str
  ignore_rules:
    description:
      - DCO rules, by id (RV(blockers[].rule)), whose blockers are moved from RV(blockers) to
        RV(suppressed), for options a config keeps on purpose (a profile that must use a proxy).
      - OpenVPN does not know about this list, so RV(dco_compatible) still counts those blockers.
      - The ids, what each rule checks and its fix are listed in the collection's C(docs/config.md).
        An id not in the list fails the task and names the known ones.
    type: list
    elements: str
    default: []
    choices:
      - dco-afunix
      - dco-bind-dev
      - dco-cipher-fallback
      - dco-compression
      - dco-data-ciphers
      - dco-dev-type
      - dco-disabled
      - dco-fragment
      - dco-http-proxy
      - dco-management-query-proxy
      - dco-mktun
      - dco-null-device
      - dco-socks-proxy
      - dco-static-key
      - dco-topology
requirements:
  - Nothing on the host; C(openvpn) is asked for its version when O(openvpn_version) is not set.
notes:
  - Nothing the module returns quotes text OpenVPN would not read as a known option - the file
    may be no config at all. An unknown option is returned without its name and text, errors
    name the line and only a known option, and the content of every inline block but the
    public ones (C(ca), C(cert), C(extra-certs), C(dh), C(crl-verify), C(verify-hash),
    C(peer-fingerprint)) is replaced by C(VALUE_SPECIFIED_IN_NO_LOG_PARAMETER), as are the
    lines after a malformed opening tag of a key block such as C(<key >).
  - Bytes that are not UTF-8 (a Latin-1 C(setenv) value) are returned as backslash escapes, so
    the byte 0xE9 becomes the four characters C(\xe9).
  - OpenVPN prints only the first reason it finds. RV(blockers) lists all of them; fixing the
    first shows the next.
  - Some checks depend on the host and are reported in RV(notes), not as blockers - an existing
    non-DCO interface with the fixed C(dev) name, and C(--user) without the capability to keep
    C(CAP_NET_ADMIN).
  - Checks OpenVPN makes only when a peer connects are not covered - a server that pushes no
    C(peer-id) (OpenVPN 2.4.0 to 2.4.4), clients without DATA_V2, compression set in a
    C(client-config-dir) file or a client-connect script.
seealso:
  - module: ovpnfleet.dco.host_info
  - name: OpenVPN DCO readme
    description: What DCO supports.
    link: https://github.com/OpenVPN/openvpn/blob/master/README.dco.md
"""

EXAMPLES = r"""
- name: Check whether the server config keeps DCO on
  ovpnfleet.dco.config_info:
    path: /etc/openvpn/server/server.conf
  register: dco_config

- name: Show what turns DCO off, with the fix
  ansible.builtin.debug:
    msg: "{{ item.file }}:{{ item.line }} {{ item.option }}: {{ item.reason }} -> {{ item.fix }}"
  loop: "{{ dco_config.blockers }}"
  loop_control:
    label: "{{ item.option }}"

- name: Check a profile that must reach its server through a proxy, for everything else
  ovpnfleet.dco.config_info:
    path: /etc/openvpn/client/hotel.conf
    ignore_rules: [dco-http-proxy]
  register: dco_hotel

- name: Judge a client profile for the OpenVPN 2.7 the fleet moves to
  ovpnfleet.dco.config_info:
    content: "{{ lookup('ansible.builtin.file', 'profiles/laptop.ovpn') }}"
    openvpn_version: "2.7"
  delegate_to: localhost
  register: dco_profile
"""

RETURN = r"""
dco_compatible:
  description:
    - V(true) when OpenVPN keeps DCO on for this config (given a kernel with the module),
      V(false) when it turns DCO off, V(null) when OpenVPN would refuse to start with it (see
      RV(errors)).
    - Blockers moved to RV(suppressed) by O(ignore_rules) still make it V(false).
  returned: always
  type: bool
  sample: false
blockers:
  description:
    - The options that turn DCO off, in the order OpenVPN checks them; the first is the one
      OpenVPN logs.
  returned: always
  type: list
  elements: dict
  contains:
    option:
      description: The option to change.
      type: str
      returned: always
      sample: comp-lzo
    file:
      description: The file it is in (an included file when it came from a C(config) line), V(null) when the option is missing.
      type: str
      returned: always
      sample: /etc/openvpn/server/server.conf
    line:
      description: Its line number, V(null) when the option is missing.
      type: int
      returned: always
      sample: 12
    reason:
      description: What OpenVPN logs for it (at C(--verb 3) and up).
      type: str
      returned: always
      sample: "Note: '--allow-compression' is not set to 'no', disabling data channel offload."
    fix:
      description: What to change.
      type: str
      returned: always
      sample: "Replace 'comp-lzo' by 'compress migrate': it keeps serving clients that still announce compression."
    rule:
      description:
        - The stable id of the rule that found it, such as V(dco-compression) or V(dco-topology); it
          does not change when OpenVPN rewords its note. O(ignore_rules) takes these ids.
      type: str
      returned: always
      sample: dco-compression
  sample:
    - option: topology
      file: /etc/openvpn/server/server.conf
      line: 4
      reason: "Note: NOT using '--topology subnet' disables data channel offload."
      fix: Set 'topology subnet' (every 2.x client follows the pushed topology).
      rule: dco-topology
suppressed:
  description:
    - The blockers of the rules named in O(ignore_rules), in the same shape and order as
      RV(blockers). Empty without O(ignore_rules).
  returned: always
  type: list
  elements: dict
  sample:
    - option: http-proxy
      file: /etc/openvpn/client/laptop.conf
      line: 6
      reason: "Note: --http-proxy disables data channel offload."
      fix: "DCO cannot tunnel through an HTTP proxy: connect directly, or keep this profile in userspace."
      rule: dco-http-proxy
errors:
  description: Why OpenVPN would refuse to start with the config, as far as this module knows.
  returned: always
  type: list
  elements: dict
  contains:
    file:
      description: The file, or V(null) when the problem is a missing option.
      type: str
      returned: always
      sample: /etc/openvpn/client/laptop.conf
    line:
      description: The line, or V(null).
      type: int
      returned: always
      sample: 8
    msg:
      description:
        - OpenVPN's message. It names an option only when OpenVPN knows the option; for an
          unknown one it stops before the name, which is text of the file.
      type: str
      returned: always
      sample: "Unrecognized option or missing or extra parameter(s) in /etc/openvpn/client/laptop.conf:8: dev (2.6.14)"
    stage:
      description: When OpenVPN stops - V(parse), V(mutate), V(verify) (before it runs) or V(runtime) (when it sets up the tunnel).
      type: str
      returned: always
      sample: parse
openvpn_warnings:
  description:
    - What OpenVPN only warns about (unknown options it was told to ignore, unsupported optional ciphers, C(config stdin)),
      each with V(file), V(line), V(msg).
    - Not named C(warnings), which Ansible reserves for its own warning strings.
  returned: always
  type: list
  elements: dict
  sample: []
notes:
  description:
    - Options that stay but behave differently with DCO, and conditions only the host decides
      (each with V(option), V(file), V(line), V(msg)).
  returned: always
  type: list
  elements: dict
  sample:
    - option: client-to-client
      file: /etc/openvpn/server/server.conf
      line: 9
      msg: >-
        Note: --client-to-client has no effect when using data channel offload: packets are always
        sent to the VPN interface and then routed based on the system routing table
mode:
  description: V(server), V(client) (C(--client) or C(--pull)) or V(p2p).
  returned: always
  type: str
  sample: server
openvpn_version:
  description: The OpenVPN version whose rules were applied.
  returned: always
  type: str
  sample: 2.6.14
openvpn_version_source:
  description: Where that version came from - V(option), V(installed) or V(default).
  returned: always
  type: str
  sample: installed
files:
  description: The config files read, the top one first, then each include.
  returned: always
  type: list
  elements: str
  sample: [/etc/openvpn/server/server.conf]
options:
  description:
    - Every directive in the order OpenVPN applies it, includes expanded, unknown options
      kept (without their text). Inline keys (C(<key>), C(<tls-crypt>) and the like) are not
      returned.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description:
        - The option, without a leading C(--).
        - V(null) for an option OpenVPN does not know (unless the config names it in
          C(ignore-unknown-option)); its RV(options[].args) are then empty and RV(options[].raw) is V(null).
      type: str
      returned: always
      sample: remote
    args:
      description:
        - Its parameters as OpenVPN reads them; an inline block has its content as the only one.
        - C(VALUE_SPECIFIED_IN_NO_LOG_PARAMETER) in place of secrets - the content of every inline
          block but the public ones and of C(<connection>) (its options are in RV(options[].children)),
          and the parameters of C(auth-token).
      type: list
      elements: str
      returned: always
      sample: ["vpn.example.org", "1194", "udp"]
    file:
      description: The file it is in.
      type: str
      returned: always
      sample: /etc/openvpn/client/laptop.conf
    line:
      description: The first line.
      type: int
      returned: always
      sample: 3
    end_line:
      description: The last line (an inline block spans several).
      type: int
      returned: always
      sample: 3
    raw:
      description:
        - The exact text of those lines; for a secret block its tags around C(VALUE_SPECIFIED_IN_NO_LOG_PARAMETER).
        - V(null) for an unknown option and for C(auth-token).
      type: str
      returned: always
      sample: "remote vpn.example.org 1194 udp\n"
    inline:
      description: Whether it is an inline block.
      type: bool
      returned: always
      sample: false
    level:
      description: 1 for the top file, 2 for a file it includes, and so on.
      type: int
      returned: always
      sample: 1
    children:
      description: The options inside a C(<connection>) block, in the same shape.
      type: list
      elements: dict
      returned: always
      sample: []
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ovpnfleet.dco.plugins.module_utils._errors import DcoError, fail_from_error
from ansible_collections.ovpnfleet.dco.plugins.module_utils._probe import ModuleProbe
from ansible_collections.ovpnfleet.dco.plugins.module_utils.host._facts import parse_openvpn_version
from ansible_collections.ovpnfleet.dco.plugins.module_utils.openvpn._config import parse_file, parse_text, safe_data
from ansible_collections.ovpnfleet.dco.plugins.module_utils.openvpn._dco_rules import RULE_IDS, evaluate

DEFAULT_VERSION = "2.6"

ARGUMENT_SPEC = dict(
    path=dict(type="path"),
    content=dict(type="str", no_log=True),
    cwd=dict(type="path"),
    openvpn_version=dict(type="str"),
    ignore_rules=dict(type="list", elements="str", default=[], choices=list(RULE_IDS)),
)


def installed_openvpn_version(probe):
    """Version of the host's openvpn, or None when it has none."""
    result = probe.run(["openvpn", "--version"])
    return parse_openvpn_version(result.stdout)["version"]


def config_info(params, probe):
    version, source = params["openvpn_version"], "option"
    if version is None:
        version, source = installed_openvpn_version(probe), "installed"
        if version is None:
            version, source = DEFAULT_VERSION, "default"
    if params["path"] is not None:
        parsed = parse_file(params["path"], cwd=params["cwd"])
    else:
        parsed = parse_text(params["content"], cwd=params["cwd"])
    verdict = evaluate(parsed, version, ignore_rules=params["ignore_rules"])
    verdict.update(
        changed=False,
        openvpn_version_source=source,
        files=parsed.files,
        options=[directive.as_dict() for directive in parsed.directives],
    )
    # Option values reach the messages; Ansible refuses strings that are not UTF-8.
    return safe_data(verdict)


def main():
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        mutually_exclusive=[("path", "content")],
        required_one_of=[("path", "content")],
        supports_check_mode=True,
    )
    try:
        result = config_info(module.params, ModuleProbe(module))
    except DcoError as error:
        fail_from_error(module, error)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
