# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The kmod module's flow: facts, decision, plan, then (outside check mode) the steps."""

from __future__ import annotations

import json
import os

from ansible_collections.ovpnfleet.dco.plugins.module_utils.host._facts import gather_access_server, gather_host_facts
from ansible_collections.ovpnfleet.dco.plugins.module_utils.kmod._plan import (
    METHOD_ARTIFACT,
    RECORD_PATH,
    KmodError,
    check_host_can_load,
    check_path_component,
    check_path_inputs,
    check_recommendation_allows,
    check_signing,
    decide,
    fill_source,
    plan_kmod,
    read_kmod_state,
    read_staged,
    target_kernels,
    unsigned_refusal,
)
from ansible_collections.ovpnfleet.dco.plugins.module_utils._probe import ModuleProbe
from ansible_collections.ovpnfleet.dco.plugins.module_utils.kmod._runner import KmodRunner, sha256_of
from ansible_collections.ovpnfleet.dco.plugins.module_utils.kmod._readiness import (
    METHOD_PACKAGE,
    METHOD_SOURCE,
    UNSUPPORTED,
    recommend,
)


def manage_kmod(module):
    request = dict(module.params)
    probe = ModuleProbe(module)
    facts = gather_host_facts(probe)
    # On an Access Server host AS's own OpenVPN, not the host's, decides which module "auto" means.
    facts["access_server"] = gather_access_server(probe)
    recommendation = recommend(facts, request.get("sources"))
    kernels = target_kernels(request, facts)
    if request.get("decide_only"):
        return decide_only(module, request, facts, recommendation, kernels)
    if request["state"] == "present":
        check_host_can_load(recommendation, facts["kernel"]["modules_loadable"])
    decision = decide(request, recommendation, kernels, facts.get("packages"))
    flavour, method = decision["flavour"], decision["method"]
    for warning in decision["warnings"]:
        module.warn(warning)
    if request["state"] == "present":
        check_recommendation_allows(recommendation, method)
    fill_source(request, decision, request.get("sources"))
    _complete_request(request, flavour, method, recommendation, module.check_mode)
    if request["state"] == "present":
        check_signing(facts, method, request)
    # Before the first read or change: these name directories, one of them removed recursively.
    check_path_inputs(request, flavour, kernels)
    state = read_kmod_state(probe, flavour, kernels, flavour.dkms_name)
    if request["state"] == "absent":
        state["staged"] = read_staged(probe, flavour)
    offered = {kernel: (facts["packages"]["packages"].get("linux-headers-%s" % kernel) or {}).get("candidate")
               for kernel in kernels}
    steps = plan_kmod(request, flavour, method, kernels, state, facts["kernel"]["release"], offered)
    result = {
        "changed": bool(steps), "flavour": flavour.name, "method": method, "kernels": kernels,
        "steps": [step["describe"] for step in steps], "artifacts": [],
        "loaded": state["loaded"] or any(step["action"] in ("modprobe", "reload") for step in steps),
    }
    if module._diff:
        result["diff"] = {"before": "", "after": "".join("%s\n" % line for line in result["steps"])}
    if module.check_mode or not steps:
        if request["state"] == "absent":
            result["loaded"] = False if steps else state["loaded"]
        return result
    runner = KmodRunner(module, flavour, request)
    if any(step["action"] in ("reload", "unload") for step in steps):
        # Refuse before the first change, not halfway through the plan.
        runner.ensure_unused(flavour.module)
    record = dict(state["record"])
    try:
        result["artifacts"] = runner.execute(steps, record)
    finally:
        runner.save_record(_saved_records(probe))
    result["loaded"] = os.path.exists("/sys/module/%s" % flavour.module)
    return result


