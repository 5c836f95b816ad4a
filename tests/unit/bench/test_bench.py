# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bench's pure parts: figures (median, min, max), ratios within one run and one setup,
the per-host slope, results.json's shape, the report, the recap and outage parsers."""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", ".."))
from tests.bench import report, results, rollout, stats, sweeps  # noqa: E402  pylint: disable=wrong-import-position


@pytest.mark.parametrize("values, expected", [
    ([3], {"median": 3.0, "min": 3.0, "max": 3.0, "n": 1}),
    ([5, 1, 3], {"median": 3.0, "min": 1.0, "max": 5.0, "n": 3}),
    ([4, 1, 2, 3], {"median": 2.5, "min": 1.0, "max": 4.0, "n": 4}),
])
def test_summarize(values, expected):
    assert stats.summarize(values) == expected


def test_summarize_refuses_no_runs():
    with pytest.raises(ValueError, match="no values"):
        stats.summarize([])


def test_ratio_of_medians_with_run_by_run_range():
    dco = {"values": [70.0, 80.0, 75.0]}
    userspace = {"values": [20.0, 20.0, 25.0]}
    found = stats.ratio(dco, userspace)
    assert found["ratio"] == pytest.approx(75.0 / 20.0)
    assert found["min"] == pytest.approx(3.0) and found["max"] == pytest.approx(4.0) and found["pairs"] == 3


def test_ratio_refuses_zero_baseline():
    with pytest.raises(ValueError, match="zero median"):
        stats.ratio({"values": [1.0]}, {"id": "b", "values": [0.0]})


def test_slope_is_the_cost_per_extra_host():
    fit = stats.slope([(22, 12.0), (52, 18.0), (102, 28.0)])
    assert fit["per_host"] == pytest.approx(0.2)
    assert fit["intercept"] == pytest.approx(7.6)
    with pytest.raises(ValueError, match="two different"):
        stats.slope([(22, 1.0), (22, 2.0)])


def test_per_gigabyte():
    assert stats.per_gigabyte(30.0, 2 * 10 ** 9) == pytest.approx(15.0)
    with pytest.raises(ValueError):
        stats.per_gigabyte(1.0, 0)


def _samples():
    return {("dco", "tcp", "up"): {"mbit_s": [70.0, 74.0, 72.0], "qemu_cpu_s_per_gb": [100.0, 110.0, 90.0]},
            ("userspace", "tcp", "up"): {"mbit_s": [20.0, 21.0, 22.0], "qemu_cpu_s_per_gb": [400.0, 380.0, 420.0]},
            ("dco", "ping", "rtt"): {"rtt_ms": [0.7, 0.6, 0.8]},
            ("userspace", "ping", "rtt"): {"rtt_ms": [4.6, 4.0, 5.0]}}


def _document():
    setup = "netns:debian12-1"
    figures = results.variant_figures(setup, _samples())
    part = {"started": "s", "finished": "f", "setups": {setup: "inside one VM"}, "figures": figures,
            "ratios": results.pair_ratios(figures, "dco", "userspace")}
    return {"schema": results.SCHEMA, "generated": "2026-12-01T10:00:00+00:00", "commit": "0123456789abcdef",
            "note": results.NOTE, "parts": {"throughput": part}, "not_measured": [{"part": "ring", "reason": "why"}]}


def test_figures_and_ratios_pair_variants_of_one_setup():
    document = _document()
    ratios = {r["metric"]: r for r in document["parts"]["throughput"]["ratios"]}
    assert set(ratios) == {"mbit_s:tcp-up", "qemu_cpu_s_per_gb:tcp-up", "rtt_ms"}
    assert ratios["mbit_s:tcp-up"]["ratio"] == pytest.approx(72.0 / 21.0, abs=1e-4)
    assert ratios["rtt_ms"]["ratio"] == pytest.approx(0.7 / 4.6, abs=1e-4)
    figure = next(f for f in document["parts"]["throughput"]["figures"] if f["id"] == "netns:debian12-1|mbit_s:tcp-up|dco")
    assert (figure["median"], figure["min"], figure["max"], figure["n"], figure["better"]) == (72.0, 70.0, 74.0, 3, "higher")
    assert results.validate(document) == []


