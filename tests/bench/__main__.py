# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""python3 -m tests.bench: DCO's gain and the rollout's costs on the lab, in one run.

    python3 -m tests.bench [--parts throughput,ring,scale,reconnect,build] [--runs 3] [--seconds 10] [--protos tcp,udp]
                           [--sizes 20,50,100] [--rerun-runs 1] [--build-hosts 3] [--build-runs 1] [--out bench]
    python3 -m tests.bench --report-only      # re-render report.md and plots from results.json

Parts (docs/bench.md says what each number means):
- throughput: in each VM, DCO against --disable-dco between two network namespaces;
- ring: VM to VM through the lab's tunnel after enable_dco, then after disable_dco; then
  enable_dco again, whose outages per tunnel are recorded;
- scale: ansible -m ping, tunnel_info, check_health and the converged enable_dco re-run at
  each fleet size, with the per-host slope and the re-run's per-task profile;
- reconnect: how long a client is cut off while its server restarts, untold, told through the
  management socket, or signalled (real OpenVPN in two network namespaces on this machine);
- build: the kmod role building once per kernel group against DKMS compiling on every host, on
  fresh Debian 12 VMs the part adds to the lab (wall time and compiles).
A part run again replaces its earlier result in results.json; the others are kept.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile

from tests.bench import build, lab, report, results, rollout, stats, sweeps, throughput

VMS = {"debian12-1": "Debian 12, kernel 6.1, OpenVPN 2.6 with ovpn-dco-v2 (DKMS, after enable_dco)",
       "debian13-bpo-1": "Debian 13, backports kernel, OpenVPN 2.7 with the in-tree ovpn"}
RING = ("debian12-1", "debian13-bpo-1")  # server (2.6 + ovpn-dco-v2), client (2.7 + ovpn)
GOALS = {"tunnel_info": 1.5, "enable_dco_rerun": 3.0}


def now():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()


def commit(*paths):
    """HEAD, or with PATHS the last commit that changed them (what the playbooks ran as)."""
    argv = ["git", "log", "-1", "--format=%H"] + (["--"] + list(paths) if paths else [])
    done = subprocess.run(argv, cwd=lab.TOP, capture_output=True, text=True, check=False)
    return done.stdout.strip() or "unknown"


def dco_module_present(vm):
    module = "ovpn-dco-v2" if vm.startswith("debian12") else "ovpn"
    return lab.ssh(vm, "modinfo -F filename %s >/dev/null 2>&1 && echo yes || echo no" % module).strip() == "yes"


def prepare(parts, log):
    if not lab.running():
        lab.ensure(log=log)
    # The build part brings its own fresh VMs; the others measure the VMs' DCO modules.
    if set(parts) & DCO_PARTS and not all(dco_module_present(vm) for vm in VMS):
        log("a VM lacks its DCO module: running enable_dco once first (not timed)")
        with tempfile.TemporaryDirectory() as work:
            rollout.playbook("enable_dco", work)


def part_throughput(args, log):
    setups, figures, info = {}, [], {}
    for vm, description in VMS.items():
        setup = "netns:%s" % vm
        log("throughput %s" % setup)
        try:
            samples, info[vm] = throughput.netns(vm, args.runs, args.seconds, args.protos, log=log)
        except RuntimeError as error:
            # One VM's failure must not throw away the other's numbers.
            info[vm] = {"error": str(error)[-1500:]}
            log("throughput %s failed: %s" % (setup, error))
            continue
        setups[setup] = ("inside one VM (%s), OpenVPN server and client of the bench in two network namespaces "
                         "over a veth pair, UDP, AES-256-GCM, the same config with and without --disable-dco; "
                         "iperf3 %d s per run; CPU = whole VM (2 vCPUs)" % (description, args.seconds))
        figures += results.variant_figures(setup, samples)
    if not figures:
        raise RuntimeError("measure throughput: no VM gave a figure: %s" % info)
    notes = ["%s: %s" % (vm, entry["error"]) for vm, entry in info.items() if "error" in entry]
    notes += ["runs missing after a retry: %s" % ", ".join(entry["failed_samples"])
              for entry in info.values() if entry.get("failed_samples")]
    return {"setups": setups, "figures": figures, "ratios": results.pair_ratios(figures, "dco", "userspace"),
            "devices": info, "limits": {s: limit(figures, s) for s in setups}, "notes": notes}