def decide_only(module, request, facts, recommendation, kernels):
    """The decision alone, for a role that sequences it: nothing of the module is read or changed.

    The kernel releases and the architecture are checked here because the kmod role joins them
    into paths of its controller-side cache.
    """
    arch = facts["kernel"]["arch"]
    for kernel in kernels:
        check_path_component("kernels" if request.get("kernels") else "kernel release", kernel)
    check_path_component("architecture", arch)
    result = {"changed": False, "flavour": None, "method": None, "kernels": kernels, "steps": [],
              "artifacts": [], "loaded": False}
    # Skipped: what stands in the way is the host's, as tunnel_info sees it (the same call, without
    # the table), so the rollout leaves exactly these hosts alone. Nothing to build from the table
    # for a host that could run DCO is the operator's to fix, and fails below.
    host = recommend(facts)
    summary = {"status": recommendation["status"], "reasons": list(recommendation["reasons"]),
               "skip": host["status"] == UNSUPPORTED, "flavour": None, "method": None,
               "source": None, "version": None, "package": None, "why": None, "warnings": [],
               "kernels": kernels, "arch": arch, "module_file": None, "build_key": None,
               "summary": None}
    if summary["skip"] or request["state"] != "present":
        summary["reasons"] = list(host["reasons"])
        summary["why"] = " ".join(host["reasons"]) or None
        result["decision"] = summary
        return result
    decision = decide(request, recommendation, kernels, facts.get("packages"))
    flavour = decision["flavour"]
    for warning in decision["warnings"]:
        module.warn(warning)
    summary.update((key, decision[key]) for key in ("method", "source", "version", "package", "why", "warnings"))
    summary.update(flavour=flavour.name, module_file=flavour.module_file,
                   summary=_summary(flavour, decision))
    refusal = unsigned_refusal(facts, decision["method"], request, flavour.name)
    if refusal:
        # Known before anything is built: the kernel would reject the unsigned module at load
        # time, so the host is left alone (its tunnels stay in userspace) with what to do.
        summary.update(skip=True, reasons=[refusal], why=refusal)
        result.update(flavour=flavour.name, method=decision["method"], decision=summary,
                      loaded=facts["kernel_modules"][flavour.name]["loaded"])
        return result
    if decision["method"] == METHOD_SOURCE:
        # Hosts that would build the same source for the same kernels on the same machine build once.
        summary["build_key"] = "_".join([decision["source"], "+".join(kernels), arch])
    result.update(flavour=flavour.name, method=decision["method"], decision=summary,
                  loaded=facts["kernel_modules"][flavour.name]["loaded"])
    return result


def _summary(flavour, decision):
    text = "%s by method %s" % (flavour.name, decision["method"])
    if decision["method"] == METHOD_PACKAGE:
        text += " (%s)" % decision["package"]
    elif decision["source"]:
        text += " from %s" % decision["version"]
    return text


def _complete_request(request, flavour, method, recommendation, check_mode=False):
    if method == METHOD_PACKAGE and not request["package"]:
        request["package"] = recommendation["package"] or flavour.distro_packages[0]
    if request["src"] and not request["src_version"]:
        raise KmodError("build %s from %s: set src_version (it names the DKMS tree and the "
                        "install record)." % (flavour.name, request["src"]))
    if method == METHOD_ARTIFACT:
        if os.path.exists(request["artifact"]):
            request["artifact_sha256"] = request["artifact_sha256"] or sha256_of(request["artifact"])
        elif not check_mode:
            raise KmodError("install %s: no such file on the host." % request["artifact"])
        # In check mode the file may not have been copied yet (the copy ran in check mode too):
        # without its hash the plan says it would install it.
    if request["src_sha256"]:
        request["src_sha256"] = request["src_sha256"].lower()
    request["method"] = method
    request["flavour"] = flavour.name


def _saved_records(probe):
    """Every flavour's install record as saved; the runner replaces its own flavour's entry."""
    text = probe.read(RECORD_PATH)
    try:
        records = json.loads(text) if text else {}
    except ValueError:
        return {}
    return records if isinstance(records, dict) else {}