def test_loss_is_a_figure_never_a_ratio_even_when_userspace_lost_nothing():
    # The evening run of 2026-12-01 lost its ring part to a 0 % userspace UDP loss as a baseline.
    figures = results.variant_figures("ring:a<-b", {
        ("dco", "udp", "up"): {"mbit_s": [60.0], "lost_percent": [0.5]},
        ("userspace", "udp", "up"): {"mbit_s": [20.0], "lost_percent": [0.0]}})
    ratios = results.pair_ratios(figures, "dco", "userspace")
    assert [r["metric"] for r in ratios] == ["mbit_s:udp-up"]
    assert any(f["metric"] == "lost_percent:udp-up" for f in figures)


def test_a_part_that_raises_value_error_leaves_the_others_measured(tmp_path, monkeypatch):
    bench = _bench_main()

    def broken(args, log):
        raise ValueError("ratio: baseline has a zero median")

    monkeypatch.setattr(bench, "PARTS", dict(bench.PARTS, reconnect=broken))
    written = []
    monkeypatch.setattr(bench, "write", lambda out, document: written.append(document) or [])
    monkeypatch.setattr(bench.report, "render", lambda document, images: "")
    assert bench.main(["--parts", "reconnect", "--out", str(tmp_path)]) == 0
    assert written[-1]["not_measured"] == [{"part": "reconnect", "reason": "ratio: baseline has a zero median"}]


def test_ratio_across_setups_is_refused():
    one = results.figure("netns:debian12-1", "mbit_s:tcp-up", "dco", [70.0])
    other = results.figure("ring:a<-b", "mbit_s:tcp-up", "userspace", [30.0])
    with pytest.raises(ValueError, match="different setup"):
        results.ratio_entry(one, other)


def test_goal_is_judged():
    ping = results.figure("fleet:22", "seconds", "ping", [10.0, 12.0, 11.0])
    rerun = results.figure("fleet:22", "seconds", "enable_dco_rerun", [150.0])
    entry = results.ratio_entry(rerun, ping, goal=3.0)
    assert entry["goal_met"] is False and entry["ratio"] == pytest.approx(150.0 / 11.0, abs=1e-4)


@pytest.mark.parametrize("damage, problem", [
    (lambda d: d.update(schema=2), "schema"),
    (lambda d: d.pop("commit"), "commit"),
    (lambda d: d["parts"]["throughput"]["figures"][0].update(n=7), "n does not match"),
    (lambda d: d["parts"]["throughput"]["figures"][0].update(median=1e9), "median outside"),
    (lambda d: d["parts"]["throughput"]["setups"].clear(), "not described"),
    # A ratio whose baseline lives in another part is a ratio across two runs.
    (lambda d: d["parts"]["throughput"]["ratios"][0].update(baseline="ring:x|mbit_s:tcp-up|userspace"), "same part"),
    (lambda d: d["not_measured"].append({"part": "scale"}), "not_measured"),
])
def test_validate_finds_each_problem(damage, problem):
    document = _document()
    damage(document)
    problems = results.validate(document)
    assert any(problem in text for text in problems), problems


def test_report_renders_ratios_setups_note_and_gaps():
    document = _document()
    document["parts"]["scale"] = {
        "setups": {"fleet:22": "22 hosts"}, "figures": [], "ratios": [],
        "scale": {"series": {}, "slopes": [{"command": "ping", "sizes": [22, 52], "per_host": 0.05, "intercept": 9.0}]},
        "profile": {"hosts": 22, "commit": "abcdef0123456789", "total_seconds": 150.0,
                    "top": [{"play": "Preflight", "task": "Read | every tunnel", "seconds": 20.5}]}}
    text = report.render(document, ["throughput.png"])
    assert results.NOTE in text
    assert "`netns:debian12-1`: inside one VM" in text
    assert "| netns:debian12-1 | mbit_s:tcp-up | dco/userspace | 3.43 |" in text
    assert "| ping | 22, 52 | 0.050 | 9.0 |" in text
    assert "| 1 | 20.5 | Preflight | Read / every tunnel |" in text
    assert "- ring: why" in text
    assert "![throughput.png](throughput.png)" in text


