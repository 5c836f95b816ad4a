# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Build once per kernel group against a compile on every host, on Debian 12 VMs of one kernel.

Both variants run the kmod role alone on the same VMs, from the same clean start:
- build_once: `kmod_method: source` with an empty controller cache: the group's first host
  compiles the pinned ovpn-dco-v2, the others install that file;
- compile_everywhere: `kmod_method: package`, Debian's openvpn-dco-dkms: DKMS compiles on each
  host, which is how a fleet gets the module without this collection.
Between runs every VM loses what either variant left (module, DKMS tree, compiler, headers,
persist and block files), so each run starts as a fresh host does. The packages both variants
need are downloaded once before the first run (untimed), so neither pays the mirror.
A compile is counted on a host that has a C compiler afterwards: none has one after the reset.
"""

from __future__ import annotations

import os
import tempfile

from tests.bench import lab
from tests.lab.common import in_parallel

VARIANTS = {"build_once": "source", "compile_everywhere": "package"}
PLAY = """\
# The bench's play: the kmod role alone (tests/bench/build.py).
- name: The kmod role on the bench's VMs
  hosts: "{{ bench_hosts }}"
  gather_facts: false
  become: true
  roles:
    - role: ovpnfleet.dco.kmod
"""
# What either variant may leave on a host. autoremove takes the compiler's and DKMS's
# dependencies, which were pulled in automatically. gcc-12-base is libc's, not the compiler's.
RESET = """\
set -e
export DEBIAN_FRONTEND=noninteractive
rmmod ovpn_dco_v2 2>/dev/null || true
installed=$(dpkg-query -W -f '${Package} ${db:Status-Status}\\n' openvpn-dco-dkms dkms gcc make \\
    'gcc-[0-9]*' 'linux-headers-*' 'linux-kbuild-*' 2>/dev/null | awk '$2 == "installed" && $1 !~ /-base$/ {print $1}')
[ -z "$installed" ] || apt-get purge -y -q $installed >/dev/null
apt-get autoremove --purge -y -q >/dev/null
rm -rf /lib/modules/*/updates/ovpnfleet-dco /lib/modules/*/updates/dkms/ovpn-dco-v2.ko* \\
    /var/lib/dkms/ovpn-dco-v2 /var/lib/ovpnfleet-dco \\
    /etc/modules-load.d/ovpnfleet-dco.conf /etc/modprobe.d/ovpnfleet-dco.conf
depmod -a
if command -v gcc >/dev/null || command -v cc >/dev/null; then echo "reset left a C compiler" >&2; exit 1; fi
"""
PRIME = """\
set -e
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --download-only --no-install-recommends gcc make "linux-headers-$(uname -r)" \\
    dkms openvpn-dco-dkms >/dev/null
"""
# After a run: whether the host compiled (it has a compiler) and whether the module is loaded.
AFTER = ("printf '%s %s\\n' \"$( (command -v gcc || command -v cc) >/dev/null && echo compiler || echo none)\" "
         "\"$(grep -q '^ovpn_dco_v2 ' /proc/modules && echo loaded || echo missing)\"")


def hosts(count):
    """The bench's VMs: Debian 12 VMs beyond the lab's first, whose module the ring uses."""
    return ["debian12-%d" % number for number in range(2, count + 2)]


def order(run):
    """Variants of run RUN, alternated so neither always runs on the warmer host."""
    names = sorted(VARIANTS)
    return names if run % 2 == 0 else names[::-1]


def read_after(answers):
    """{host: 'compiler none'-style AFTER answer} -> (compiles, hosts without the module)."""
    compiles, missing = 0, []
    for name, answer in sorted(answers.items()):
        words = answer.split()
        if len(words) != 2 or words[0] not in ("compiler", "none") or words[1] not in ("loaded", "missing"):
            raise RuntimeError("read %s after the kmod run: unexpected answer %r" % (name, answer))
        compiles += words[0] == "compiler"
        if words[1] == "missing":
            missing.append(name)
    return compiles, missing


def play_argv(path, names, variant, cache_dir, forks):
    return ["ansible-playbook", "-i", lab.INVENTORY, "-f", str(forks), path,
            "-e", "bench_hosts=%s" % ",".join(names), "-e", "kmod_method=%s" % VARIANTS[variant],
            "-e", "kmod_cache_dir=%s" % cache_dir]


def run_each(names, script):
    """SCRIPT on every host at once; their answers in the order of NAMES."""
    return in_parallel(lambda name: lab.ssh(name, script, timeout=1800), names)


def measure(names, runs, forks=25, log=print):
    """{variant: {"seconds": [...], "compiles": [...]}} over RUNS runs of both variants."""
    log("build: download the packages both variants need on %s (untimed)" % ", ".join(names))
    run_each(names, PRIME)
    samples = {variant: {"seconds": [], "compiles": []} for variant in VARIANTS}
    with tempfile.TemporaryDirectory() as work:
        path = os.path.join(work, "kmod.yml")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(PLAY)
        for run in range(runs):
            for variant in order(run):
                run_each(names, RESET)
                cache_dir = tempfile.mkdtemp(prefix="cache-", dir=work)
                log("build: run %d, %s (kmod_method %s)" % (run + 1, variant, VARIANTS[variant]))
                elapsed = lab.timed(play_argv(path, names, variant, cache_dir, forks), lab.ansible_env(), timeout=5400)[0]
                compiles, missing = read_after(dict(zip(names, run_each(names, AFTER))))
                if missing:
                    raise RuntimeError("build: %s ran without error but ovpn-dco-v2 is not loaded on %s"
                                       % (variant, ", ".join(missing)))
                log("build: %s took %.0f s, %d compile(s)" % (variant, elapsed, compiles))
                samples[variant]["seconds"].append(elapsed)
                samples[variant]["compiles"].append(compiles)
        run_each(names, RESET)
    return samples
