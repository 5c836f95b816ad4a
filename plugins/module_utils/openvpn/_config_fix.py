# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The smallest edit that makes an OpenVPN config keep DCO on. Pure: text in, text out.

``plan(text, path, version, ...)`` asks ``_dco_rules.evaluate`` what blocks DCO, edits the one
line that causes the first blocker it can fix, parses again and asks again, until nothing
blocks or nothing more may be fixed. Every other line stays byte for byte. A removed line is
kept as a comment so the operator sees what changed and why. Changed and added lines end like
the file's own (LF or CRLF).

Each fix says what the peers see (``impact``):

- ``none``: nothing on the wire changes (``disable-dco``, ``bind-dev``, ``management-query-proxy``);
- ``compatible``: the peers see a change they follow by themselves when they run OpenVPN 2.4 or
  newer - compression becomes ``compress migrate`` on a server (clients that still compress keep
  connecting), non-AEAD ciphers leave ``data-ciphers`` (2.4+ negotiate an AEAD one),
  ``topology subnet`` is pushed (2.x clients follow; static ``ifconfig-push`` addresses in a
  client-config-dir must be in subnet form);
- ``breaking``: some peers cannot connect until they change too - ``fragment`` must match on both
  ends, ``data-ciphers-fallback`` and a p2p ``cipher`` exist for peers that cannot negotiate.
  These are applied only when the caller allows breaking changes; otherwise they are reported.

