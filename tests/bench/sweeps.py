# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fleet sweeps against ``ansible -m ping`` of the same hosts, at the lab's current size.

Same inventory, forks, SSH settings and pipelining for every command; one untimed warm-up
each (SSH, caches; for enable_dco it also converges hosts the lab just added), then runs that
alternate between the commands. The enable_dco re-run is timed with the bench_profile callback
(tests/bench/callback/) so its per-task profile comes from the same runs.
"""

from __future__ import annotations

import json
import os
import re
import tempfile

from tests.bench import lab

HERE = os.path.dirname(os.path.abspath(__file__))
RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def commands(hosts, forks, report_dir):
    common = ["-i", lab.INVENTORY, "-f", str(forks)]
    playbooks = os.path.join(lab.TOP, "playbooks")
    return {
        "ping": ["ansible", hosts] + common + ["-m", "ansible.builtin.ping"],
        "tunnel_info": ["ansible", hosts] + common + ["-b", "-m", "ovpnfleet.dco.tunnel_info"],
        "check_health": ["ansible-playbook"] + common + [
            os.path.join(playbooks, "check_health.yml"), "-e", "dco_hosts=%s" % hosts,
            "-e", "health_install_requirements=false", "-e", "health_report_dir=%s" % os.path.join(report_dir, "health"),
            # Timing, not judging: a threshold the lab misses must not stop the run.
            "-e", "health_min_cert_days=0"],
        "enable_dco_rerun": ["ansible-playbook"] + common + [
            os.path.join(playbooks, "enable_dco.yml"), "-e", "dco_hosts=%s" % hosts,
            "-e", "dco_report_dir=%s" % os.path.join(report_dir, "rollout")],
    }


def recap(stdout):
    """Hosts and the most any host changed, from the PLAY RECAP."""
    rows = RECAP.findall(stdout)
    return {"hosts": len(rows), "max_changed": max((int(r[2]) for r in rows), default=0),
            "failed": sum(int(r[4]) for r in rows), "unreachable": sum(int(r[3]) for r in rows)}


def run(hosts="all", forks=25, runs=3, rerun_runs=None, log=lab.log):
    """Times per command (seconds), the host count, the re-run's recaps and per-task profiles."""
    rerun_runs = runs if rerun_runs is None else rerun_runs
    env = lab.ansible_env()
    times, recaps, profiles = {}, [], []
    with tempfile.TemporaryDirectory() as work:
        argvs = commands(hosts, forks, work)
        profile_env = lab.ansible_env({"ANSIBLE_CALLBACK_PLUGINS": os.path.join(HERE, "callback"),
                                       "ANSIBLE_CALLBACKS_ENABLED": "bench_profile",
                                       "BENCH_PROFILE_JSON": os.path.join(work, "profile.json")})
        # enable_dco first: on hosts the lab just added it installs what tunnel_info needs.
        for name in sorted(argvs, key=lambda n: n != "enable_dco_rerun"):
            argv = argvs[name]
            elapsed = lab.timed(argv, profile_env if name == "enable_dco_rerun" else env)[0]
            log("  warm-up %s: %.1f s" % (name, elapsed))
            times[name] = []
        for index in range(runs):
            for name, argv in argvs.items():
                if name == "enable_dco_rerun" and index >= rerun_runs:
                    continue
                elapsed, stdout = lab.timed(argv, profile_env if name == "enable_dco_rerun" else env)
                times[name].append(elapsed)
                if name == "enable_dco_rerun":
                    recaps.append(recap(stdout))
                    with open(os.path.join(work, "profile.json"), encoding="utf-8") as handle:
                        profiles.append(json.load(handle))
            log("  run %d: %s" % (index + 1, "  ".join("%s %.1fs" % (n, t[-1]) for n, t in times.items() if t)))
    return {"hosts": lab.count_hosts(hosts, env), "forks": forks, "times": times, "rerun_recaps": recaps,
            "profiles": profiles}


def top_tasks(profile, limit=15):
    """The LIMIT slowest tasks of one bench_profile JSON, slowest first."""
    tasks = sorted(profile["tasks"], key=lambda task: task["seconds"], reverse=True)
    return tasks[:limit]
