# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write awx/surveys/PLAYBOOK.json from the variable table in plugins/plugin_utils/_survey.py.

Run from anywhere after changing the table: python3 awx/generate_surveys.py
tests/unit/plugins/plugin_utils/test_survey.py fails while a file and the table differ.
"""

from __future__ import annotations

import importlib.util
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.join(HERE, "..", "plugins", "plugin_utils", "_survey.py")


def load_table():
    # By path: the table needs only the standard library, so no collection path is needed.
    spec = importlib.util.spec_from_file_location("ovpnfleet_dco_survey", SOURCE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def render(spec):
    return json.dumps(spec, indent=2) + "\n"


def main():
    survey = load_table()
    for playbook in survey.PLAYBOOKS:
        path = os.path.join(HERE, "surveys", playbook + ".json")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(render(survey.survey_spec(playbook)))
        print("wrote " + os.path.relpath(path))


if __name__ == "__main__":
    main()
