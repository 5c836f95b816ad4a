# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every OpenVPN instance of a host and how its tunnel is doing.

``survey(host, options)`` finds the host's own instances (systemd units ``openvpn-server@``,
``openvpn-client@``, ``openvpn@`` and openvpn processes started any other way, not those of
its containers, which it only counts), and for each
reads what OpenVPN itself logged since it started (the interface it opened and whether that
was a DCO device, why DCO is off), the kernel's view (link kind over rtnetlink, peers over
generic netlink), the management interface, the certificates, and a ping through the tunnel.
It returns plain dicts with ``healthy`` and ``problems`` a person can act on.

Every question to the host goes through ``host`` (a ``TunnelHost`` in the module, a recorded
fake in the tests): commands and files through its probe, links, peers, management and
certificates through one method each.
"""

from __future__ import annotations

import ipaddress
import os
import re

from ansible_collections.ovpnfleet.dco.plugins.module_utils._errors import ConfigParseError, DcoError
from ansible_collections.ovpnfleet.dco.plugins.module_utils._generations import generation_for_link_kind
from ansible_collections.ovpnfleet.dco.plugins.module_utils.access_server._server import (
    AS_LOG,
    DCO_KEY,
    is_access_server_process,
)
from ansible_collections.ovpnfleet.dco.plugins.module_utils.openvpn._config import parse_file
from ansible_collections.ovpnfleet.dco.plugins.module_utils.openvpn._dco_rules import evaluate

UNIT_KINDS = {
    # unit prefix: (config directory = OpenVPN's --cd, role)
    "openvpn-server": ("/etc/openvpn/server", "server"),
    "openvpn-client": ("/etc/openvpn/client", "client"),
    "openvpn": ("/etc/openvpn", None),
}

DEVICE_OPENED = re.compile(r"\b(DCO|TUN/TAP) device (\S+) opened")
DCO_OFF = re.compile(r"(?:disabl\w+ data channel offload|Kernel support for ovpn\S* missing)", re.IGNORECASE)
ROUTE_GATEWAY = re.compile(r"route-gateway (\d+\.\d+\.\d+\.\d+)")
# net30 servers push no route-gateway but a host route to their own tunnel address.
PUSHED_ROUTE = re.compile(r"PUSH_REPLY.*?,route (\d+\.\d+\.\d+\.\d+)[,']")
# A log file (not the journal) starts lines with a timestamp, "2026-11-25 04:18:37 us=329579 ".
LOG_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?: us=\d+)? ")
STARTED = re.compile(r"^(?:\S+ \S+ )?OpenVPN \d+\.\d+\.\d+ ")
INSTANCE_NAME = re.compile(r"^(openvpn(?:-server|-client)?)@(.+)\.service$")
# OpenVPN says which device it opened right after it starts; a log's newest start is near its
# end unless the instance has run and logged for long, and then a fixed cap still bounds the read.
LOG_TAIL_BYTES = 4 * 1024 * 1024
LOG_TAIL_LINES = 50000
# OpenVPN's notes are one short line; a longer one is not OpenVPN's, and is not echoed whole.
MAX_LOG_LINE = 300
NAMESPACE_LINK = re.compile(r"^\w+:\[(\d+)\]$")


def list_units(probe):
    """(unit, active state, main pid) of every OpenVPN template unit systemd knows."""
    result = probe.run(["systemctl", "list-units", "--all", "--plain", "--no-legend", "--no-pager",
                        "openvpn-server@*", "openvpn-client@*", "openvpn@*"])
    if result.rc != 0:
        # No systemd (containers): processes are all there is.
        return []
    units = []
    for line in result.stdout.splitlines():
        fields = line.split()
        if fields and INSTANCE_NAME.match(fields[0]):
            units.append(fields[0])
    if not units:
        # systemctl show without a unit shows the manager itself.
        return []
    # One systemctl for all units (each costs a fifth of a second on a slow VM); Id matches each
    # block to its unit, whatever order systemctl prints them in.
    shown = probe.run(["systemctl", "show", "--property=Id,ActiveState,MainPID", "--"] + units)
    by_id = {}
    for block in shown.stdout.split("\n\n"):
        props = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        if props.get("Id"):
            by_id[props["Id"]] = props
    found = []
    for unit in units:
        props = by_id.get(unit, {})
        found.append((unit, props.get("ActiveState", "unknown"), int(props.get("MainPID", "0") or 0)))
    return found


def list_processes(probe):
    """Pids of every running openvpn this host's /proc shows, its containers' included."""
    return [int(entry) for entry in probe.listdir("/proc") or []
            if entry.isdigit() and (probe.read("/proc/%s/comm" % entry) or "").strip() == "openvpn"]


def process_argv(probe, pid):
    raw = probe.read_bytes("/proc/%d/cmdline" % pid)
    return [part.decode("utf-8", "replace") for part in raw.split(b"\0") if part] if raw else None


def _namespace(probe, pid, kind):
    found = NAMESPACE_LINK.match(probe.read_link("/proc/%s/ns/%s" % (pid, kind)) or "")
    return int(found.group(1)) if found else None


def where(probe, pid):
    """The PID and mount namespaces and the root directory of a process (``self``: this module)."""
    return {"pid_namespace": _namespace(probe, pid, "pid"), "mount_namespace": _namespace(probe, pid, "mnt"),
            "root": probe.file_id("/proc/%s/root" % pid)}


def foreign_reason(ours, theirs):
    """Why a process belongs to a container rather than to this host, or None when it is ours.

    Ours share our PID namespace and our root directory. The mount namespace alone decides
    nothing: ``ip netns exec`` and systemd's sandboxing (ProtectSystem=, PrivateTmp=) give the
    host's own instances a mount namespace of their own over the same root, while a container
    has its own root (and, unless run with --pid=host, its own PID namespace). We compare with
    this module's process, not with PID 1: its root is the one every path it reads resolves in,
    and inside a container PID 1 is the container's init anyway. What cannot be read (no root)
    leaves the process ours, as before.
    """
    for key, why in (("pid_namespace", "another PID namespace"), ("root", "another root directory")):
        if ours[key] is not None and theirs[key] is not None and ours[key] != theirs[key]:
            return why
    return None


def argv_option(argv, name):
    """The first parameter of ``--name`` in an openvpn command line, or None."""
    flag = "--" + name
    for index, arg in enumerate(argv[:-1]):
        if arg == flag:
            return argv[index + 1]
    return None


def discover(probe, access_server=False):
    """(instances, foreign): the host's own instances - dicts name, manager (None: ours), unit,
    state, pid, config, cwd, role (server/client/None), log, status - and the openvpn processes
    of its containers, named by pid and namespace only: their files are not ours to read or
    report. Access Server's daemons are neither: ``access_server_instances`` reports them."""
    pids = set(list_processes(probe))
    instances = []
    for unit, state, pid in list_units(probe):
        prefix, name = INSTANCE_NAME.match(unit).groups()
        directory, role = UNIT_KINDS[prefix]
        # systemd of this host started it: ours whatever sandbox its unit asks for.
        argv = process_argv(probe, pid) if pid in pids else None
        pids.discard(pid)
        cwd = (argv_option(argv, "cd") if argv else None) or directory
        config = (argv_option(argv, "config") if argv else None) or name + ".conf"
        instances.append({"name": name, "manager": None, "unit": unit, "state": state, "pid": pid or None,
                          "config": os.path.join(cwd, config), "cwd": cwd, "role": role, "log": None,
                          "status": argv_option(argv, "status") if argv else None})
    ours = where(probe, "self") if pids else None
    foreign = []
    for pid in sorted(pids):
        theirs = where(probe, pid)
        why = foreign_reason(ours, theirs)
        if why:
            foreign.append({"pid": pid, "pid_namespace": theirs["pid_namespace"],
                            "mount_namespace": theirs["mount_namespace"], "reason": why})
            continue
        argv = process_argv(probe, pid)
        if argv is None:
            continue
        # Access Server starts, restarts and regenerates its daemons itself: never a plain instance.
        if is_access_server_process(argv, probe.read_link("/proc/%d/exe" % pid) if access_server else None):
            continue
        cwd = argv_option(argv, "cd") or probe.read_link("/proc/%d/cwd" % pid) or "/"
        config = argv_option(argv, "config")
        config_path = os.path.join(cwd, config) if config else None
        name = os.path.basename(config)[:-5] if config and config.endswith(".conf") else "pid-%d" % pid
        instances.append({"name": name, "manager": None, "unit": None, "state": "active", "pid": pid, "config": config_path,
                          "cwd": cwd, "role": None, "log": argv_option(argv, "log") or argv_option(argv, "log-append"),
                          "status": argv_option(argv, "status")})
    return instances, foreign