def test_recap_reads_changed_per_host():
    stdout = ("PLAY RECAP *********\n"
              "ct01                       : ok=40   changed=0    unreachable=0    failed=0    skipped=60   rescued=0    ignored=0\n"
              "debian12-1                 : ok=55   changed=2    unreachable=0    failed=1    skipped=30   rescued=0    ignored=0\n")
    assert sweeps.recap(stdout) == {"hosts": 2, "max_changed": 2, "failed": 1, "unreachable": 0}


def test_outages_read_from_the_fleet_report_lines():
    stdout = ('ok: [debian12-1] => {\n    "msg": "switched: openvpn-server@lab ; down during the switch: '
              'openvpn-server@lab -> 10.8.1.2 131.2 s, openvpn-client@lab -> 10.8.11.1 0.8 s"\n}\n'
              'ok: [ct03] => {\n    "msg": "left alone: DCO not possible here  "\n}\n'
              'ok: [debian13-bpo-1] => {\n    "msg": "switched: x ; down during the switch: openvpn-client@lab -> 10.8.1.1 no answer at all"\n}\n')
    found = rollout.outages(stdout, "run")
    assert [(o["host"], o["role"], o["seconds"]) for o in found] == [
        ("debian12-1", "server", 131.2), ("debian12-1", "client", 0.8), ("debian13-bpo-1", "client", None)]


def _bench_main():
    import importlib  # pylint: disable=import-outside-toplevel
    return importlib.import_module("tests.bench.__main__")


@pytest.mark.parametrize("rate, cpu_per_gb, vcpus, expected", [
    (80.0, 180.0, 2, "every vCPU saturated"),        # 1.8 of 2 busy
    (80.0, 120.0, 2, "CPU-bound per flow"),          # 1.2 of 2 busy
    (45.0, 100.0, 4, "not CPU-bound"),               # 0.56 of 4 busy: the path caps the rate
])
def test_limit_reads_busy_vcpus(rate, cpu_per_gb, vcpus, expected):
    figures = [results.figure("s", "mbit_s:tcp-up", "dco", [rate]),
               results.figure("s", "guest_cpu_s_per_gb:tcp-up", "dco", [cpu_per_gb])]
    assert expected in _bench_main().limit(figures, "s", vcpus)


def test_merge_keeps_sizes_not_measured_again():
    import types  # pylint: disable=import-outside-toplevel
    old = [results.figure("fleet:22", "seconds", name, values) for name, values in (("ping", [10.0]), ("tunnel_info", [14.0]))]
    previous = {"scale": {"setups": {"fleet:22": "22 hosts", "fleet:52": "old 52"}, "finished": "T",
                          "figures": old + [results.figure("fleet:52", "seconds", "ping", [99.0])],
                          "ratios": [results.ratio_entry(old[1], old[0])],
                          "scale": {"series": {"ping": [{"hosts": 22, "median": 10.0}, {"hosts": 52, "median": 99.0}]}}}}
    setups, figures = {"fleet:52": "new 52"}, [results.figure("fleet:52", "seconds", "ping", [20.0])]
    ratios, series = [], {"ping": [{"hosts": 52, "median": 20.0}]}
    _bench_main()._merge_previous(types.SimpleNamespace(previous=previous, merge=True), setups, figures, ratios, series)
    assert setups["fleet:52"] == "new 52" and setups["fleet:22"].startswith("22 hosts")
    assert [p["median"] for p in series["ping"]] == [10.0, 20.0]
    assert len(ratios) == 1 and sorted(f["id"] for f in figures) == [
        "fleet:22|seconds|ping", "fleet:22|seconds|tunnel_info", "fleet:52|seconds|ping"]


