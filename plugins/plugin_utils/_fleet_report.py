# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet report: tunnel_info results of many hosts as rows, a summary, Markdown, JUnit, HTML.

Pure functions of the per-host results; the health role writes what they return.
"""

from __future__ import annotations

import html
import json
import re
import xml.etree.ElementTree as ET

from ansible_collections.ovpnfleet.dco.plugins.module_utils.access_server._server import DCO_KEY

# tunnel_info's instances[].manager of Access Server's daemons: one row per host, never one per daemon.
ACCESS_SERVER = "access_server"
# The AS row's instance, and the unit the rollout's outcomes and notes give Access Server.
ACCESS_SERVER_ROW = "access-server"

COLUMNS = ("host", "instance", "mode", "interface", "dco", "why", "peers", "rx_bytes", "tx_bytes",
           "cert_days", "healthy", "problems")


def _traffic(instance):
    """VPN bytes in and out: the kernel's counters with DCO, the management interface's otherwise."""
    if instance.get("peers"):
        return (sum(peer.get("vpn_rx_bytes") or 0 for peer in instance["peers"]),
                sum(peer.get("vpn_tx_bytes") or 0 for peer in instance["peers"]))
    clients = (instance.get("management") or {}).get("clients")
    if clients:
        return (sum(client.get("bytes_received") or 0 for client in clients),
                sum(client.get("bytes_sent") or 0 for client in clients))
    return None, None


def peer_count(instance):
    if instance.get("peers") is not None:
        return len(instance["peers"])
    clients = (instance.get("management") or {}).get("clients")
    return len(clients) if clients is not None else None


def _why(instance, readiness):
    if instance.get("dco_active"):
        return ""
    if readiness and readiness.get("status") == "unsupported":
        return "DCO not possible here: " + "; ".join(readiness.get("reasons") or ["unsupported"])
    return instance.get("dco_off_reason") or ""


def rows(results, notes=None):
    """One row per host and instance; ``results`` maps host -> tunnel_info result (or failure).

    ``notes`` maps a host to what a rollout did to it, a list of ``{"unit", "why", "problem"}``:
    the note becomes the row's ``why`` for that unit (a note without ``unit`` for every unit no
    note names), and a ``problem`` note is also one of the row's problems (a rollback, a failed
    build).
    """
    table = []
    for host in sorted(results):
        result = results[host] or {}
        if result.get("unreachable") or result.get("failed") or "instances" not in result:
            table.append(dict(dict.fromkeys(COLUMNS), host=host, instance="-", healthy=False, problems=[
                result.get("msg") or "no tunnel_info result (unreachable or failed before the health check)"]))
            continue
        ours = [instance for instance in result["instances"] if instance.get("manager") != ACCESS_SERVER]
        access_server = (result.get("access_server") or {}).get("is_access_server")
        if not ours and not access_server:
            table.append(dict(dict.fromkeys(COLUMNS), host=host, instance="-", healthy=True, problems=[],
                              why="no OpenVPN instance on this host"))
            continue
        if access_server:
            table.append(_access_server_row(host, result, (notes or {}).get(host)))
        for instance in _with_notes(ours, (notes or {}).get(host)):
            rx, tx = _traffic(instance)
            days = [cert["days_left"] for cert in instance.get("certificates", {}).values() if cert.get("days_left") is not None]
            table.append({
                "host": host, "instance": instance["name"], "mode": instance.get("mode"),
                "interface": instance.get("interface"),
                "dco": {True: "on", False: "off"}.get(instance.get("dco_active"), "unknown"),
                "why": _why(instance, result.get("readiness")), "peers": peer_count(instance),
                "rx_bytes": rx, "tx_bytes": tx, "cert_days": min(days) if days else None,
                "healthy": instance["healthy"], "problems": list(instance["problems"]),
            })
    return table


def _access_server_row(host, result, notes=None):
    """One row for Access Server's daemons (tunnel_info's instances with manager access_server):
    its version, the DCO key, what VPNSummary says, and how many as0* devices are in DCO; the
    rollout's notes on AS (unit ``access-server``, else the host-wide ones) lead its ``why`` (after
    "DCO not possible here", which the thresholds read first), and a problem note is a problem."""
    server = result["access_server"]
    devices = [instance for instance in result["instances"] if instance.get("manager") == ACCESS_SERVER]
    in_dco = [device["name"] for device in devices if device.get("dco_active")]
    if not devices or any(device.get("dco_active") is None for device in devices):
        dco = "unknown"
    else:
        dco = "on" if len(in_dco) == len(devices) else "off"
    available = server.get("dco_available")
    facts = "Access Server %s; %s %s; VPNSummary: DCO %s%s; as0* in DCO: %d of %d" % (
        server.get("version") or "(version unknown)", DCO_KEY,
        "unset" if server.get("dco_setting") is None else server["dco_setting"],
        {True: "available", False: "unavailable", None: "not reported"}[available],
        " (%s)" % server["dco_module_version"] if server.get("dco_module_version") else "", len(in_dco), len(devices))
    off = next((device for device in devices if device.get("dco_active") is False), None)
    why = _why(off, server.get("readiness") or result.get("readiness")) if off else ""
    traffic = [_traffic(device) for device in devices]
    peers = [len(device["peers"]) for device in devices if device.get("peers") is not None]
    problems = list(server.get("problems") or [])
    problems += ["%s: %s" % (device["name"], problem) for device in devices for problem in device.get("problems") or []]
    mine = [note for note in notes or [] if note.get("unit") == ACCESS_SERVER_ROW]
    mine = mine or [note for note in notes or [] if not note.get("unit")]
    problems += [note["why"] for note in mine if note.get("problem") and note["why"] not in problems]
    return {"host": host, "instance": ACCESS_SERVER_ROW, "mode": "server",
            "interface": ", ".join(device["name"] for device in devices) or None, "dco": dco,
            "why": "; ".join(part for part in (
                [why] + [note["why"] for note in mine] if why.startswith("DCO not possible here")
                else [note["why"] for note in mine] + [why]) + [facts] if part),
            "peers": sum(peers) if peers else server.get("clients"),
            "rx_bytes": _total(rx for rx, _tx in traffic), "tx_bytes": _total(tx for _rx, tx in traffic),
            "cert_days": None, "healthy": all(device.get("healthy") for device in devices) and not problems,
            "problems": problems}


def _total(values):
    known = [value for value in values if value is not None]
    return sum(known) if known else None


def _with_notes(instances, notes):
    """The instances with the rollout's notes applied (see rows())."""
    for instance in instances:
        # A note on this very unit wins over the host-wide ones.
        mine = [note for note in notes or [] if note.get("unit") and note["unit"] == instance.get("unit")]
        mine = mine or [note for note in notes or [] if not note.get("unit")]
        if mine:
            problems = list(instance.get("problems") or []) + [note["why"] for note in mine if note.get("problem")]
            instance = dict(instance, problems=problems, healthy=instance.get("healthy") and not any(
                note.get("problem") for note in mine), dco_off_reason="; ".join(
                [note["why"] for note in mine] + [instance.get("dco_off_reason") or ""]).strip("; "))
        yield instance