def since_start(lines):
    """The lines of the newest start of OpenVPN in a log that may hold several."""
    starts = [index for index, line in enumerate(lines) if STARTED.search(line)]
    return lines[starts[-1]:] if starts else lines


def read_log(probe, instance, config_log=None):
    """(lines since OpenVPN started, why they could not be read or None, where they came from).

    The unit's journal, else the ``--log``/``--log-append`` file of its command line or its
    config. Files are read from their end, at most ``LOG_TAIL_BYTES``, and only regular files.
    """
    if instance["unit"] and instance["pid"]:
        source = "journalctl _PID=%d" % instance["pid"]
        result = probe.run(["journalctl", "_PID=%d" % instance["pid"], "--output=cat", "--no-pager",
                            "--lines=%d" % LOG_TAIL_LINES])
        if result.rc != 0:
            return [], "%s failed (rc %d): %s" % (source, result.rc, _first_line(result.stderr)), source
        # One PID's journal holds one start of OpenVPN.
        return result.stdout.splitlines(), None, source
    log = instance["log"] or config_log
    if not log:
        return [], "it logs nowhere tunnel_info reads (no systemd unit, no --log or --log-append)", None
    path = log if os.path.isabs(log) else os.path.join(instance["cwd"], log)
    text, why = probe.read_tail(path, LOG_TAIL_BYTES)
    if why:
        return [], "cannot read its log %s: %s" % (path, why), path
    return since_start(text.splitlines()), None, path


