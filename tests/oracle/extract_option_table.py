# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Print the option tables of plugins/module_utils/openvpn/_config.py from OpenVPN's source.

  extract_option_table.py GIT_DIR REF_2_6 REF_2_7     e.g. ... openvpn.git v2.6.14 v2.7.6

Reads ``src/openvpn/options.c`` of both refs (``git show``), keeps what a Linux OpenSSL build
compiles (a small #if evaluator; the macros in UNDEFINED are off, every other one on) and,
for every ``streq(p[0], "NAME")`` condition in add_option(), how many parameters it lets
through: the highest ``p[N]`` it requires and the lowest ``!p[N]`` it forbids. Prints the
``_ARITY_BOTH`` and ``_ARITY_ONLY`` blocks; compare them with the module by eye or diff.
"""

from __future__ import annotations

import re
import subprocess
import sys

UNDEFINED = {
    "_WIN32", "TARGET_ANDROID", "TARGET_FREEBSD", "TARGET_DARWIN", "TARGET_OPENBSD",
    "TARGET_NETBSD", "TARGET_SOLARIS", "TARGET_DRAGONFLY", "TARGET_AIX", "ENABLE_CRYPTO_MBEDTLS",
    "ENABLE_SMALL", "ENABLE_IPROUTE", "HAVE_SETCON", "ENABLE_SELINUX", "ENABLE_MEMSTATS",
    "OPENSSL_NO_EC", "ENABLE_CRYPTO_WOLFSSL", "ENABLE_FUZZING", "DEFAULT_PKCS11_MODULE",
    "LIBRESSL_VERSION_NUMBER", "OPENSSL_IS_AWSLC", "OPENSSL_IS_BORINGSSL", "ENABLE_OVPNDCOWIN",
    "ENABLE_DNS_UPDOWN_BY_DEFAULT", "ENABLE_WIN32_SERVICE",
}
MAX_PARMS = 16


def _value(expr):
    expr = re.sub(r"/\*.*?\*/", "", expr)
    expr = re.sub(r"defined\s*\(?\s*(\w+)\s*\)?", lambda m: "0" if m.group(1) in UNDEFINED else "1", expr)
    expr = re.sub(r"\b([A-Za-z_]\w*)\b", lambda m: "0" if m.group(1) in UNDEFINED else "1", expr)
    expr = expr.replace("&&", " and ").replace("||", " or ").replace("!", " not ")
    try:
        return bool(eval(expr, {"__builtins__": {}}))  # pylint: disable=eval-used
    except SyntaxError:
        return True


def preprocess(src):
    """Blank out the lines a Linux build does not compile."""
    out, stack, active = [], [], True
    for line in src.splitlines():
        match = re.match(r"\s*#\s*(ifdef|ifndef|if|elif|else|endif)\b(.*)", line)
        if not match:
            out.append(line if active else "")
            continue
        keyword, rest = match.groups()
        if keyword in ("if", "ifdef", "ifndef"):
            word = rest.split()[0] if rest.split() else ""
            value = {"ifdef": word not in UNDEFINED, "ifndef": word in UNDEFINED}.get(keyword)
            value = _value(rest) if value is None else value
            stack.append([active, value, active and value])
        elif keyword == "elif":
            parent, taken = stack[-1][:2]
            value = not taken and _value(rest)
            stack[-1] = [parent, taken or value, parent and value]
        elif keyword == "else":
            parent, taken = stack[-1][:2]
            stack[-1] = [parent, True, parent and not taken]
        else:
            stack.pop()
        active = stack[-1][2] if stack else True
        out.append("")
    return "\n".join(out)


def _conditions(src):
    for match in re.finditer(r"\bif\s*\(", src):
        index, depth = match.end(), 1
        while depth:
            depth += (src[index] == "(") - (src[index] == ")")
            index += 1
        condition = src[match.end():index - 1]
        names = re.findall(r'streq\(p\[0\],\s*"([^"]+)"\)', condition)
        if names:
            yield names, condition.replace("p[0]", "")


def table(src):
    """{option: set of parameter counts} of add_option()."""
    src = preprocess(src)
    body = src[src.rindex("\nadd_option(struct options *options,"):]
    ranges = {}
    for names, condition in _conditions(body):
        required = [int(n) for n in re.findall(r"(?<![!\w])p\[(\d+)\]", condition)]
        absent = [int(n) for n in re.findall(r"!p\[(\d+)\]", condition)]
        low, high = max(required, default=0), min(absent, default=MAX_PARMS) - 1
        for name in names:
            ranges.setdefault(name, set()).add((min(low, high), max(low, high)))
    counts = {}
    for name, found in ranges.items():
        if len(found) > 1:  # a nested if on the same name (a message) says nothing of arity
            found = {pair for pair in found if pair != (0, MAX_PARMS - 1)}
        counts[name] = {count for low, high in found for count in range(low, high + 1)}
    return counts


def render(counts):
    ordered = sorted(counts)
    if ordered[-1] == MAX_PARMS - 1 and ordered == list(range(ordered[0], MAX_PARMS)):
        return "%d+" % ordered[0]
    if ordered == list(range(ordered[0], ordered[-1] + 1)):
        return str(ordered[0]) if len(ordered) == 1 else "%d-%d" % (ordered[0], ordered[-1])
    return ",".join(str(count) for count in ordered)


def block(entries, width=94):
    lines, current = [], ""
    for name in sorted(entries):
        item = "%s:%s" % (name, entries[name])
        if current and len(current) + len(item) + 1 > width:
            lines.append(current)
            current = item
        else:
            current = (current + " " + item).strip()
    return "\n".join(lines + [current])


def main(argv):
    gitdir, ref26, ref27 = argv[1:4]
    tables = []
    for ref in (ref26, ref27):
        src = subprocess.run(["git", "-C", gitdir, "show", ref + ":src/openvpn/options.c"],
                             capture_output=True, text=True, check=True).stdout
        tables.append({name: render(counts) for name, counts in table(src).items()})
    v26, v27 = tables
    both = {name: spec for name, spec in v26.items() if v27.get(name) == spec}
    print('_ARITY_BOTH = """\n%s\n"""' % block(both))
    for label, only in (("(2, 6)", v26), ("(2, 7)", v27)):
        print('%s: """\n%s\n""",' % (label, block({n: s for n, s in only.items() if n not in both})))


if __name__ == "__main__":
    main(sys.argv)
