# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab's Secure Boot VM: how qemu is started for it (tests/lab/vms.py), and the MokManager
driver (tests/lab/secureboot_console.py) against a scripted MokManager on a real unix socket."""

from __future__ import annotations

import os
import socket
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", ".."))
from tests.lab import secureboot_console, secureboot_image, vms  # noqa: E402  pylint: disable=wrong-import-position


def vm(tmp_path, **extra):
    base = {"name": "debian12-sb-1", "port": 2303, "lan_ip": "192.0.2.61", "firmware": "uefi",
            "overlay": str(tmp_path / "o.qcow2"), "pidfile": str(tmp_path / "pid"),
            "console": str(tmp_path / "c"), "efi_vars": str(tmp_path / "vars.fd")}
    base.update(extra)
    return base


def test_uefi_vm_boots_the_secure_boot_firmware_from_its_disk(tmp_path):
    argv = vms._qemu_argv(vm(tmp_path), str(tmp_path), "230.0.0.1:41000", "/k.pub")
    joined = " ".join(argv)
    assert "-kernel" not in argv and "-append" not in argv
    assert "q35,smm=on" in argv and "driver=cfi.pflash01,property=secure,value=on" in argv
    assert "if=pflash,format=raw,unit=0,readonly=on,file=%s" % secureboot_image.OVMF_CODE in argv
    assert "if=pflash,format=raw,unit=1,file=%s" % (tmp_path / "vars.fd") in argv
    assert "virtio-blk-pci,drive=root,bootindex=0" in argv
    assert joined.count("romfile=,") + joined.count("romfile= ") + joined.endswith("romfile=") >= 1
    assert ["-serial", "file:" + str(tmp_path / "c")] == argv[argv.index("-serial"):argv.index("-serial") + 2]


def test_serial_socket_for_mokmanager(tmp_path):
    argv = vms._qemu_argv(vm(tmp_path, serial_socket="/run/s.sock"), str(tmp_path), "230.0.0.1:41000", "/k.pub")
    assert "socket,id=ser0,path=/run/s.sock,server=on,wait=off" in argv
    assert argv[argv.index("-serial") + 1] == "chardev:ser0"


def test_direct_boot_vm_is_unchanged(tmp_path):
    argv = vms._qemu_argv(vm(tmp_path, firmware="direct"), str(tmp_path), "230.0.0.1:41000", "/k.pub")
    assert "-kernel" in argv and "pflash" not in " ".join(argv) and "romfile=" not in " ".join(argv)


SCREENS = [  # what MokManager prints, the key it waits for
    (b"\x1b[2J\x1b[1;1HShim UEFI key management\r\nPress any key to perform MOK management\r\n", b" "),
    (b"\x1b[2J Perform MOK management \r\n Continue boot\r\n Enroll MOK\r\n", b"\x1b[B\r"),
    (b"\x1b[2J [Enroll MOK] \r\n View key 0\r\n Continue\r\n", b"\x1b[B\r"),
    (b"\x1b[2J Enroll the key(s)? \r\n No\r\n Yes\r\n", b"\x1b[B\r"),
    (b"\x1b[2J Password: ", b"pw1\r"),
    (b"\x1b[2J Perform MOK management \r\n Reboot\r\n", b"\r"),
]


def fake_mokmanager(server, received):
    conn = server.accept()[0]
    with conn:
        for screen, wanted in SCREENS:
            conn.sendall(screen)
            got = b""
            while len(got) < len(wanted):
                chunk = conn.recv(64)
                if not chunk:
                    return
                got += chunk
            received.append(got)


def test_mokmanager_driver_answers_each_screen_with_the_right_keys(tmp_path, monkeypatch):
    monkeypatch.setattr(secureboot_console.time, "sleep", lambda _seconds: None)
    path = str(tmp_path / "s.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    received = []
    player = threading.Thread(target=fake_mokmanager, args=(server, received), daemon=True)
    player.start()
    console = secureboot_console.SerialConsole(path, str(tmp_path / "console")).connect()
    try:
        seen = secureboot_console.enrol_at_mokmanager(console, "pw1")
    finally:
        player.join(5)
        console.close()
        server.close()
    assert received == [wanted for _screen, wanted in SCREENS]
    assert len(seen) == 6
    with open(str(tmp_path / "console"), "rb") as handle:
        assert b"Press any key to perform MOK management" in handle.read()  # the console file is kept
