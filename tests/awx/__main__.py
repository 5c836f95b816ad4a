# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""python3 -m tests.awx COMMAND, run from the repository root; see docs/awx.md."""

from __future__ import annotations

import sys

from tests.awx.cli import main

sys.exit(main())
