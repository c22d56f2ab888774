"""Crash safety of mail in: `kill -9` the server at random moments during a
bounded SMTP load, restart it, and check that every message that got a 250
is in each recipient's mailbox exactly once, and that the orphan collector
then finds the store consistent (no blob file without a reference).
"""

import email
import json
import random
import signal
import smtplib
import threading
import time
import unittest

from corvus_testlib import MailTestCase

SENDERS = 4
MESSAGES_PER_SENDER = 60
KILLS = 3
RECIPIENTS = ["alice@example.test", "bob@example.test"]


class CrashTest(MailTestCase):

    extra_config = "[queue]\nretry_initial_seconds = 1\nretry_max_seconds = 2\n"

    def send_load(self, sender_index, acked, failed, lock):
        for i in range(MESSAGES_PER_SENDER):
            msg_id = f"crash-{sender_index}-{i}@test"
            data = (f"From: <load@remote.example>\r\nSubject: load {i}\r\n"
                    f"Message-ID: <{msg_id}>\r\n\r\n"
                    + f"line {i}\r\n" * random.randint(1, 200)).encode()
            try:
                with smtplib.SMTP("127.0.0.1", self.port("smtp"),
                                  timeout=10) as s:
                    s.sendmail("load@remote.example", RECIPIENTS, data)
                with lock:
                    acked.add(msg_id)
            except (OSError, smtplib.SMTPException):
                with lock:
                    failed.add(msg_id)
                time.sleep(0.05)

    def test_kill_minus_nine_under_load_loses_and_duplicates_nothing(self):
        random.seed(20261204)
        acked, failed, lock = set(), set(), threading.Lock()
        threads = [threading.Thread(target=self.send_load,
                                    args=(n, acked, failed, lock))
                   for n in range(SENDERS)]
        for t in threads:
            t.start()
        for _ in range(KILLS):
            time.sleep(random.uniform(0.3, 1.2))
            self.stop_server(signal.SIGKILL)
            time.sleep(random.uniform(0.0, 0.3))
            self.start_server()
        for t in threads:
            t.join(timeout=300)
        self.assertGreater(len(acked), MESSAGES_PER_SENDER,
                           "the load barely ran; the test proves nothing")

        # Let the queue drain.
        deadline = time.time() + 60
        while time.time() < deadline and self.queue():
            time.sleep(0.2)
        self.assertEqual(self.queue(), [], "queue did not drain")

        for rcpt in RECIPIENTS:
            counts = {}
            for _, data in self.mailbox(rcpt):
                msg_id = email.message_from_bytes(data)["Message-ID"]
                counts[msg_id.strip("<>")] = counts.get(msg_id.strip("<>"),
                                                        0) + 1
            missing = [m for m in acked if counts.get(m, 0) == 0]
            repeated = {m: n for m, n in counts.items() if n > 1}
            self.assertEqual(missing, [], f"{rcpt}: acknowledged but lost")
            self.assertEqual(repeated, {}, f"{rcpt}: delivered twice")

        # With the server stopped, the collector may take every orphan;
        # afterwards each blob left is referenced.
        self.stop_server()
        first = json.loads(self.ok("--json", "store", "collect", "--grace",
                                   "0", "--server-stopped").stdout)
        second = json.loads(self.ok("--json", "store", "collect", "--grace",
                                    "0", "--server-stopped").stdout)
        self.assertEqual(second["orphans_removed"], 0)
        self.assertEqual(second["blobs_seen"], second["kept_referenced"])
        print(f"\nacked={len(acked)} failed={len(failed)} "
              f"orphans_reclaimed={first['orphans_removed']}")


if __name__ == "__main__":
    unittest.main()
