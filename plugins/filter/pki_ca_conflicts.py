# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pki_ca_conflicts: the CA files on a host that another CA than the one at hand would replace."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.ovpnfleet.dco.plugins.plugin_utils import _ca_identity


def pki_ca_conflicts(deployed, at_hand_pem, pki_dir, variable="pki_dir"):
    try:
        return _ca_identity.conflicts(deployed, at_hand_pem, pki_dir, variable)
    except _ca_identity.CaIdentityError as exc:
        raise AnsibleFilterError(str(exc)) from None


class FilterModule:
    def filters(self):
        return {"pki_ca_conflicts": pki_ca_conflicts}
