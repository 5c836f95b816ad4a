# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""tunnel_info tells the host's own openvpn processes from its containers', replayed from /proc
as recorded by tests/unit/fixtures/tunnels/record_namespaces.sh: an instance of its own, one
under ``ip netns exec``, one under ``unshare --mount`` (as systemd sandboxes a unit), one in
another root with the host's PID namespace, one in a new PID namespace and root (a container)."""

from __future__ import annotations

import copy
import os

from ansible_collections.ovpnfleet.dco.plugins.module_utils.tunnels import _instances as tunnels
from ansible_collections.ovpnfleet.dco.tests.unit.host_probes import ReplayProbe, load_fixture

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "fixtures", "tunnels")


def recorded():
    return load_fixture(os.path.join(FIXTURES, "namespaces.json"))


def test_containers_openvpn_is_not_the_hosts_own():
    fixture = recorded()
    instances, foreign = tunnels.discover(ReplayProbe(fixture["probe"]))
    # netns and sandbox have mount namespaces of their own and are still the host's.
    assert [instance["name"] for instance in instances] == ["own", "netns", "sandbox"]
    assert [(entry["pid"], entry["reason"]) for entry in foreign] == [
        (24, "another root directory"), (26, "another PID namespace")]
    for entry in foreign:
        assert sorted(entry) == ["mount_namespace", "pid", "pid_namespace", "reason"]
        assert isinstance(entry["pid_namespace"], int) and isinstance(entry["mount_namespace"], int)
    # Nothing of a container's process is read beyond its namespaces: not even its command line.
    assert "/proc/24/cmdline" not in fixture["probe"]["read_bytes"]
    assert "/proc/26/cmdline" not in fixture["probe"]["read_bytes"]
    # Recorded before instances said who manages them: every one here is ours (manager None).
    assert {"instances": instances, "foreign": foreign} == dict(
        fixture["result"], instances=[dict(instance, manager=None) for instance in fixture["result"]["instances"]])


def test_the_module_inside_a_container_sees_that_containers_openvpn_as_its_own():
    fixture = copy.deepcopy(recorded())
    # /proc as a module running in pid 26's container would see it, everything else left as it is.
    links, ids = fixture["probe"]["read_link"], fixture["probe"]["file_id"]
    links["/proc/self/ns/pid"], links["/proc/self/ns/mnt"] = links["/proc/26/ns/pid"], links["/proc/26/ns/mnt"]
    ids["/proc/self/root"] = ids["/proc/26/root"]
    fixture["probe"]["read_bytes"]["/proc/26/cmdline"] = fixture["probe"]["read_bytes"]["/proc/19/cmdline"]
    for pid in ("19", "21", "22"):
        del fixture["probe"]["read_bytes"]["/proc/%s/cmdline" % pid]
    instances, foreign = tunnels.discover(ReplayProbe(fixture["probe"]))
    assert [instance["pid"] for instance in instances] == [26]
    assert [entry["pid"] for entry in foreign] == [19, 21, 22, 24]


def test_namespaces_that_cannot_be_read_leave_the_process_the_hosts():
    # Without root another user's /proc/PID/ns and root cannot be read: as before, it is listed.
    ours = {"pid_namespace": 4026531836, "mount_namespace": 4026531841, "root": "2049:2"}
    unknown = {"pid_namespace": None, "mount_namespace": None, "root": None}
    assert tunnels.foreign_reason(ours, unknown) is None
    assert tunnels.foreign_reason(ours, dict(ours, mount_namespace=1)) is None
    assert tunnels.foreign_reason(ours, dict(ours, pid_namespace=1)) == "another PID namespace"
    assert tunnels.foreign_reason(ours, dict(ours, root="42:1")) == "another root directory"


class NoSuchHost:
    """A TunnelHost for a host whose only openvpn runs in a container: never asked anything."""

    def __init__(self, probe):
        self.probe = probe


def test_survey_counts_container_instances_apart():
    fixture = copy.deepcopy(recorded())
    for pid in ("19", "21", "22"):
        fixture["probe"]["read"]["/proc/%s/comm" % pid] = "python3\n"
    survey = tunnels.survey(NoSuchHost(ReplayProbe(fixture["probe"])), {})
    assert survey["instances"] == []
    assert [entry["pid"] for entry in survey["foreign_instances"]] == [24, 26]
