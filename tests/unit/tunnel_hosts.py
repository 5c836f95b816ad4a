# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Record what a real host answers to tunnel_info, and replay it in unit tests.

The recorder runs the collection's own ``tunnels._instances.gather`` on a lab host through a
``TunnelHost`` whose every answer (commands, files, links, kernel peers, management, certificate
days, pings) is written down. Replaying answers only what was asked.
"""

from __future__ import annotations

import datetime
import json
import sys

from ansible_collections.ovpnfleet.dco.tests.unit.host_probes import LocalProbe, RecordingProbe, ReplayProbe

METHODS = ("link", "first_host", "peers", "module", "management", "certificate_days", "ping")


def _key(args):
    return json.dumps(args, sort_keys=True)


class RecordingTunnelHost:
    def __init__(self, inner):
        self._inner = inner
        self.probe = inner.probe
        self.record = {name: {} for name in METHODS}

    def __getattr__(self, name):
        if name not in METHODS:
            raise AttributeError(name)

        def method(*args):
            value = getattr(self._inner, name)(*args)
            self.record[name][_key(args)] = value
            return value
        return method


class ReplayTunnelHost:
    def __init__(self, fixture):
        self.probe = ReplayProbe(fixture["probe"])
        self._record = fixture["host"]

    def __getattr__(self, name):
        if name not in METHODS:
            raise AttributeError(name)

        def method(*args):
            try:
                return self._record[name][_key(list(args))]
            except KeyError:
                raise AssertionError("the recorded host was never asked %s%r" % (name, args))
        return method


def main():
    """``python3 -c ... NOTE``: run gather() here and print the fixture as JSON."""
    from ansible_collections.ovpnfleet.dco.plugins.module_utils.tunnels._host import TunnelHost
    from ansible_collections.ovpnfleet.dco.plugins.module_utils.tunnels._instances import gather

    probe = RecordingProbe(LocalProbe())
    now = datetime.datetime.now(datetime.timezone.utc)
    host = RecordingTunnelHost(TunnelHost(probe, now=now))
    options = {"min_cert_days": 30, "dco_required": False, "ping": True, "openvpn_version": sys.argv[1]}
    result = gather(host, options)
    json.dump({"note": " ".join(sys.argv[2:]), "options": options, "now": now.isoformat(), "probe": probe.record,
               "host": json.loads(json.dumps(host.record)), "result": result}, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