def test_a_fleet_size_the_lab_cannot_reach_keeps_the_sizes_before_it(monkeypatch):
    # The evening run of 2026-12-01 lost 22 and 52 hosts when the lab could not bring up 100.
    import types  # pylint: disable=import-outside-toplevel
    bench = _bench_main()
    reached = []

    def ensure(containers, log):
        if containers == 100:
            raise RuntimeError("bring up the lab: 14 of 100 tunnels pass no traffic")
        reached.append(containers)

    def run(hosts, forks, runs, rerun_runs, log):
        count = reached[-1] + 2
        return {"hosts": count, "times": {"ping": [10.0], "tunnel_info": [14.0]}, "rerun_recaps": [], "profiles": []}

    monkeypatch.setattr(bench.lab, "state", lambda: {"containers": {"ct01": {}}})
    monkeypatch.setattr(bench.lab, "ensure", ensure)
    monkeypatch.setattr(bench.sweeps, "run", run)
    args = types.SimpleNamespace(sizes=[20, 50, 100], forks=25, runs=1, rerun_runs=None, restore=False, merge=False,
                                 previous={})
    part = bench.part_scale(args, log=lambda message: None)
    assert sorted(part["setups"]) == ["fleet:22", "fleet:52"]
    assert part["notes"] == ["100 containers: not measured: bring up the lab: 14 of 100 tunnels pass no traffic"]


def test_limit_names_the_host_when_qemu_uses_every_core():
    figures = [results.figure("ring", "mbit_s:tcp-up", "dco", [46.0]),
               results.figure("ring", "guest_cpu_s_per_gb:tcp-up", "dco", [300.0]),
               results.figure("ring", "qemu_cpu_s_per_gb:tcp-up", "dco", [345.0])]   # 1.98 host cores
    assert "host-CPU-bound" in _bench_main().limit(figures, "ring", 4, host_cpus=2)
    assert "host-CPU-bound" not in _bench_main().limit(figures, "ring", 4, host_cpus=8)


def test_reconnect_outage_is_the_longest_gap_and_ends_where_answers_resume():
    from tests.bench import reconnect
    assert reconnect.longest_gap([10.0, 10.1, 10.2, 41.0, 41.1, 41.2]) == pytest.approx((30.8, 41.0))
    assert reconnect.longest_gap([5.0]) is None
    assert reconnect.longest_gap([]) is None


def test_reconnect_part_is_measured_without_the_lab():
    from tests.bench import __main__ as bench
    assert "reconnect" in bench.LOCAL_PARTS and "reconnect" in bench.PARTS
    assert "reconnect" in bench.parse([]).parts, "make bench runs it by default"
    assert "reconnect" in report.TITLES


def test_build_counts_compilers_and_refuses_a_host_without_the_module():
    from tests.bench import build
    assert build.read_after({"a": "compiler loaded", "b": "none loaded", "c": "none missing"}) == (1, ["c"])
    with pytest.raises(RuntimeError, match="unexpected answer"):
        build.read_after({"a": "sh: 1: printf: not found"})


def test_build_alternates_which_variant_runs_first():
    from tests.bench import build
    assert build.order(0) == ["build_once", "compile_everywhere"]
    assert build.order(1) == ["compile_everywhere", "build_once"]
    assert build.hosts(3) == ["debian12-2", "debian12-3", "debian12-4"], "debian12-1 serves the ring in DCO"


def test_build_variants_differ_only_in_method_and_each_gets_its_own_cache():
    from tests.bench import build
    once = build.play_argv("/w/kmod.yml", ["debian12-2", "debian12-3"], "build_once", "/w/cache-1", 25)
    everywhere = build.play_argv("/w/kmod.yml", ["debian12-2", "debian12-3"], "compile_everywhere", "/w/cache-2", 25)
    assert "kmod_method=source" in once and "kmod_method=package" in everywhere
    assert "bench_hosts=debian12-2,debian12-3" in once
    assert [a for a in once if "kmod_" not in a] == [a for a in everywhere if "kmod_" not in a]


