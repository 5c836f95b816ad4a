# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab fleet: qemu VMs with real Debian kernels and podman containers running brownfield
OpenVPN, for the tests, benchmarks and demo. Standard library only: it runs with Debian 12's
/usr/bin/python3 before any venv exists."""