def limit(figures, setup, vcpus=2, host_cpus=None):
    """Which limit each variant of a setup hits, read from its own numbers.

    Busy vCPUs while moving data = CPU s/GB x GB/s. VCPUS is what the CPU figures cover (2 for
    one VM, 4 for the ring's two). One TCP flow does not spread over vCPUs (sender, receiver and
    the data channel's crypto serialise), so about one vCPU busy already caps a flow."""
    by = {(f["metric"], f["variant"]): f["median"] for f in figures if f["setup"] == setup}
    words = []
    for variant in ("userspace", "dco"):
        rate = by.get(("mbit_s:tcp-up", variant))
        cpu = by.get(("guest_cpu_s_per_gb:tcp-up", variant))
        if not (rate and cpu):
            continue
        busy = cpu * rate / 8000.0
        qemu = by.get(("qemu_cpu_s_per_gb:tcp-up", variant), 0.0) * rate / 8000.0
        if host_cpus and qemu >= 0.9 * host_cpus:
            verdict = ("host-CPU-bound: the VMs' qemu processes keep %.2f of this machine's %d cores busy "
                       "(TCG emulates the vCPUs and the NICs)" % (qemu, host_cpus))
        elif busy > 0.8 * vcpus:
            verdict = "CPU-bound: every vCPU saturated"
        elif busy >= 0.9 and vcpus <= 2:
            verdict = "CPU-bound per flow: more than one vCPU's worth busy the whole transfer"
        else:
            verdict = ("not CPU-bound: the vCPUs idle part of the time, so the path (the emulated LAN and "
                       "NICs) caps the rate and DCO shows as less CPU per GB more than as Mbit/s")
        words.append("%s %.0f Mbit/s with %.2f of %d vCPUs busy: %s" % (variant, rate, busy, vcpus, verdict))
    return "; ".join(words) or "not measured"


def ring_samples(args, label, log):
    server, client = RING
    tunnel = next(t for t in lab.state()["tunnels"] if t["server"] == server and t["client"] == client)
    return throughput.ring(server, client, tunnel["gateway"], args.runs, args.seconds, args.protos, label, log=log)


def ring_in_dco(vm):
    """Whether every OpenVPN device of the VM is a DCO device (the lab's ring tunnels)."""
    kinds = lab.ssh(vm, "for d in $(ls /sys/class/net); do ip -d -o link show dev $d; done").split("\n")
    vpn = [line for line in kinds if " ovpn" in line or " tun " in line or "tun type" in line]
    return bool(vpn) and all(" ovpn" in line for line in vpn)


def part_ring(args, log):
    setup = "ring:%s<-%s" % RING
    samples, outage = {}, []
    with tempfile.TemporaryDirectory() as work:
        if not all(ring_in_dco(vm) for vm in RING):
            log("ring: enable_dco first, so both ends run DCO")
            rollout.playbook("enable_dco", os.path.join(work, "enable0"))
        samples.update(ring_samples(args, "dco", log))
        log("ring: disable_dco")
        rollout.playbook("disable_dco", os.path.join(work, "disable"))
        samples.update(ring_samples(args, "userspace", log))
        log("ring: enable_dco again (its outages per tunnel are recorded)")
        elapsed, stdout = rollout.playbook("enable_dco", os.path.join(work, "enable1"))
        outage = rollout.outages(stdout, "enable_dco after disable_dco")
    figures = results.variant_figures(setup, samples)
    return {"setups": {setup: ("the lab's own tunnel between the VMs: server %s (OpenVPN 2.6, ovpn-dco-v2), "
                               "client %s (OpenVPN 2.7, ovpn), over the emulated LAN (qemu multicast socket); "
                               "DCO runs after enable_dco, userspace runs after disable_dco (switching is a "
                               "playbook run, so variants do not alternate per run); CPU = both VMs" % RING)},
            "figures": figures, "ratios": results.pair_ratios(figures, "dco", "userspace"),
            "limits": {setup: limit(figures, setup, vcpus=4)}, "outage": outage,
            "notes": ["enable_dco after disable_dco took %.0f s wall for the whole lab." % elapsed]}