def _first_line(text):
    return ((text or "").strip().splitlines() or ["no message"])[0][:200]


def what_the_log_says(lines):
    """Device opened (name, DCO or not), why DCO is off, the pushed route-gateway."""
    said = {"device": None, "device_dco": None, "dco_off_reason": None, "route_gateway": None}
    for line in lines:
        opened = DEVICE_OPENED.search(line)
        if opened:
            said["device"], said["device_dco"] = opened.group(2), opened.group(1) == "DCO"
        if said["dco_off_reason"] is None and DCO_OFF.search(line):
            said["dco_off_reason"] = LOG_TIMESTAMP.sub("", line.strip())[:MAX_LOG_LINE]
        gateway = ROUTE_GATEWAY.search(line) or PUSHED_ROUTE.search(line)
        if gateway:
            said["route_gateway"] = gateway.group(1)
    return said


def config_reader(probe):
    """parse_file's reader, through the probe so tests replay what the host held."""
    def read(path):
        text = probe.read(path)
        if text is None:
            raise ConfigParseError("read OpenVPN config %s: cannot read it" % path, path=path)
        return text
    return read


def config_facts(instance, version, reader):
    """Parsed config: device, management socket, key files, verdict; None when unreadable."""
    if not instance["config"]:
        return None, "no --config on its command line"
    try:
        parsed = parse_file(instance["config"], cwd=instance["cwd"], read=reader)
    except DcoError as error:
        return None, str(error)
    verdict = evaluate(parsed, version)
    last = {d.name: d for d in parsed.directives}
    management = last.get("management")
    facts = {
        "mode": verdict["mode"],
        "dev": last["dev"].args[0] if "dev" in last and last["dev"].args else None,
        "management_socket": (_path(instance, management.args[0])
                              if management is not None and management.args[1:2] == ["unix"] else None),
        "files": {},
        "log": next((last[name].args[0] for name in ("log", "log-append") if name in last and last[name].args), None),
        "dco_compatible": verdict["dco_compatible"],
        "blockers": [{key: blocker[key] for key in ("option", "line", "reason", "fix", "rule")} for blocker in verdict["blockers"]],
        "vpn_ipv4": tunnel_address(last),
    }
    for name in ("cert", "ca", "crl-verify"):
        directive = last.get(name)
        if directive is not None and directive.args:
            facts["files"][name] = {"inline": directive.args[0]} if directive.inline else {"path": _path(instance, directive.args[0])}
    return facts, None


