# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Wall time per task of a playbook run, written as JSON for the bench.

ansible-core ships no profile_tasks or timer callback (they live in ansible.posix, which the
collection does not require), so the bench brings this one: a task's time is from its start to
the start of the next task (or the end of the play), which under the linear strategy is what
the whole fleet waited for it.
"""

from __future__ import annotations

DOCUMENTATION = """
name: bench_profile
type: aggregate
short_description: wall time per task, as JSON, for tests/bench
description:
  - Writes C(BENCH_PROFILE_JSON) (a path) with one entry per task started, in order.
requirements:
  - enabled in ANSIBLE_CALLBACKS_ENABLED
"""

import json
import os
import time

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_profile"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._tasks = []
        self._current = None
        self._play = ""
        self._start = time.monotonic()

    def _close(self):
        if self._current is not None:
            self._current["seconds"] = round(time.monotonic() - self._current.pop("_t0"), 3)
            self._tasks.append(self._current)
            self._current = None

    def _open(self, task, kind):
        self._close()
        role = task._role.get_name() if getattr(task, "_role", None) else ""
        self._current = {"play": self._play, "task": task.get_name(), "role": role, "kind": kind,
                         "path": task.get_path() or "", "hosts": 0, "_t0": time.monotonic()}

    def _count(self, result, *args, **kwargs):
        if self._current is not None:
            self._current["hosts"] += 1

    def v2_playbook_on_play_start(self, play):
        self._close()
        self._play = play.get_name()

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._open(task, "task")

    def v2_playbook_on_handler_task_start(self, task):
        self._open(task, "handler")

    v2_runner_on_ok = v2_runner_on_failed = v2_runner_on_skipped = v2_runner_on_unreachable = _count

    def v2_playbook_on_stats(self, stats):
        self._close()
        path = os.environ.get("BENCH_PROFILE_JSON")
        if not path:
            return
        with open(path, "w", encoding="utf-8") as handle:
            json.dump({"total_seconds": round(time.monotonic() - self._start, 3), "tasks": self._tasks}, handle, indent=1)