def part_scale(args, log):
    start_size = len(lab.state()["containers"])
    series, ratios, figures, setups, profile, notes = {}, [], [], {}, None, []
    try:
        for size in args.sizes:
            # A size the lab cannot reach (or a sweep that fails there) keeps the sizes measured
            # before it; the larger ones are not tried.
            try:
                lab.ensure(containers=size, log=log)
                log("sweeps at %d containers" % size)
                found = sweeps.run("all", args.forks, args.runs, args.rerun_runs, log=log)
            except (RuntimeError, subprocess.SubprocessError) as error:
                notes.append("%d containers: not measured: %s" % (size, str(error)[-600:]))
                log("scale at %d containers failed: %s" % (size, error))
                break
            setup = "fleet:%d" % found["hosts"]
            setups[setup] = ("ansible from this machine to %d hosts (%d containers + the VMs), forks %d, "
                             "pipelining on, one warm-up each; enable_dco re-run on the converged fleet "
                             "(max changed on a host: %s)" % (found["hosts"], size, args.forks,
                                                              ", ".join(str(r["max_changed"]) for r in found["rerun_recaps"])))
            mine = {name: results.figure(setup, "seconds", name, values) for name, values in found["times"].items() if values}
            figures += mine.values()
            for name, entry in mine.items():
                if name != "ping":
                    ratios.append(results.ratio_entry(entry, mine["ping"], goal=GOALS.get(name)))
                point = {"hosts": found["hosts"], "median": entry["median"], "min": entry["min"], "max": entry["max"],
                         "ratio_to_ping": entry["median"] / mine["ping"]["median"]}
                series.setdefault(name, []).append(point)
            if profile is None and found["profiles"]:
                chosen = sorted(found["profiles"], key=lambda p: p["total_seconds"])[len(found["profiles"]) // 2]
                profile = {"hosts": found["hosts"], "commit": commit("playbooks", "roles", "plugins"), "total_seconds": chosen["total_seconds"],
                           "top": sweeps.top_tasks(chosen), "tasks": chosen["tasks"]}
    finally:
        if args.restore and args.sizes and args.sizes[-1] != start_size:
            lab.ensure(containers=start_size, log=log)
    if not figures:
        raise RuntimeError("measure the sweeps: no fleet size gave a figure: %s" % "; ".join(notes))
    _merge_previous(args, setups, figures, ratios, series)
    previous = (args.previous.get("scale") or {}).get("profile") if args.merge else None
    if previous and (profile is None or previous["hosts"] < profile["hosts"]):
        profile = previous
    slopes = []
    for name, points in sorted(series.items()):
        if len({p["hosts"] for p in points}) > 1:
            fit = stats.slope([(p["hosts"], p["median"]) for p in points])
            slopes.append({"command": name, "sizes": [p["hosts"] for p in points],
                           "per_host": fit["per_host"], "intercept": fit["intercept"]})
    return {"setups": setups, "figures": figures, "ratios": ratios,
            "scale": {"series": series, "slopes": slopes}, "profile": profile, "notes": notes}


def _merge_previous(args, setups, figures, ratios, series):
    """--merge: keep the earlier scale results of fleet sizes this invocation did not measure
    (each size's ratios stay within the invocation that measured it; only the slope spans them)."""
    previous = args.previous.get("scale") if args.merge else None
    if not previous:
        return
    kept = {setup for setup in previous.get("setups", {}) if setup not in setups}
    for setup in kept:
        setups[setup] = previous["setups"][setup] + " (measured %s, an earlier invocation)" % previous.get("finished", "?")
    figures += [f for f in previous.get("figures", []) if f["setup"] in kept]
    ratios += [r for r in previous.get("ratios", []) if r["setup"] in kept]
    hosts = {int(setup.split(":")[1]) for setup in kept}
    for name, points in previous.get("scale", {}).get("series", {}).items():
        series.setdefault(name, []).extend(p for p in points if p["hosts"] in hosts)
        series[name].sort(key=lambda point: point["hosts"])


def part_reconnect(args, log):
    from tests.bench import reconnect
    log("reconnect: a real OpenVPN server and client in two network namespaces on this machine")
    found = reconnect.measure(args.runs)
    setup = "reconnect:netns"
    figures = []
    for mode in reconnect.MODES:
        values = found["modes"][mode]["outages_s"]
        if None in values:
            raise RuntimeError("reconnect: the client never answered again in a %s run: %s" % (mode, values))
        figures.append(results.figure(setup, "seconds", mode, values))
    return {"setups": {setup: ("%s server and client (userspace) in two network namespaces on this machine, "
                               "keepalive %s, no explicit-exit-notify; the client pings the server's tunnel "
                               "address every 0.1 s while the server restarts as systemctl restart does; the "
                               "outage is the longest gap. none: nothing tells the client (it waits for "
                               "ping-restart); management: openvpn_restart's code sends client-kill CID RESTART "
                               "through the server's management socket %.1f s before the restart; signal: the "
                               "client gets SIGUSR1 once the new server is up (the rollout's own clients)"
                               % (found["openvpn"].split(" x86_64")[0], found["keepalive"], found["settle_s"]))},
            "figures": figures,
            "ratios": results.pair_ratios(figures, "management", "none") + results.pair_ratios(figures, "signal", "none")}


def part_build(args, log):
    names = build.hosts(args.build_hosts)
    start_containers = len(lab.state()["containers"])
    setup = "kmod:%dx-debian12" % len(names)
    notes = []
    try:
        # The lab's first Debian 12 VM serves the ring in DCO; the bench takes fresh ones.
        lab.ensure(containers=start_containers, debian12=1 + len(names), log=log)
        kernels = {name: lab.ssh(name, "uname -r").strip() for name in names}
        if len(set(kernels.values())) != 1:
            raise RuntimeError("build: the bench's VMs must share one kernel (one build group): %s" % kernels)
        samples = build.measure(names, args.build_runs, args.forks, log=log)
    finally:
        if args.restore:
            # Back to the lab's usual VMs. `up` deploys the ring's legacy configs again, since the
            # ring changed twice; the ring and scale parts run enable_dco first when they need it.
            # A failed restore is noted, never raised: it must not hide the measurement or its error.
            try:
                lab.ensure(containers=start_containers, log=log)
                notes.append("The lab went back to its usual VMs afterwards; its ring runs the legacy (userspace) "
                             "configs `tests.lab up` deploys until the next enable_dco.")
            except (RuntimeError, subprocess.SubprocessError) as error:
                log("build: bring the lab back to its usual VMs: %s" % error)
                notes.append("Bringing the lab back to its usual VMs failed: %s" % str(error)[-600:])
    figures = [results.figure(setup, metric, variant, samples[variant][metric])
               for variant in sorted(samples) for metric in ("seconds", "compiles")]
    return {"setups": {setup: ("the kmod role alone (ansible-playbook, forks %d) on %d fresh Debian 12 VMs of one kernel "
                               "(%s), each run from a clean host (no module, compiler or headers; packages already "
                               "downloaded). build_once: kmod_method source (pinned ovpn-dco-v2, compiled on the "
                               "group's first host, the others install that file), empty controller cache. "
                               "compile_everywhere: kmod_method package (Debian's openvpn-dco-dkms, DKMS compiles "
                               "on every host). compiles = hosts with a C compiler afterwards"
                               % (args.forks, len(names), next(iter(kernels.values()))))},
            "figures": figures, "ratios": results.pair_ratios(figures, "build_once", "compile_everywhere"),
            "notes": notes}


# Parts that run on this machine alone, without the lab; parts that need the VMs' DCO modules.
LOCAL_PARTS = {"reconnect"}
DCO_PARTS = {"throughput", "ring", "scale"}
PARTS = {"throughput": part_throughput, "ring": part_ring, "scale": part_scale, "reconnect": part_reconnect,
         "build": part_build}


def write(out, document):
    # Derived, not measured: recomputed so a --report-only run words them the current way.
    for name, vcpus in (("throughput", 2), ("ring", 4)):
        part = document["parts"].get(name)
        if part:
            part["limits"] = {setup: limit(part["figures"], setup, vcpus, document.get("host_cpus"))
                              for setup in part["setups"]}
    problems = results.validate(document)
    if problems:
        raise SystemExit("write bench results: the document is malformed:\n  " + "\n  ".join(problems))
    from tests.bench import plots  # matplotlib: only where a report is drawn
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "results.json"), "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=1, sort_keys=True)
    images = plots.draw(document, out)
    with open(os.path.join(out, "report.md"), "w", encoding="utf-8") as handle:
        handle.write(report.render(document, images))
    return images


def parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--parts", default="throughput,ring,scale,reconnect,build")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rerun-runs", type=int, default=None, help="timed enable_dco re-runs per size (default: --runs)")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--protos", default="tcp,udp", help="tcp for TCP only (UDP: offered load unlimited)")
    parser.add_argument("--sizes", default="20,50,100")
    parser.add_argument("--forks", type=int, default=25)
    parser.add_argument("--build-hosts", type=int, default=3, help="build: fresh Debian 12 VMs of one kernel (default 3)")
    parser.add_argument("--build-runs", type=int, default=1,
                        help="build: runs of each variant (default 1: a run of both takes about 16 minutes under TCG)")
    parser.add_argument("--no-restore", dest="restore", action="store_false",
                        help="leave the lab at the last size instead of the size it had")
    parser.add_argument("--merge", action="store_true",
                        help="scale: keep earlier results of the fleet sizes this run does not measure")
    parser.add_argument("--out", default=os.path.join(lab.TOP, "bench"))
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args(argv)
    args.parts = [p for p in args.parts.split(",") if p]
    unknown = set(args.parts) - set(PARTS)
    if unknown:
        parser.error("unknown part(s) %s; known: %s" % (", ".join(sorted(unknown)), ", ".join(PARTS)))
    args.protos = [p for p in args.protos.split(",") if p]
    args.sizes = [int(s) for s in args.sizes.split(",") if s]
    return args


