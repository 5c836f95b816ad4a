# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stand-in for the pip bootstrap script ansible-test downloads for each sanity venv.

ansible-test fetches that script from a host our machines cannot reach, and runs whatever file
sits in its cache (~/.ansible/test/cache/get_pip_<version>.py) with pip's install options and
the wanted packages as arguments. This one installs the interpreter's bundled pip with
ensurepip, then lets that pip install the requested packages from PyPI.
"""

from __future__ import annotations

import subprocess
import sys

# Options of the get-pip script that pip itself does not know.
GET_PIP_ONLY = {"--no-setuptools", "--no-wheel"}


def main():
    subprocess.run([sys.executable, "-m", "ensurepip", "--default-pip"], check=True,
                   stdout=subprocess.DEVNULL)
    args = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY]
    subprocess.run([sys.executable, "-m", "pip", "install"] + args, check=True)


if __name__ == "__main__":
    main()