def summary(table):
    hosts = sorted({row["host"] for row in table})
    tunnels = [row for row in table if row["instance"] != "-"]
    return {
        "hosts": len(hosts),
        "tunnels": len(tunnels),
        "dco_on": sum(1 for row in tunnels if row["dco"] == "on"),
        "dco_off": sum(1 for row in tunnels if row["dco"] == "off"),
        "unhealthy_tunnels": sum(1 for row in table if not row["healthy"]),
        "unhealthy_hosts": sorted({row["host"] for row in table if not row["healthy"]}),
        "min_cert_days": min((row["cert_days"] for row in tunnels if row["cert_days"] is not None), default=None),
    }


def threshold_failures(table, dco_required, min_cert_days, max_unhealthy_hosts):
    """What the fleet misses of the thresholds the user set; empty when it meets them."""
    failures = []
    facts = summary(table)
    if dco_required:
        off = ["%s/%s" % (row["host"], row["instance"]) for row in table if row["dco"] == "off"
               and not (row["why"] or "").startswith("DCO not possible here")]
        if off:
            failures.append("DCO is off on %d tunnel(s) of hosts that can run it: %s" % (len(off), ", ".join(off)))
    low = ["%s/%s (%d days)" % (row["host"], row["instance"], row["cert_days"]) for row in table
           if row["cert_days"] is not None and row["cert_days"] < min_cert_days]
    if low:
        failures.append("certificates below %d days: %s" % (min_cert_days, ", ".join(low)))
    if max_unhealthy_hosts >= 0 and len(facts["unhealthy_hosts"]) > max_unhealthy_hosts:
        failures.append("%d unhealthy host(s), at most %d allowed: %s" % (
            len(facts["unhealthy_hosts"]), max_unhealthy_hosts, ", ".join(facts["unhealthy_hosts"])))
    return failures


