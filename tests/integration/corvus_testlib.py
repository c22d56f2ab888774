"""Helpers shared by Corvus's integration tests.

Every test gets its own temporary data folder and its own free loopback
ports, starts `corvus` itself and stops it by PID, so tests never touch a
system MTA or each other.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

CORVUS = os.environ.get("CORVUS_BIN", "corvus")
PASSWORD = "correct horse battery"


def free_port_base():
    """Returns a port base N such that N+24 .. N+995 look free on 127.0.0.1.

    Binding every port is racy but good enough: a test that loses the race
    fails loudly at start-up with "cannot listen".
    """
    offsets = [24, 25, 71, 80, 110, 143, 465, 587, 993, 995]
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1] % 50000 + 10000
        if base + 995 > 65535:
            continue
        ok = True
        for off in offsets:
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", base + off))
                except OSError:
                    ok = False
                    break
        if ok:
            return base
    raise RuntimeError("no free port range found")


class CorvusTestCase(unittest.TestCase):
    """A test case with a fresh `corvus init` folder in self.dir."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="corvus-test-")
        self.port_base = free_port_base()
        self.config = os.path.join(self.dir, "corvus.toml")
        self.server = None
        out = self.corvus("init", "--dir", self.dir, "--port-base",
                          str(self.port_base), config=False)
        self.assertEqual(out.returncode, 0, out.stderr)

    def tearDown(self):
        self.stop_server()
        shutil.rmtree(self.dir, ignore_errors=True)

    def corvus(self, *args, stdin=None, config=True, env=None):
        """Runs the corvus command and returns the CompletedProcess."""
        argv = [CORVUS]
        if config:
            argv += ["--config", self.config]
        argv += list(args)
        return subprocess.run(argv, input=stdin, capture_output=True,
                              text=True, timeout=60, env=env)

    def ok(self, *args, stdin=None):
        """Runs corvus and fails the test unless it exits 0."""
        out = self.corvus(*args, stdin=stdin)
        self.assertEqual(out.returncode, 0,
                         f"corvus {' '.join(args)}: {out.stderr}")
        return out

    def port(self, listener):
        std = {"smtp": 25, "submission": 587, "submissions": 465,
               "lmtp": 24, "imap": 143, "imaps": 993, "pop3": 110,
               "pop3s": 995, "http": 80, "admin": 71}
        return self.port_base + std[listener]

    def start_server(self, wait_for="smtp"):
        """Starts `corvus serve` and waits until `wait_for` accepts."""
        log = open(os.path.join(self.dir, "serve.log"), "a")
        self.server = subprocess.Popen(
            [CORVUS, "--config", self.config, "serve"],
            stdout=log, stderr=subprocess.STDOUT)
        log.close()  # the child has its own descriptor
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.server.poll() is not None:
                self.fail("corvus serve exited: " + self.server_log())
            try:
                with socket.create_connection(
                        ("127.0.0.1", self.port(wait_for)), timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        self.fail("corvus serve did not start: " + self.server_log())

    def stop_server(self, sig=signal.SIGTERM):
        if self.server is None:
            return None
        if self.server.poll() is None:
            self.server.send_signal(sig)
            try:
                self.server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.wait()
        code = self.server.returncode
        self.server = None
        return code

    def server_log(self):
        path = os.path.join(self.dir, "serve.log")
        if not os.path.exists(path):
            return ""
        with open(path) as f:
            return f.read()[-4000:]


class MailTestCase(CorvusTestCase):
    """A node with domain example.test and a few accounts, serving."""

    # Appended to corvus.toml before the server starts.
    extra_config = ""

    def setUp(self):
        super().setUp()
        if self.extra_config:
            with open(self.config, "a") as f:
                f.write("\n" + self.extra_config)
        self.ok("domain", "create", "example.test")
        for user in ("alice", "bob", "carol"):
            self.ok("account", "create", f"{user}@example.test",
                    "--password-stdin", stdin=PASSWORD + "\n")
        self.start_server()

    def mailbox(self, address, folder="INBOX"):
        """Returns [(uid, bytes)] of a folder, via `corvus mailbox`."""
        out = self.corvus("--json", "mailbox", "list", address,
                          "--folder", folder)
        if out.returncode != 0:
            return []
        messages = []
        for m in json.loads(out.stdout):
            data = subprocess.run(
                [CORVUS, "--config", self.config, "mailbox", "cat", address,
                 str(m["uid"]), "--folder", folder],
                capture_output=True, timeout=60).stdout
            messages.append((m["uid"], data))
        return messages

    def wait_for_mail(self, address, count, timeout=20):
        """Waits until `address` holds `count` messages; returns them."""
        deadline = time.time() + timeout
        got = []
        while time.time() < deadline:
            got = self.mailbox(address)
            if len(got) >= count:
                return got
            time.sleep(0.1)
        self.fail(f"{address}: got {len(got)} messages, want {count}; "
                  f"log: {self.server_log()}")

    def queue(self):
        return json.loads(self.ok("--json", "queue", "list").stdout)


def strip_received(data, hostname=b"localhost"):
    """Drops the Received: headers Corvus prepended (those naming
    `hostname` after "by"), keeping any the message already had."""
    lines = data.split(b"\r\n")
    assert lines[0].startswith(b"Received: "), lines[0]
    i = 0
    while i < len(lines) and lines[i].startswith(b"Received: "):
        end = i + 1
        while end < len(lines) and lines[end][:1] in (b" ", b"\t"):
            end += 1
        header = b" ".join(line.strip() for line in lines[i:end])
        if b" by " + hostname + b" with " not in header:
            break
        i = end
    return b"\r\n".join(lines[i:])