Blockers with no edit that keeps the tunnel's purpose (tap bridging, proxies, static keys) are
reported, never changed.
"""

from __future__ import annotations

from ansible_collections.ovpnfleet.dco.plugins.module_utils.openvpn._config import parse_text
from ansible_collections.ovpnfleet.dco.plugins.module_utils.openvpn._dco_rules import DCO_CIPHERS, DEFAULT_DATA_CIPHERS, MODE_SERVER, evaluate

MARK = "# ovpnfleet.dco: "
UNFIXABLE = {
    "dev": "DCO carries IP packets only; a tap (bridged) tunnel stays in userspace. Move to a routed tun setup by hand.",
    "dev-type": "DCO carries IP packets only; a tap (bridged) tunnel stays in userspace. Move to a routed tun setup by hand.",
    "http-proxy": "DCO cannot reach the server through a proxy; connect directly, or keep this profile in userspace.",
    "socks-proxy": "DCO cannot reach the server through a proxy; connect directly, or keep this profile in userspace.",
    "secret": "Static-key tunnels cannot use DCO; move to TLS with certificates (ovpnfleet.dco.pki) by hand.",
    "tls-server": "Static-key tunnels cannot use DCO; move to TLS with certificates (ovpnfleet.dco.pki) by hand.",
    "mktun": "--mktun only creates a device and exits; there is nothing to offload.",
    "dev-node": "An AF_UNIX device is not a kernel device; remove 'dev-node unix:...' by hand if it is not needed.",
}


class Edit:
    """One line changed: what it was, what it is, why, and who notices.

    ``line`` is the line's number in the file as written, after every edit of the run (a line
    commented out keeps its number; an added line moves the ones below it).
    """

    def __init__(self, option, line, before, after, impact, why):
        self.option = option
        self.line = line
        self.before = before.rstrip("\r")
        self.after = after.rstrip("\r")
        self.impact = impact
        self.why = why

    def as_dict(self):
        return {"option": self.option, "line": self.line, "before": self.before, "after": self.after,
                "impact": self.impact, "why": self.why}


def _cr(line):
    """The carriage return a CRLF file keeps at the end of each split line, or ''."""
    return "\r" if line.endswith("\r") else ""


def _comment_out(lines, index, why):
    return lines[:index] + [MARK + why + ": " + lines[index].strip() + _cr(lines[index])] + lines[index + 1:]


def _replace(lines, index, new_line):
    indent = lines[index][:len(lines[index]) - len(lines[index].lstrip())]
    return lines[:index] + [indent + new_line + _cr(lines[index])] + lines[index + 1:]


def _edit_for(blocker, lines, parsed, mode):
    """(new lines, Edit) for one blocker, or (None, reason) when it has no safe edit here."""
    option, index = blocker["option"], blocker["line"] - 1
    directive = next((d for d in _all(parsed.directives) if d.file == blocker["file"] and d.line == blocker["line"]), None)
    if option in UNFIXABLE or directive is None:
        return None, UNFIXABLE.get(option, "no line to edit")
    before = lines[index]
    if option in ("disable-dco", "bind-dev", "management-query-proxy"):
        new = _comment_out(lines, index, "removed, it keeps DCO off")
        return new, Edit(option, blocker["line"], before, new[index], "none", blocker["reason"])
    if option in ("comp-lzo", "compress"):
        if mode == MODE_SERVER:
            has_migrate = any(d.name == "compress" and d.args == ["migrate"] for d in parsed.directives)
            new = (_comment_out(lines, index, "replaced by 'compress migrate'") if has_migrate
                   else _replace(lines, index, "compress migrate"))
            why = "clients that still compress keep connecting (in userspace framing), the others use DCO"
            return new, Edit(option, blocker["line"], before, new[index], "compatible", why)
        new = _comment_out(lines, index, "removed for DCO, the server must use 'compress migrate' or no compression")
        return new, Edit(option, blocker["line"], before, new[index], "compatible",
                         "the server must have 'compress migrate' (ovpnfleet.dco sets it on servers first) or no compression")
    if option == "allow-compression":
        new = _comment_out(lines, index, "removed, 'allow-compression no' is the default")
        return new, Edit(option, blocker["line"], before, new[index], "compatible",
                         "compressed packets from peers are no longer accepted; 'compress migrate' tells clients to stop")
    if option == "data-ciphers" and directive.args:
        kept = [name for name in directive.args[0].split(":") if name.upper() in DCO_CIPHERS] or DEFAULT_DATA_CIPHERS.split(":")
        new = _replace(lines, index, "data-ciphers " + ":".join(kept))
        return new, Edit(option, blocker["line"], before, new[index], "compatible",
                         "peers of OpenVPN 2.4 or newer negotiate one of %s; older peers cannot connect" % ":".join(kept))
    if option == "topology":
        new = _replace(lines, index, "topology subnet")
        return new, Edit(option, blocker["line"], before, new[index], "compatible",
                         "clients follow the pushed topology and get addresses in subnet form; "
                         "static ifconfig-push addresses in a client-config-dir must change too")
    if option in ("server", "mode") and "topology" in blocker["reason"]:
        new = lines[:index + 1] + ["topology subnet" + _cr(lines[index])] + lines[index + 1:]
        return new, Edit("topology", blocker["line"] + 1, "", "topology subnet", "compatible",
                         "OpenVPN 2.6 defaults to net30; clients follow the pushed topology")
    if option in ("cipher", "data-ciphers-fallback", "compat-mode"):
        new = _comment_out(lines, index, "removed, a non-AEAD fallback keeps DCO off")
        return new, Edit(option, blocker["line"], before, new[index], "breaking",
                         "peers that cannot negotiate ciphers (OpenVPN 2.3 and older, or 2.4 with ncp-disable) cannot connect")
    if option == "fragment":
        new = _comment_out(lines, index, "removed, DCO does not fragment")
        return new, Edit(option, blocker["line"], before, new[index], "breaking",
                         "both ends must drop 'fragment' together, or the tunnel carries nothing")
    return None, "no automatic edit for '%s'; %s" % (option, blocker["fix"])


def _all(directives):
    for directive in directives:
        yield directive
        yield from directive.children


def plan(text, path, version, cwd, allow_breaking=False, disable_dco=False):
    """What to change in ``text`` (the file at ``path``) for OpenVPN ``version``.

    Returns a dict: ``text`` (the new text), ``edits`` and ``not_edited`` (blockers left, each with
    why), ``verdict`` (the rules' answer for the new text) and ``before`` (for the old text).
    """
    parsed = parse_text(text, name=path, cwd=cwd)
    before = evaluate(parsed, version)
    lines = text.split("\n")
    edits, not_edited = [], []
    if before["errors"]:
        return {"text": text, "edits": [], "not_edited": [], "verdict": before, "before": before}
    if disable_dco:
        if not parsed.find("disable-dco"):
            lines, number = _append(lines, "disable-dco")
            edits.append(Edit("disable-dco", number, "", "disable-dco", "none", "DCO is turned off on purpose"))
        text = "\n".join(lines)
        return {"text": text, "edits": edits, "not_edited": [], "verdict": evaluate(parse_text(text, name=path, cwd=cwd), version),
                "before": before}
    verdict, tried = before, set()
    # Each edit removes its blocker; the bound only guards against a rule that re-reports one.
    for _round in range(100):
        fixable = [blocker for blocker in verdict["blockers"]
                   if (blocker["option"], blocker["line"]) not in tried]
        if not fixable:
            break
        blocker = fixable[0]
        tried.add((blocker["option"], blocker["line"]))
        if blocker["file"] != path:
            not_edited.append(dict(blocker, why="in an included file (%s): fix it there" % blocker["file"]))
            continue
        new_lines, edit = _edit_for(blocker, lines, parsed, verdict["mode"])
        if new_lines is None:
            not_edited.append(dict(blocker, why=edit))
            continue
        if edit.impact == "breaking" and not allow_breaking:
            not_edited.append(dict(blocker, why="breaking: " + edit.why + " (set allow_breaking to apply it)"))
            continue
        if len(new_lines) != len(lines):
            # An added line moves the lines below it: earlier edits report lines of the file as written.
            for earlier in edits:
                if earlier.line >= edit.line:
                    earlier.line += len(new_lines) - len(lines)
        lines = new_lines
        edits.append(edit)
        tried.clear()
        parsed = parse_text("\n".join(lines), name=path, cwd=cwd)
        verdict = evaluate(parsed, version)
        not_edited = []
    return {"text": "\n".join(lines), "edits": edits, "not_edited": not_edited, "verdict": verdict, "before": before}


def _append(lines, line):
    """``lines`` with ``line`` added at the end, and its line number.

    A final newline stays where the file had one; the added line ends like the file's lines.
    """
    if lines and lines[-1] == "":
        body = lines[:-1]
        cr = _cr(body[-1]) if body else ""
        return body + [line + cr, ""], len(body) + 1
    cr = next((_cr(other) for other in lines[:-1]), "")
    return lines[:-1] + [lines[-1] + cr, line], len(lines) + 1


def redact(text, path, cwd):
    """``text`` with the content of inline key blocks replaced, for diffs a log may keep."""
    lines = text.split("\n")
    for directive in _all(parse_text(text, name=path, cwd=cwd).directives):
        if directive.secret and directive.file == path:
            # line and end_line are the <tag> and </tag> lines.
            for index in range(directive.line, directive.end_line - 1):
                lines[index] = "[inline %s redacted]" % directive.name if index == directive.line else None
    return "\n".join(line for line in lines if line is not None)