def test_build_part_gives_the_seconds_and_compiles_ratio_and_restores_the_lab(monkeypatch):
    import types  # pylint: disable=import-outside-toplevel
    bench = _bench_main()
    calls = []
    monkeypatch.setattr(bench.lab, "state", lambda: {"containers": {"ct%02d" % n: {} for n in range(1, 21)}})
    monkeypatch.setattr(bench.lab, "ensure", lambda containers=None, debian12=None, log=None: calls.append((containers, debian12)))
    monkeypatch.setattr(bench.lab, "ssh", lambda name, command: "6.1.0-56-amd64\n")
    monkeypatch.setattr(bench.build, "measure", lambda names, runs, forks, log: {
        "build_once": {"seconds": [330.0], "compiles": [1]},
        "compile_everywhere": {"seconds": [717.0], "compiles": [3]}})
    args = types.SimpleNamespace(build_hosts=3, build_runs=1, forks=25, restore=True)
    part = bench.part_build(args, log=lambda message: None)
    assert calls == [(20, 4), (20, None)], "three fresh VMs next to debian12-1, then back"
    ratios = {r["metric"]: r["ratio"] for r in part["ratios"]}
    assert ratios == {"compiles": pytest.approx(1 / 3, abs=1e-4), "seconds": pytest.approx(330 / 717, abs=1e-4)}
    assert results.validate({"schema": results.SCHEMA, "generated": "x", "commit": "x", "note": "x",
                             "parts": {"build": part}}) == []


def test_build_part_refuses_vms_of_two_kernels(monkeypatch):
    import types  # pylint: disable=import-outside-toplevel
    bench = _bench_main()
    kernels = iter(["6.1.0-56-amd64", "6.1.0-57-amd64"])
    monkeypatch.setattr(bench.lab, "state", lambda: {"containers": {}})
    monkeypatch.setattr(bench.lab, "ensure", lambda containers=None, debian12=None, log=None: None)
    monkeypatch.setattr(bench.lab, "ssh", lambda name, command: next(kernels))
    with pytest.raises(RuntimeError, match="one kernel"):
        bench.part_build(types.SimpleNamespace(build_hosts=2, build_runs=1, forks=25, restore=False), log=print)


def test_only_parts_that_measure_the_vms_modules_make_the_lab_enable_dco_first(monkeypatch):
    bench = _bench_main()
    converged = []
    monkeypatch.setattr(bench.lab, "running", lambda: True)
    monkeypatch.setattr(bench, "dco_module_present", lambda vm: False)
    monkeypatch.setattr(bench.rollout, "playbook", lambda name, work: converged.append(name))
    bench.prepare(["build"], log=lambda message: None)
    assert not converged, "the build part brings its own fresh VMs"
    bench.prepare(["build", "ring"], log=lambda message: None)
    assert converged == ["enable_dco"]


def test_a_failed_restore_never_hides_the_build_measurement_error(monkeypatch):
    # The first run of the part lost its real error ("ssh did not finish within 30 s" bringing up
    # four Debian 12 VMs) to the restore's own failure, raised from `finally`.
    import types  # pylint: disable=import-outside-toplevel
    bench = _bench_main()

    def ensure(containers=None, debian12=None, log=None):
        raise RuntimeError("bring up the lab: four VMs" if debian12 else "bring up the lab: restore")

    monkeypatch.setattr(bench.lab, "state", lambda: {"containers": {}})
    monkeypatch.setattr(bench.lab, "ensure", ensure)
    with pytest.raises(RuntimeError, match="four VMs"):
        bench.part_build(types.SimpleNamespace(build_hosts=3, build_runs=1, forks=25, restore=True), log=lambda m: None)


def test_build_runs_a_script_on_every_host_and_keeps_each_answer_with_its_host(monkeypatch):
    from tests.bench import build
    monkeypatch.setattr(build.lab, "ssh", lambda name, script, timeout: "%s %s" % (name, script))
    names = ["debian12-%d" % n for n in range(2, 9)]
    assert build.run_each(names, "true") == ["%s true" % name for name in names]