def tunnel_address(last):
    """This end's IPv4 tunnel address from the config, or None: ``ifconfig LOCAL ...`` where
    given, else the first host of ``server NETWORK NETMASK`` (OpenVPN's server helper gives
    itself that address in every topology). Clients find their server by it (enable_dco)."""
    ifconfig = last.get("ifconfig")
    server = last.get("server")
    try:
        if ifconfig is not None and ifconfig.args:
            return str(ipaddress.IPv4Address(ifconfig.args[0]))
        if server is not None and len(server.args) >= 2:
            network = ipaddress.IPv4Network("%s/%s" % (server.args[0], server.args[1]), strict=False)
            return str(network.network_address + 1)
    except ValueError:
        return None
    return None


def _path(instance, path):
    return path if os.path.isabs(path) else os.path.join(instance["cwd"], path)


def parse_management_status(text):
    """Clients from ``status 3`` (tab separated) or a ``--status-version 2`` file (commas),
    columns named by the HEADER line."""
    header, clients = None, []
    for line in text.splitlines():
        line = line.rstrip("\r")
        fields = line.split("\t" if "\t" in line else ",")
        if fields[:2] == ["HEADER", "CLIENT_LIST"]:
            header = fields[2:]
        elif fields[0] == "CLIENT_LIST" and header:
            row = dict(zip(header, fields[1:]))
            clients.append({"common_name": row.get("Common Name"), "real_address": row.get("Real Address"),
                            "vpn_ipv4": row.get("Virtual Address") or None,
                            "bytes_received": _int(row.get("Bytes Received")), "bytes_sent": _int(row.get("Bytes Sent")),
                            "connected_since": row.get("Connected Since"), "peer_id": _int(row.get("Peer ID"))})
    return clients


def parse_management_state(text):
    """``state``: e.g. ``1795570000,CONNECTED,SUCCESS,10.8.1.2,192.0.2.11,1194,,`` -> dict."""
    for line in text.splitlines():
        fields = line.rstrip("\r").split(",")
        if len(fields) >= 3 and fields[0].isdigit():
            return {"since": int(fields[0]), "state": fields[1], "vpn_ipv4": fields[3] if len(fields) > 3 else None}
    return None


def _int(text):
    try:
        return int(text)
    except (TypeError, ValueError):
        return None


