# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet report: tunnel_info results of many hosts as rows, a summary, Markdown, JUnit, HTML.

Pure functions of the per-host results; the health role writes what they return.
"""

from __future__ import annotations

import html
from xml.sax.saxutils import escape, quoteattr

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


def rows(results):
    """One row per host and instance; ``results`` maps host -> tunnel_info result (or failure)."""
    table = []
    for host in sorted(results):
        result = results[host] or {}
        if result.get("unreachable") or result.get("failed") or "instances" not in result:
            table.append(dict(dict.fromkeys(COLUMNS), host=host, instance="-", healthy=False, problems=[
                result.get("msg") or "no tunnel_info result (unreachable or failed before the health check)"]))
            continue
        if not result["instances"]:
            table.append(dict(dict.fromkeys(COLUMNS), host=host, instance="-", healthy=True, problems=[],
                              why="no OpenVPN instance on this host"))
            continue
        for instance in result["instances"]:
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


def _cell(value):
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "**no**"
    if isinstance(value, list):
        return "<br>".join(str(item) for item in value) or "-"
    return str(value).replace("|", "\\|")


def markdown(table):
    facts = summary(table)
    lines = ["# DCO fleet report", "",
             "%d hosts, %d tunnels: DCO on %d, off %d; %d unhealthy tunnel rows on %d hosts."
             % (facts["hosts"], facts["tunnels"], facts["dco_on"], facts["dco_off"], facts["unhealthy_tunnels"],
                len(facts["unhealthy_hosts"])), "",
             "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in table:
        lines.append("| " + " | ".join(_cell(row[column]) for column in COLUMNS) + " |")
    return "\n".join(lines) + "\n"


def junit(table):
    """One test case per host and tunnel; unhealthy ones fail with their problems."""
    failures = sum(1 for row in table if not row["healthy"])
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<testsuites name="ovpnfleet.dco health" tests="%d" failures="%d">' % (len(table), failures),
           '  <testsuite name="tunnels" tests="%d" failures="%d">' % (len(table), failures)]
    for row in table:
        name = quoteattr("%s/%s" % (row["host"], row["instance"]))
        detail = "dco=%s interface=%s peers=%s why=%s" % (row["dco"], row["interface"], row["peers"], row["why"])
        out.append("    <testcase classname=%s name=%s>" % (quoteattr(row["host"]), name))
        if not row["healthy"]:
            out.append("      <failure message=%s>%s</failure>" % (quoteattr("; ".join(row["problems"])), escape(detail)))
        out.append("      <system-out>%s</system-out>" % escape(detail))
        out.append("    </testcase>")
    out += ["  </testsuite>", "</testsuites>", ""]
    return "\n".join(out)


def html_page(table):
    """The Markdown's table as one static page, no external assets."""
    facts = summary(table)
    head = "".join("<th>%s</th>" % html.escape(column) for column in COLUMNS)
    body = []
    for row in table:
        cells = "".join("<td>%s</td>" % html.escape(_cell(row[column]).replace("<br>", "; ").replace("**", ""))
                        for column in COLUMNS)
        body.append('<tr class="%s">%s</tr>' % ("ok" if row["healthy"] else "bad", cells))
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>DCO fleet report</title><style>"
            "body{font-family:sans-serif}table{border-collapse:collapse}td,th{border:1px solid #999;padding:2px 6px}"
            "tr.bad{background:#fdd}tr.ok{background:#efe}</style></head><body>"
            "<h1>DCO fleet report</h1><p>%d hosts, %d tunnels: DCO on %d, off %d; %d unhealthy rows.</p>"
            "<table><tr>%s</tr>%s</table></body></html>\n"
            % (facts["hosts"], facts["tunnels"], facts["dco_on"], facts["dco_off"], facts["unhealthy_tunnels"],
               head, "".join(body)))
