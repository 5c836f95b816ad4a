# -*- coding: utf-8 -*-
# Copyright: ovpnfleet.dco contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""MokManager over the Secure Boot VM's serial console: the confirmation a person gives at the
console after `mokutil --import`, typed by the lab instead.

The VM is started with its serial port on a unix socket (vms.py, vm["serial_socket"]); this
file connects to it at once, copies everything the firmware, shim and the kernel print into the
VM's console file (so the boot watchdog and the logs work as with -serial file:), and answers
MokManager's screens in the order a person meets them:

  "Press any key to perform MOK management"   any key, within its 10 s
  "Perform MOK management"                    down to "Enroll MOK", Enter
  "[Enroll MOK]"  View key 0 / Continue       down to "Continue", Enter
  "Enroll the key(s)?"  No / Yes              down to "Yes", Enter
  "Password:"                                 the password given to mokutil --import, Enter
  "Perform MOK management"  Reboot            Enter (the firmware resets, the VM boots again)

Each screen is waited for by its words (ANSI escape sequences stripped), never by time alone.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time

from tests.lab.common import LabError, log

ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\x1b[=>]")
DOWN = b"\x1b[B"
ENTER = b"\r"


class SerialConsole:
    def __init__(self, socket_path, console_file):
        self.socket_path = socket_path
        self.console_file = console_file
        self.buffer = b""
        self.lock = threading.Lock()
        self.sock = None
        self.closed = False
        self.thread = None

    def connect(self, deadline_seconds=30):
        started = time.monotonic()
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.connect(self.socket_path)
                break
            except OSError as error:
                self.sock.close()
                if time.monotonic() - started > deadline_seconds:
                    raise LabError("connect to the serial console %s: %s" % (self.socket_path, error)) from error
                time.sleep(0.1)
        self.thread = threading.Thread(target=self._relay, daemon=True)
        self.thread.start()
        return self

    def _relay(self):
        with open(self.console_file, "ab") as out:
            while not self.closed:
                try:
                    data = self.sock.recv(4096)
                except OSError:
                    return
                if not data:
                    return
                out.write(data)
                out.flush()
                with self.lock:
                    self.buffer += data

    def mark(self):
        with self.lock:
            return len(self.buffer)

    def text_since(self, mark):
        with self.lock:
            raw = self.buffer[mark:]
        return ANSI.sub(b"", raw).decode(errors="replace")

    def wait_for(self, words, since, deadline_seconds):
        """The mark after the first of words seen since `since`; LabError at the deadline."""
        started = time.monotonic()
        while time.monotonic() - started < deadline_seconds:
            text = self.text_since(since)
            for word in words:
                if word in text:
                    return self.mark()
            time.sleep(0.2)
        raise LabError("the serial console never showed %s within %d s; its last words: %r"
                       % (" or ".join(repr(w) for w in words), deadline_seconds, self.text_since(since)[-300:]))

    def send(self, data, pause=1.5):
        self.sock.sendall(data)
        time.sleep(pause)  # MokManager under TCG redraws slowly; keys sent faster get lost

    def close(self):
        self.closed = True
        if self.sock:
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.sock.close()


def enrol_at_mokmanager(console, password, since=0):
    """Answer MokManager's screens as a person at the console would; the steps seen, in words."""
    seen = []
    mark = console.wait_for(["Press any key to perform MOK management"], since, 600)
    console.send(b" ", pause=3)
    seen.append("MokManager prompt, a key pressed")
    mark = console.wait_for(["Perform MOK management"], mark, 120)
    console.send(DOWN)
    console.send(ENTER, pause=3)
    mark = console.wait_for(["View key 0", "Continue"], mark, 120)
    seen.append("Enroll MOK chosen")
    console.send(DOWN)
    console.send(ENTER, pause=3)
    mark = console.wait_for(["Enroll the key(s)?", "Enroll the key"], mark, 120)
    seen.append("Continue chosen")
    console.send(DOWN)
    console.send(ENTER, pause=3)
    mark = console.wait_for(["Password:", "password"], mark, 120)
    seen.append("Yes chosen")
    for char in password:
        console.send(char.encode(), pause=0.4)
    console.send(ENTER, pause=5)
    mark = console.wait_for(["Reboot"], mark, 180)
    seen.append("password typed")
    console.send(ENTER, pause=2)
    seen.append("Reboot chosen")
    log("MokManager: %s" % "; ".join(seen))
    return seen


def socket_path(run_dir, name):
    return os.path.join(run_dir, name + ".serial.sock")