def inspect(host, instance, options):
    """Everything about one instance, with ``healthy`` and ``problems``."""
    problems = []
    result = dict(instance, interface=None, link_kind=None, dco_active=None, dco_off_reason=None,
                  module=None, peers=None, management=None, certificates={}, ping=None, config_dco_compatible=None,
                  config_blockers=[])
    if instance["state"] != "active" or not instance["pid"]:
        problems.append("not running (%s): start it with 'systemctl start %s' and read 'journalctl -u %s'"
                        % (instance["state"], instance["unit"] or instance["name"], instance["unit"] or instance["name"]))
    facts, config_error = config_facts(instance, options["openvpn_version"], config_reader(host.probe))
    if facts is None:
        problems.append("cannot read the config %s: %s" % (instance["config"], config_error))
        facts = {"mode": instance["role"], "dev": None, "management_socket": None, "files": {},
                 "dco_compatible": None, "blockers": [], "log": None, "vpn_ipv4": None}
    result["mode"] = facts["mode"]
    result["vpn_ipv4"] = facts["vpn_ipv4"]
    result["config_dco_compatible"] = facts["dco_compatible"]
    result["config_blockers"] = facts["blockers"]
    lines, log_error, log_source = read_log(host.probe, instance, facts["log"]) if instance["pid"] else ([], None, None)
    said = dict(what_the_log_says(lines), log_error=log_error, log_source=log_source)
    # A name like "tun" lets the kernel pick tunN; only what OpenVPN logged tells which.
    fixed_name = facts["dev"] if facts["dev"] not in (None, "tun", "tap", "null") else None
    result["interface"] = said["device"] or fixed_name
    if instance["pid"]:
        _kernel_side(host, result, said, facts, problems, options)
    if facts["management_socket"] and instance["pid"]:
        result["management"] = host.management(facts["management_socket"], facts["mode"])
        if result["management"].get("error"):
            problems.append("management interface %s: %s" % (facts["management_socket"], result["management"]["error"]))
    elif facts["mode"] == "server" and instance.get("status") and instance["pid"]:
        # No management interface: the status file OpenVPN rewrites every minute (Debian's
        # units pass --status) still says which clients a userspace server has.
        status_path = _path(instance, instance["status"])
        text = host.probe.read(status_path)
        if text is not None:
            result["management"] = {"clients": parse_management_status(text), "source": status_path}
    for name, source in facts["files"].items():
        result["certificates"][name] = host.certificate_days(name, source)
        days = result["certificates"][name].get("days_left")
        if days is not None and days < options["min_cert_days"]:
            problems.append("%s %s expires in %d days (minimum %d): renew it (ovpnfleet.dco.pki)"
                            % (name, source.get("path", "(inline)"), days, options["min_cert_days"]))
        elif result["certificates"][name].get("error"):
            problems.append("%s: %s" % (name, result["certificates"][name]["error"]))
    if options["ping"] and facts["mode"] == "client" and instance["pid"]:
        target = said["route_gateway"] or host.first_host(result["interface"])
        result["ping"] = host.ping(target, result["interface"]) if target else {"target": None, "ok": False}
        if not result["ping"]["ok"]:
            problems.append("no answer from the server's tunnel address %s through %s" % (target, result["interface"]))
    result["problems"] = problems
    result["healthy"] = not problems
    return result


def _kernel_side(host, result, said, facts, problems, options):
    link = host.link(result["interface"]) if result["interface"] else None
    if link is None:
        if said["log_error"]:
            problems.append("no tunnel interface found: %s; give it a fixed 'dev' name or a log tunnel_info can read"
                            % said["log_error"])
        else:
            problems.append("no tunnel interface found (OpenVPN logged no opened device since it started): read %s"
                            % said["log_source"])
        return
    if link.get("error"):
        # The kernel could not be asked over rtnetlink: OpenVPN's own log still says
        # whether it opened a DCO device, which is what a rollout plan needs.
        problems.append(link["error"])
        result["dco_active"] = said["device_dco"]
        if said["device_dco"] is False:
            result["dco_off_reason"] = said["dco_off_reason"] or "OpenVPN opened a TUN/TAP device"
        return
    result["link_kind"] = link["kind"]
    generation = generation_for_link_kind(link["kind"])
    result["dco_active"] = generation is not None
    if result["dco_active"]:
        peers = _read_dco_link(host, generation, link, result, problems)
        if peers is not None and facts["mode"] == "client" and not peers and generation.lists_client_peer:
            problems.append("the kernel holds no peer for this client: it is not connected")
    else:
        reason = said["dco_off_reason"] or ("the config turns DCO off: %s" % facts["blockers"][0]["reason"]
                                            if facts["blockers"] else "OpenVPN did not say why")
        result["dco_off_reason"] = reason
        if options["dco_required"]:
            problems.append("DCO is off (%s); fix the config with ovpnfleet.dco.config and get the module with the kmod role" % reason)


