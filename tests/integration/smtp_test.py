"""Mail in, end to end: SMTP clients (smtplib, swaks, raw sockets) talk to
a real `corvus serve`; messages are checked in the store with
`corvus mailbox`.
"""

import shutil
import smtplib
import socket
import ssl
import subprocess
import time
import unittest

from corvus_testlib import PASSWORD, MailTestCase, strip_received


def message(subject, body="Hello.\r\n", sender="sender@remote.example"):
    return (f"From: <{sender}>\r\nTo: <alice@example.test>\r\n"
            f"Subject: {subject}\r\nMessage-ID: <{subject}@remote.example>"
            f"\r\n\r\n{body}").encode()


class RawSmtp:
    """A line-level SMTP client for exact-byte tests."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""
        self.reply()  # greeting

    def send(self, data):
        self.sock.sendall(data)

    def reply(self):
        """Reads one (possibly multi-line) reply; returns its last line."""
        while True:
            while b"\r\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return "<closed>"
                self.buf += chunk
            line, self.buf = self.buf.split(b"\r\n", 1)
            if line[3:4] != b"-":
                return line.decode()

    def close(self):
        self.sock.close()


class DeliveryTest(MailTestCase):

    def setUp(self):
        super().setUp()
        self.ok("alias", "create", "postmaster@example.test",
                "alice@example.test")
        self.ok("list", "create", "team@example.test", "--member",
                "alice@example.test", "--member", "bob@example.test")
        self.ok("list", "create", "all@example.test", "--member",
                "team@example.test", "--member", "carol@example.test")

    def test_delivers_to_accounts_aliases_and_nested_lists_once_each(self):
        data = message("fanout", "Body line\r\n.leading dot\r\n")
        with smtplib.SMTP("127.0.0.1", self.port("smtp")) as s:
            refused = s.sendmail("sender@remote.example",
                                 ["alice@example.test",
                                  "Postmaster@EXAMPLE.test",
                                  "all@example.test"], data)
        self.assertEqual(refused, {})
        for user in ("alice", "bob", "carol"):
            got = self.wait_for_mail(f"{user}@example.test", 1)
            time.sleep(0.3)
            got = self.mailbox(f"{user}@example.test")
            self.assertEqual(len(got), 1, f"{user}: want exactly one copy")
            self.assertEqual(strip_received(got[0][1]), data,
                             f"{user}: stored bytes differ from sent")
        self.assertEqual(self.queue(), [])

    def test_mixed_good_and_bad_recipients_in_one_transaction(self):
        with smtplib.SMTP("127.0.0.1", self.port("smtp")) as s:
            refused = s.sendmail("sender@remote.example",
                                 ["alice@example.test",
                                  "nobody@example.test",
                                  "bob@example.test"], message("mixed"))
        self.assertEqual(list(refused), ["nobody@example.test"])
        self.assertEqual(refused["nobody@example.test"][0], 550)
        self.wait_for_mail("alice@example.test", 1)
        self.wait_for_mail("bob@example.test", 1)

    def test_pipelined_transaction_in_one_write(self):
        c = RawSmtp(self.port("smtp"))
        c.send(b"EHLO client.example\r\n")
        self.assertTrue(c.reply().startswith("250 "))
        c.send(b"MAIL FROM:<s@remote.example>\r\n"
               b"RCPT TO:<alice@example.test>\r\n"
               b"RCPT TO:<ghost@example.test>\r\n"
               b"RCPT TO:<bob@example.test>\r\n"
               b"DATA\r\n")
        replies = [c.reply() for _ in range(5)]
        self.assertEqual([r[:3] for r in replies],
                         ["250", "250", "550", "250", "354"], replies)
        c.send(b"Subject: piped\r\n\r\nx\r\n.\r\nQUIT\r\n")
        self.assertTrue(c.reply().startswith("250 "))
        self.assertTrue(c.reply().startswith("221"))
        c.close()
        self.wait_for_mail("alice@example.test", 1)
        self.wait_for_mail("bob@example.test", 1)

    def test_bdat_chunks(self):
        c = RawSmtp(self.port("smtp"))
        c.send(b"EHLO client.example\r\n")
        c.reply()
        c.send(b"MAIL FROM:<s@remote.example>\r\n")
        self.assertTrue(c.reply().startswith("250"))
        c.send(b"RCPT TO:<carol@example.test>\r\n")
        self.assertTrue(c.reply().startswith("250"))
        part1 = b"Subject: chunked\r\n\r\nfirst "
        part2 = b"second\r\n.not a terminator\r\n"
        c.send(b"BDAT %d\r\n" % len(part1) + part1)
        self.assertTrue(c.reply().startswith("250"))
        c.send(b"BDAT %d LAST\r\n" % len(part2) + part2)
        self.assertTrue(c.reply().startswith("250"))
        c.close()
        got = self.wait_for_mail("carol@example.test", 1)
        self.assertEqual(strip_received(got[0][1]), part1 + part2)

    def test_starttls_then_deliver(self):
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        with smtplib.SMTP("127.0.0.1", self.port("smtp")) as s:
            s.ehlo()
            self.assertTrue(s.has_extn("starttls"))
            s.starttls(context=context)
            s.ehlo()
            self.assertFalse(s.has_extn("starttls"))
            s.sendmail("s@remote.example", ["alice@example.test"],
                       message("tls"))
        got = self.wait_for_mail("alice@example.test", 1)
        self.assertIn(b"with ESMTPS", got[0][1].split(b"\r\n\r\n")[0])

    def test_submission_requires_auth_and_then_relays(self):
        with smtplib.SMTP("127.0.0.1", self.port("submission")) as s:
            s.ehlo()
            with self.assertRaises(smtplib.SMTPException):
                s.sendmail("alice@example.test", ["friend@remote.example"],
                           message("noauth"))
        with smtplib.SMTP("127.0.0.1", self.port("submission")) as s:
            with self.assertRaises(smtplib.SMTPAuthenticationError):
                s.login("alice@example.test", "wrong password")
        with smtplib.SMTP("127.0.0.1", self.port("submission")) as s:
            s.login("alice@example.test", PASSWORD)
            s.sendmail("alice@example.test", ["friend@remote.example"],
                       message("authed"))
        # No relay host is configured: the message waits in the queue.
        deadline = time.time() + 10
        while time.time() < deadline:
            queued = self.queue()
            if queued and queued[0]["recipients"][0]["attempts"] > 0:
                break
            time.sleep(0.1)
        self.assertEqual(len(queued), 1)
        rcpt = queued[0]["recipients"][0]
        self.assertEqual(rcpt["address"], "friend@remote.example")
        self.assertEqual(rcpt["state"], "pending")
        self.assertIn("relay_host", rcpt["last_error"])

    @unittest.skipUnless(shutil.which("swaks"), "swaks not installed")
    def test_swaks_with_pipelining(self):
        out = subprocess.run(
            ["swaks", "--server", "127.0.0.1", "--port",
             str(self.port("smtp")), "--from", "s@remote.example",
             "--to", "bob@example.test", "--pipeline",
             "--header", "Subject: from swaks", "--body", "swaks body"],
            capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        got = self.wait_for_mail("bob@example.test", 1)
        self.assertIn(b"Subject: from swaks", got[0][1])
        self.assertIn(b"swaks body", got[0][1])


class OverQuotaTest(MailTestCase):

    def setUp(self):
        super().setUp()
        self.ok("account", "create", "tiny@example.test", "--quota", "1K")

    def test_over_quota_recipient_bounces_to_the_sender(self):
        big = message("big", "x" * 3000 + "\r\n", "alice@example.test")
        with smtplib.SMTP("127.0.0.1", self.port("smtp")) as s:
            s.sendmail("alice@example.test",
                       ["tiny@example.test", "bob@example.test"], big)
        self.wait_for_mail("bob@example.test", 1)
        bounce = self.wait_for_mail("alice@example.test", 1)[0][1]
        self.assertIn(b"report-type=delivery-status", bounce)
        self.assertIn(b"Final-Recipient: rfc822; tiny@example.test", bounce)
        self.assertIn(b"Status: 5.2.2", bounce)
        self.assertEqual(self.mailbox("tiny@example.test"), [])


class RelayAndLimitsTest(MailTestCase):

    extra_config = ("[smtp]\ntrusted_networks = []\n"
                    "max_message_size = 4096\nmax_recipients = 2\n")

    def test_relay_refused_for_untrusted_client(self):
        with smtplib.SMTP("127.0.0.1", self.port("smtp")) as s:
            with self.assertRaises(smtplib.SMTPRecipientsRefused) as caught:
                s.sendmail("s@remote.example", ["x@elsewhere.example"],
                           message("relay"))
        code, text = caught.exception.recipients["x@elsewhere.example"]
        self.assertEqual(code, 550)
        self.assertIn(b"5.7.1", text)
        self.assertEqual(self.queue(), [])

    def test_message_over_size_limit_is_refused(self):
        # Declared with SIZE=: refused at MAIL (RFC 1870).
        with smtplib.SMTP("127.0.0.1", self.port("smtp")) as s:
            with self.assertRaises(smtplib.SMTPSenderRefused) as caught:
                s.sendmail("s@remote.example", ["alice@example.test"],
                           message("huge", "y" * 8000 + "\r\n"))
        self.assertEqual(caught.exception.smtp_code, 552)
        # Undeclared: read to the end, then refused.
        c = RawSmtp(self.port("smtp"))
        c.send(b"EHLO c\r\nMAIL FROM:<s@remote.example>\r\n"
               b"RCPT TO:<alice@example.test>\r\nDATA\r\n")
        self.assertEqual([c.reply()[:3] for _ in range(4)],
                         ["250", "250", "250", "354"])
        c.send(b"Subject: big\r\n\r\n" + b"y" * 100 + b"\r\n" * 80 +
               b"z" * 8000 + b"\r\n.\r\n")
        self.assertTrue(c.reply().startswith("552"))
        c.send(b"NOOP\r\n")
        self.assertTrue(c.reply().startswith("250"), "session goes on")
        c.close()
        self.assertEqual(self.queue(), [])
        self.assertEqual(self.mailbox("alice@example.test"), [])

    def test_too_many_recipients(self):
        c = RawSmtp(self.port("smtp"))
        c.send(b"EHLO c\r\n")
        c.reply()
        c.send(b"MAIL FROM:<s@remote.example>\r\n")
        c.reply()
        got = []
        for user in ("alice", "bob", "carol"):
            c.send(b"RCPT TO:<%s@example.test>\r\n" % user.encode())
            got.append(c.reply()[:3])
        self.assertEqual(got, ["250", "250", "452"])
        c.close()


class SmugglingTest(MailTestCase):

    def test_bare_lf_dot_never_ends_data_and_injects_nothing(self):
        c = RawSmtp(self.port("smtp"))
        c.send(b"EHLO c\r\n")
        c.reply()
        c.send(b"MAIL FROM:<s@remote.example>\r\nRCPT TO:<alice@example.test>"
               b"\r\nDATA\r\n")
        [c.reply() for _ in range(3)]
        # A smuggled second transaction hides behind "\n.\r\n".
        c.send(b"Subject: smuggle\r\n\r\nhi\n.\r\nMAIL FROM:<evil@x>\r\n"
               b"RCPT TO:<bob@example.test>\r\nDATA\r\nevil\r\n.\r\n")
        final = c.reply()
        # The default policy rejects bare line endings outright.
        self.assertTrue(final.startswith("550"), final)
        c.send(b"QUIT\r\n")
        c.close()
        time.sleep(1)
        self.assertEqual(self.mailbox("alice@example.test"), [])
        self.assertEqual(self.mailbox("bob@example.test"), [])
        self.assertEqual(self.queue(), [])


if __name__ == "__main__":
    unittest.main()