def main(argv=None):
    args = parse(argv)
    path = os.path.join(args.out, "results.json")
    document = {"schema": results.SCHEMA, "parts": {}, "not_measured": []}
    if os.path.exists(path):
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    args.previous = dict(document.get("parts", {}))
    if not args.report_only:
        if set(args.parts) - LOCAL_PARTS:
            prepare(args.parts, lab.log)
        for name in args.parts:
            started = now()
            try:
                part = PARTS[name](args, lab.log)
            # A part's own defect (ValueError from its numbers, OSError) must not throw away the
            # parts measured after it either: it is recorded as not measured, with the reason.
            except (RuntimeError, subprocess.SubprocessError, ValueError, OSError) as error:
                document["not_measured"] = [e for e in document.get("not_measured", []) if e["part"] != name]
                document["not_measured"].append({"part": name, "reason": str(error)[:1500]})
                lab.log("part %s failed: %s" % (name, error))
                continue
            part.update({"started": started, "finished": now()})
            document["parts"][name] = part
            document["not_measured"] = [e for e in document.get("not_measured", []) if e["part"] != name]
            document.update({"generated": now(), "commit": commit(), "note": results.NOTE, "host_cpus": os.cpu_count()})
            write(args.out, document)
    document.setdefault("generated", now())
    document.setdefault("commit", commit())
    document["note"] = results.NOTE
    document.setdefault("host_cpus", os.cpu_count())
    images = write(args.out, document)
    print(report.render(document, images))
    return 0


if __name__ == "__main__":
    sys.exit(main())
