#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: report_files
short_description: Write several report files into one directory in one call
version_added: 0.2.0
description:
  - Writes each entry of O(files) as a file of O(path), each through the collection's one file-write
    helper (a temporary file in the same directory, then a rename), so a reader never sees half a file.
  - Creates O(path) (mode C(0755)) when it is missing.
  - The M(ovpnfleet.dco.tunnel_info) report of the C(health) role (C(fleet.md), C(fleet.json), C(fleet.html),
    C(junit.xml)) is written with one call of this module on the controller, where a loop of
    M(ansible.builtin.copy) ran a module twice per file.
  - Never prints the files' content.
author: ovpnfleet.dco contributors (@ovpnfleet)
extends_documentation_fragment:
  - ovpnfleet.dco.attributes
options:
  path:
    description: The directory to write into.
    type: path
    required: true
  files:
    description:
      - File name to content. A name is a plain file name, without C(/), and not C(.) or C(..).
    type: dict
    required: true
  mode:
    description: Permissions of every file written.
    type: raw
    default: "0644"
attributes:
  check_mode:
    support: full
    details: Says which files would change; writes nothing and creates no directory.
  diff_mode:
    support: none
seealso:
  - module: ansible.builtin.copy
"""

EXAMPLES = r"""
- name: Write the fleet report on the controller
  ovpnfleet.dco.report_files:
    path: /srv/reports/dco
    files: "{{ rows | ovpnfleet.dco.fleet_report_files }}"
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
files:
  description: Every file of O(files), with its full path and whether it changed (or would in check mode).
  type: list
  elements: dict
  returned: always
  sample: [{path: /srv/reports/dco/fleet.md, changed: true}]
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ovpnfleet.dco.plugins.module_utils._errors import DcoError
from ansible_collections.ovpnfleet.dco.plugins.module_utils._files import write_file

ARGUMENT_SPEC = dict(
    path=dict(type="path", required=True),
    files=dict(type="dict", required=True),
    mode=dict(type="raw", default="0644"),
)


class ReportFilesError(DcoError):
    pass


def file_mode(value):
    """An octal string or an int, as Ansible's own ``mode`` options take it."""
    try:
        mode = int(value, 8) if isinstance(value, str) else int(value)
    except (TypeError, ValueError):
        raise ReportFilesError("write report files: mode %r is not an octal number like '0644'" % (value,))
    if not 0 <= mode <= 0o7777:
        raise ReportFilesError("write report files: mode %r is out of range; give one like '0644'" % (value,))
    return mode


def plain_name(name):
    if not name or name in (".", "..") or "/" in name or "\0" in name:
        raise ReportFilesError("write report files: %r is not a plain file name; give names without '/' "
                               "(and not '.' or '..')" % (name,))
    return name


def write_report_files(module, path, files, mode):
    mode = file_mode(mode)
    names = [plain_name(name) for name in sorted(files)]
    if os.path.exists(path) and not os.path.isdir(path):
        raise ReportFilesError("write report files into %s: it exists and is not a directory; choose another path" % path)
    if not module.check_mode:
        try:
            os.makedirs(path, mode=0o755, exist_ok=True)
        except OSError as error:
            raise ReportFilesError("create %s: %s; choose a directory this user can write" % (path, error.strerror or error))
    written = []
    for name in names:
        content = files[name]
        if not isinstance(content, str):
            raise ReportFilesError("write report files: the content of %s is not text" % name)
        target = os.path.join(path, name)
        if module.check_mode and not os.path.isdir(path):
            written.append({"path": target, "changed": True})
            continue
        written.append({"path": target, "changed": write_file(module, target, content, mode=mode)["changed"]})
    return {"changed": any(entry["changed"] for entry in written), "files": written}


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    try:
        result = write_report_files(module, module.params["path"], module.params["files"], module.params["mode"])
    except DcoError as error:
        module.fail_json(msg=str(error))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