def host_threshold_failures(table, dco_required, min_cert_days, max_unhealthy_hosts):
    """host -> what that host misses of the thresholds; hosts that miss none are absent.

    Each host answers for its own rows, so a play fails the hosts that miss a threshold and
    never the healthy one that happened to write the report. A fleet-wide limit (too many
    unhealthy hosts) is charged to every unhealthy host, with the whole list in the message.
    """
    failures = {}
    facts = summary(table)
    too_many = 0 <= max_unhealthy_hosts < len(facts["unhealthy_hosts"])
    for row in table:
        missed = failures.setdefault(row["host"], [])
        where = "tunnel %s" % _line(row["instance"])
        if dco_required and row["dco"] == "off" and not (row["why"] or "").startswith("DCO not possible here"):
            missed.append("%s: DCO is off although the host can run it (%s)" % (where, _line(row["why"] or "no reason given")))
        if row["cert_days"] is not None and row["cert_days"] < min_cert_days:
            missed.append("%s: a certificate has %d days left, the minimum is %d" % (where, row["cert_days"], min_cert_days))
        if too_many and not row["healthy"]:
            missed.append("%s: unhealthy (%s); %d unhealthy host(s), at most %d allowed: %s" % (
                where if row["instance"] != "-" else "host", "; ".join(_line(p) for p in row["problems"]) or "no problem given",
                len(facts["unhealthy_hosts"]), max_unhealthy_hosts, ", ".join(facts["unhealthy_hosts"])))
    return {host: missed for host, missed in failures.items() if missed}


# Characters XML 1.0 cannot carry even as references (C0 controls but tab, newline and carriage
# return; surrogates; U+FFFE/U+FFFF), plus DEL and the C1 controls, which no report should show.
UNPRINTABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
LINE_BREAKS = re.compile("\r\n|[\r\n\t\u2028\u2029]")
# Markdown punctuation that could end a cell, start code, emphasis, a link or raw HTML.
MARKDOWN_SPECIAL = re.compile(r"([\\|`*_\[\]<>&])")


def _text(value):
    """Any value as text every format can carry: unprintable characters become U+FFFD, so a
    row with a NUL, an escape sequence or a lone surrogate still shows that something was there."""
    return UNPRINTABLE.sub("\ufffd", str(value))


def _line(value):
    """One line of text: line breaks and tabs become spaces (a table cell cannot hold them)."""
    return LINE_BREAKS.sub(" ", _text(value))


def _plain(value, joiner):
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return joiner.join(_line(item) for item in value) or "-"
    return _line(value)


def _cell(value):
    if isinstance(value, bool) and not value:
        return "**no**"
    if isinstance(value, list):
        return "<br>".join(_markdown(_line(item)) for item in value) or "-"
    return _markdown(_plain(value, "; "))


def _markdown(text):
    return MARKDOWN_SPECIAL.sub(r"\\\1", text)


def stamp(meta):
    """``generated`` (UTC, ISO 8601) and ``collection_version`` of a report, "unknown" when not given."""
    meta = meta or {}
    return {key: _line(meta.get(key) or "unknown") for key in ("generated", "collection_version")}


