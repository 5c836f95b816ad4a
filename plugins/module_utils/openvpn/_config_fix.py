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
reported, never changed. Each edit is the fix of the blocker's rule (``_rules``), chosen by the
rule's id.
"""

from __future__ import annotations

from ansible_collections.ovpnfleet.dco.plugins.module_utils.openvpn._config import parse_text
from ansible_collections.ovpnfleet.dco.plugins.module_utils.openvpn._dco_rules import evaluate
from ansible_collections.ovpnfleet.dco.plugins.module_utils.openvpn._edits import MARK, Edit, cr
from ansible_collections.ovpnfleet.dco.plugins.module_utils.openvpn._rules import RULES

__all__ = ["MARK", "plan", "redact"]


def _edit_for(blocker, lines, parsed, mode):
    """(new lines, Edit) for one blocker, or (None, reason) when it has no safe edit here.

    The blocker's rule (its id) decides; its option name and OpenVPN's message are text for
    people, and a reworded note must not change what is edited.
    """
    rule = RULES[blocker["rule"]]
    if rule.impact is None:
        return None, rule.advice
    directive = next((d for d in _all(parsed.directives) if d.file == blocker["file"] and d.line == blocker["line"]), None)
    if directive is None:
        return None, "no line to edit"
    return rule.edit(lines, blocker["line"] - 1, directive, {"mode": mode, "parsed": parsed, "fix": blocker["fix"]})


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
                   if (blocker["rule"], blocker["line"]) not in tried]
        if not fixable:
            break
        blocker = fixable[0]
        tried.add((blocker["rule"], blocker["line"]))
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
        end = cr(body[-1]) if body else ""
        return body + [line + end, ""], len(body) + 1
    end = next((cr(other) for other in lines[:-1]), "")
    return lines[:-1] + [lines[-1] + end, line], len(lines) + 1


def redact(text, path, cwd):
    """``text`` with the content of inline key blocks replaced, for diffs a log may keep."""
    lines = text.split("\n")
    for directive in _all(parse_text(text, name=path, cwd=cwd).directives):
        if directive.secret and directive.file == path:
            # line and end_line are the <tag> and </tag> lines.
            for index in range(directive.line, directive.end_line - 1):
                lines[index] = "[inline %s redacted]" % directive.name if index == directive.line else None
    return "\n".join(line for line in lines if line is not None)
