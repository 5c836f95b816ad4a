# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who the kmod role stops while it swaps a loaded DCO module, as a pure function.

A loaded module cannot be replaced while a tunnel uses it, so the role stops the OpenVPN
that may hold it and starts it again afterwards. The host's own OpenVPN runs as systemd units
(``openvpn@NAME``, ``openvpn-server@NAME``, ``openvpn-client@NAME``, ``openvpn``). OpenVPN Access
Server's unit is named ``openvpnas`` too, but stopping it takes down AS's web services and API with
its daemons, and AS is managed only through ``sacli``: its daemons leave the module with ``sacli
stop`` and come back with ``sacli start``, never through the unit.
"""

from __future__ import annotations

import re

OPENVPN_UNIT = re.compile(r"^openvpn")
# Access Server's own units (``openvpnas.service`` on its packages); the dashed and underscored
# spellings are matched too, so no spelling of AS's unit ever falls into the generic swap.
ACCESS_SERVER_UNIT = re.compile(r"^openvpn[-_]?as(\.service)?$|^openvpn[-_]?as[.@-]")


def is_access_server_unit(name):
    return bool(ACCESS_SERVER_UNIT.match(str(name)))


def module_swap(services, access_server=False):
    """What the kmod role stops while a loaded module is swapped.

    ``services`` is ``ansible_facts.services`` (``{unit: {"state": ...}}``), ``access_server``
    whether the host has Access Server's ``sacli``. Returns ``{"units", "access_server"}``:
    ``units`` the running units of the host's own OpenVPN (sorted; never Access Server's),
    ``access_server`` True when Access Server's daemons must leave the module through ``sacli
    stop`` (AS is on the host and its unit is not known to be stopped).
    """
    services = services or {}
    units = sorted(name for name, facts in services.items()
                   if OPENVPN_UNIT.match(str(name)) and not is_access_server_unit(name)
                   and (facts or {}).get("state") == "running")
    ours = [facts or {} for name, facts in services.items() if is_access_server_unit(name)]
    # No unit of AS's found (not systemd, or another name): sacli is there, so assume it runs.
    running = not ours or any(facts.get("state") == "running" for facts in ours)
    return {"units": units, "access_server": bool(access_server) and running}
