# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""python3 -m tests.lab COMMAND, run from the repository root; see tests/lab/README.md."""

from __future__ import annotations

import sys

from tests.lab.cli import main

sys.exit(main())