def _read_dco_link(host, generation, link, result, problems):
    """The module and the kernel's peers of a device DCO carries, into ``result``; the peers, or
    None when the kernel could not list them (the reason is in ``problems``)."""
    result["module"] = host.module(generation.module)
    peers = host.peers(link["kind"], link["ifindex"])
    if isinstance(peers, dict):
        problems.append(peers["error"])
        return None
    result["peers"] = peers
    return peers


def access_server_instances(host, server, options):
    """One instance per Access Server device (``as0t*`` TCP, ``as0u*`` UDP) that
    ``access_server._server.gather_info`` listed: manager ``access_server``, no unit and no
    config (AS regenerates its configs and restarts its daemons itself, so a rollout must never
    touch them; ovpnfleet.dco.access_server switches DCO), the link kind and kernel peers."""
    return [_inspect_access_server_device(host, seen, server, options) for seen in server.get("interfaces") or []]


def _inspect_access_server_device(host, seen, server, options):
    name = seen["name"]
    problems = []
    result = {"name": name, "manager": "access_server", "unit": None, "state": "active", "pid": None, "config": None,
              "cwd": None, "role": "server", "log": None, "status": None, "mode": "server",
              "transport": seen["transport"], "interface": name, "link_kind": seen["kind"], "dco_active": None,
              "dco_off_reason": None, "module": None, "peers": None, "management": None, "certificates": {},
              "ping": None, "config_dco_compatible": None, "config_blockers": [], "vpn_ipv4": None}
    link = host.link(name)
    if link.get("error"):
        # ip's link kind (gather_info) still says whether DCO carries it; the peers need the kernel.
        problems.append(link["error"])
    else:
        result["link_kind"] = link["kind"]
    generation = generation_for_link_kind(result["link_kind"])
    result["dco_active"] = generation is not None
    if generation is not None and not link.get("error"):
        _read_dco_link(host, generation, link, result, problems)
    elif generation is None:
        result["dco_off_reason"] = _access_server_off_reason(server)
        if options["dco_required"]:
            problems.append(
                "DCO is off on Access Server's %s (%s): load the module with the kmod role and switch DCO on with "
                "ovpnfleet.dco.access_server (dco: enabled); never edit the configs Access Server regenerates"
                % (name, result["dco_off_reason"]))
    result["problems"] = problems
    result["healthy"] = not problems
    return result


def _access_server_off_reason(server):
    rule = server.get("requirement") or {}
    if rule.get("supported") is False:
        return "; ".join(rule.get("reasons") or ["this Access Server version cannot do DCO"])
    if server.get("dco_configured") is False:
        setting = server.get("dco_setting")
        return "%s is %s in Access Server's configuration" % (
            DCO_KEY, "unset (off by default before Access Server 3.0)" if setting is None else repr(setting))
    if server.get("dco_available") is False:
        return "Access Server reports DCO unavailable (%s)" % (server.get("dco_module_version") or "no module version")
    return "Access Server runs this daemon in userspace (link kind tun): see %s" % AS_LOG


def survey(host, options, access_server=None):
    """``instances``: the host's own, inspected, then Access Server's devices when
    ``access_server`` (``gather_info``'s answer) says this is an AS host; ``foreign_instances``:
    its containers' openvpn."""
    server = access_server or {}
    instances, foreign = discover(host.probe, access_server=bool(server.get("is_access_server")))
    found = [inspect(host, instance, options) for instance in instances]
    if server.get("is_access_server"):
        found += access_server_instances(host, server, options)
    return {"instances": found, "foreign_instances": foreign}


def gather(host, options):
    return survey(host, options)["instances"]
