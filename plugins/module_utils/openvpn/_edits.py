# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Line edits of a config's text, the pieces the DCO rules' fixes are made of. Pure.

Lines are the text split at ``\\n``; a CRLF file keeps its ``\\r`` at the end of each, and a
changed or added line ends like the line it replaces or follows.
"""

from __future__ import annotations

MARK = "# ovpnfleet.dco: "
IMPACTS = ("none", "compatible", "breaking")


class Edit:
    """One line changed: what it was, what it is, why, who notices, and the rule it answers.

    ``line`` is the line's number in the file as written, after every edit of the run (a line
    commented out keeps its number; an added line moves the ones below it).
    """

    def __init__(self, option, line, before, after, impact, why, rule=None):
        self.option = option
        self.line = line
        self.before = before.rstrip("\r")
        self.after = after.rstrip("\r")
        self.impact = impact
        self.why = why
        self.rule = rule

    def as_dict(self):
        return {"option": self.option, "line": self.line, "before": self.before, "after": self.after,
                "impact": self.impact, "why": self.why, "rule": self.rule}


def cr(line):
    """The carriage return a CRLF file keeps at the end of each split line, or ''."""
    return "\r" if line.endswith("\r") else ""


def comment_out(lines, index, why):
    return lines[:index] + [MARK + why + ": " + lines[index].strip() + cr(lines[index])] + lines[index + 1:]


def replace(lines, index, new_line):
    indent = lines[index][:len(lines[index]) - len(lines[index].lstrip())]
    return lines[:index] + [indent + new_line + cr(lines[index])] + lines[index + 1:]


def insert_after(lines, index, new_line):
    return lines[:index + 1] + [new_line + cr(lines[index])] + lines[index + 1:]