def markdown(table, meta=None):
    facts, made = summary(table), stamp(meta)
    lines = ["# DCO fleet report", "",
             "Generated %s by ovpnfleet.dco %s." % (_markdown(made["generated"]), _markdown(made["collection_version"])), "",
             "%d hosts, %d tunnels: DCO on %d, off %d; %d unhealthy tunnel rows on %d hosts."
             % (facts["hosts"], facts["tunnels"], facts["dco_on"], facts["dco_off"], facts["unhealthy_tunnels"],
                len(facts["unhealthy_hosts"])), "",
             "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in table:
        lines.append("| " + " | ".join(_cell(row[column]) for column in COLUMNS) + " |")
    return "\n".join(lines) + "\n"


def case_names(table):
    """``host/instance`` per row, unique: a host may run two instances of one name (a server
    and a client both called ``lab``), and JUnit readers merge or drop cases that share one."""
    used, names = set(), []
    for row in table:
        base = "%s/%s" % (_line(row["host"]), _line(row["instance"]))
        name, number = base, 1
        while name in used:
            number += 1
            name = "%s #%d" % (base, number)
        used.add(name)
        names.append(name)
    return names


def junit(table, meta=None):
    """One test case per host and tunnel; unhealthy ones fail with their problems."""
    made = stamp(meta)
    failures = str(sum(1 for row in table if not row["healthy"]))
    root = ET.Element("testsuites", name="ovpnfleet.dco health", tests=str(len(table)), failures=failures,
                      timestamp=made["generated"])
    suite = ET.SubElement(root, "testsuite", name="tunnels", tests=str(len(table)), failures=failures,
                          timestamp=made["generated"])
    properties = ET.SubElement(suite, "properties")
    ET.SubElement(properties, "property", name="collection_version", value=made["collection_version"])
    for row, name in zip(table, case_names(table)):
        detail = _text("dco=%s interface=%s peers=%s why=%s" % (row["dco"], row["interface"], row["peers"], row["why"]))
        case = ET.SubElement(suite, "testcase", classname=_line(row["host"]), name=name)
        if not row["healthy"]:
            failure = ET.SubElement(case, "failure", message=_text("; ".join(_text(p) for p in row["problems"])))
            failure.text = detail
        ET.SubElement(case, "system-out").text = detail
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def html_page(table, meta=None):
    """The Markdown's table as one static page, no external assets."""
    facts, made = summary(table), stamp(meta)
    head = "".join("<th>%s</th>" % html.escape(column) for column in COLUMNS)
    body = []
    for row in table:
        cells = "".join("<td>%s</td>" % html.escape(_plain(row[column], "; ")) for column in COLUMNS)
        body.append('<tr class="%s">%s</tr>' % ("ok" if row["healthy"] else "bad", cells))
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>DCO fleet report</title><style>"
            "body{font-family:sans-serif}table{border-collapse:collapse}td,th{border:1px solid #999;padding:2px 6px}"
            "tr.bad{background:#fdd}tr.ok{background:#efe}</style></head><body>"
            "<h1>DCO fleet report</h1><p>Generated %s by ovpnfleet.dco %s.</p>"
            "<p>%d hosts, %d tunnels: DCO on %d, off %d; %d unhealthy rows.</p>"
            "<table><tr>%s</tr>%s</table></body></html>\n"
            % (html.escape(made["generated"]), html.escape(made["collection_version"]),
               facts["hosts"], facts["tunnels"], facts["dco_on"], facts["dco_off"], facts["unhealthy_tunnels"],
               head, "".join(body)))


def json_document(table, meta=None):
    """fleet.json: when, by which version, the summary and every row."""
    document = dict(stamp(meta), summary=_clean(summary(table)), rows=_clean(table))
    return json.dumps(document, indent=4, sort_keys=True, ensure_ascii=False) + "\n"


def _clean(value):
    """Rows with every string safe to write as UTF-8 (lone surrogates cannot be encoded)."""
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, dict):
        return {_text(key): _clean(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(item) for item in value]
    return value


def files(table, meta=None):
    """Every report file by name, all stamped with one ``meta``."""
    return {"fleet.json": json_document(table, meta), "fleet.md": markdown(table, meta),
            "fleet.html": html_page(table, meta), "junit.xml": junit(table, meta)}
