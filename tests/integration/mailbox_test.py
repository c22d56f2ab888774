"""Mail out to clients, end to end: Python's imaplib and poplib, curl and
mbsync against a real `corvus serve`, on real public mail.
"""

import email
import email.policy
import glob
import imaplib
import os
import poplib
import shutil
import smtplib
import subprocess
import sys
import threading
import time
import unittest

from corvus_testlib import PASSWORD, MailTestCase, strip_received
import imap_sexp

CORPUS_GLOBS = [
    "/usr/lib/python3.11/test/test_email/data/msg_*.txt",
    os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared",
                 "corpus", "*", "*"),
]
NOT_MAIL = ("LICENSE", "SOURCES.md", "README", "NOTICE")

# Differences between Corvus's MIME parser and Python's that were judged
# to be Python's (src/mime/mime_corpus_check.py says why, case by case).
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..",
                                "src", "mime"))
try:
    from mime_corpus_check import KNOWN as KNOWN_MIME_DIFFERENCES
except ImportError:
    KNOWN_MIME_DIFFERENCES = {}


def corpus():
    """[(short name, CRLF bytes)] of every corpus message present."""
    out = []
    for pattern in CORPUS_GLOBS:
        for path in sorted(glob.glob(pattern)):
            if os.path.basename(path).startswith(NOT_MAIL):
                continue
            with open(path, "rb") as f:
                data = f.read().replace(b"\r\n", b"\n").replace(b"\n",
                                                                b"\r\n")
            # SMTP data always ends in CRLF before the final dot; a client
            # adds one to a file that lacks it (smtplib does).
            if not data.endswith(b"\r\n"):
                data += b"\r\n"
            short = "/".join(path.split(os.sep)[-2:])
            out.append((short, data))
    return out


def imap_login(port, user="alice@example.test"):
    imap = imaplib.IMAP4("127.0.0.1", port)
    imap.login(user, PASSWORD)
    return imap


def py_tree(msg):
    """(type, subtype, children | None) of a Python email message.

    An encapsulated message (message/rfc822) is a leaf here, as in the
    first level of an IMAP BODYSTRUCTURE.
    """
    if msg.get_content_maintype() == "message":
        return ("message", msg.get_content_subtype(), None)
    if msg.get_content_maintype() == "multipart":
        payload = msg.get_payload()
        if not isinstance(payload, list):
            # No boundary found: Corvus shows the body as one text/plain
            # part, so that BODYSTRUCTURE stays a valid multipart.
            return ("multipart", msg.get_content_subtype(),
                    [("text", "plain", None)])
        return ("multipart", msg.get_content_subtype(),
                [py_tree(p) for p in payload])
    return (msg.get_content_maintype(), msg.get_content_subtype(), None)


def imap_tree(bs):
    """The same shape from a parsed IMAP BODYSTRUCTURE."""
    if isinstance(bs[0], list):
        children = []
        i = 0
        while i < len(bs) and isinstance(bs[i], list):
            children.append(imap_tree(bs[i]))
            i += 1
        return ("multipart", bs[i].decode().lower(), children)
    return (bs[0].decode().lower(), bs[1].decode().lower(), None)


class ImapTest(MailTestCase):

    def deliver(self, to, data, sender="sender@remote.example"):
        with smtplib.SMTP("127.0.0.1", self.port("smtp")) as s:
            s.sendmail(sender, [to], data)

    def test_corpus_round_trips_byte_for_byte_with_matching_structure(self):
        messages = corpus()
        self.assertGreater(len(messages), 40, "corpus not installed")
        with smtplib.SMTP("127.0.0.1", self.port("smtp")) as s:
            for _, data in messages:
                s.sendmail("corpus@remote.example", ["bob@example.test"],
                           data)
        self.wait_for_mail("bob@example.test", len(messages), timeout=60)

        imap = imap_login(self.port("imap"), "bob@example.test")
        typ, _ = imap.select("INBOX", readonly=True)
        self.assertEqual(typ, "OK")
        # Deliveries run in parallel, so UIDs need not follow sending order:
        # match each stored message to the one sent with the same bytes.
        by_bytes = {}
        for name, sent in messages:
            by_bytes.setdefault(sent, name)
        unmatched = set(by_bytes.values())
        mismatches = []
        for uid in range(1, len(messages) + 1):
            typ, data = imap.uid("FETCH", str(uid),
                                 "(BODY.PEEK[] BODYSTRUCTURE ENVELOPE)")
            self.assertEqual(typ, "OK", uid)
            items = imap_sexp.fetch_items(data)[0]
            sent = strip_received(items["BODY[]"])
            name = by_bytes.get(sent)
            if name is None:
                mismatches.append(f"UID {uid}: BODY[] matches nothing sent: "
                                  f"{sent[:200]!r}")
                continue
            unmatched.discard(name)
            if name in KNOWN_MIME_DIFFERENCES:
                continue
            msg = email.message_from_bytes(sent, policy=email.policy.compat32)
            want = py_tree(msg)
            have = imap_tree(items["BODYSTRUCTURE"])
            if want != have:
                mismatches.append(f"{name}: BODYSTRUCTURE {have} != {want}")
            envelope = items["ENVELOPE"]
            subject = msg["Subject"]
            if subject is not None and subject.isascii():
                got_subject = (envelope[1] or b"").decode("latin-1")
                if " ".join(got_subject.split()) != " ".join(subject.split()):
                    mismatches.append(f"{name}: subject {got_subject!r} "
                                      f"!= {subject!r}")
            msg_id = msg["Message-ID"]
            if msg_id is not None and msg_id.isascii():
                got_id = (envelope[9] or b"").decode("latin-1")
                if got_id.strip() != msg_id.strip():
                    mismatches.append(f"{name}: message-id {got_id!r}")
        imap.logout()
        self.maxDiff = None
        self.assertEqual(mismatches, [])
        self.assertEqual(unmatched, set(), "sent but not read back")

    def test_flags_search_copy_move_expunge(self):
        for i in range(3):
            self.deliver("alice@example.test",
                         f"Subject: note {i}\r\n\r\nbody {i} kiwi\r\n".encode())
        self.wait_for_mail("alice@example.test", 3)
        imap = imap_login(self.port("imap"))
        imap.select("INBOX")
        typ, data = imap.uid("FETCH", "1:*", "(UID ENVELOPE)")
        uid_of = {item["ENVELOPE"][1].decode(): item["UID"].decode()
                  for item in imap_sexp.fetch_items(data)}
        self.assertEqual(sorted(uid_of), ["note 0", "note 1", "note 2"])

        typ, data = imap.uid("SEARCH", None, "BODY", "kiwi")
        self.assertEqual(sorted(data[0].split()), [b"1", b"2", b"3"])
        typ, data = imap.uid("SEARCH", None, "SUBJECT", '"note 1"')
        self.assertEqual(data[0].split(), [uid_of["note 1"].encode()])
        imap.uid("STORE", uid_of["note 0"], "+FLAGS", r"(\Flagged)")
        typ, data = imap.uid("SEARCH", None, "FLAGGED")
        self.assertEqual(data[0].split(), [uid_of["note 0"].encode()])
        typ, data = imap.uid("COPY", uid_of["note 1"], "Archive")
        self.assertEqual(typ, "OK")
        code, copyuid = imap.response("COPYUID")
        self.assertIsNotNone(copyuid[0], "want a COPYUID response code")
        typ, _ = imap.uid("MOVE", uid_of["note 2"], "Trash")
        self.assertEqual(typ, "OK")
        imap.uid("STORE", uid_of["note 0"], "+FLAGS", r"(\Deleted)")
        imap.expunge()
        typ, data = imap.status("INBOX", "(MESSAGES)")
        self.assertIn(b"MESSAGES 1", data[0])
        typ, data = imap.status("Archive", "(MESSAGES)")
        self.assertIn(b"MESSAGES 1", data[0])
        typ, data = imap.status("Trash", "(MESSAGES)")
        self.assertIn(b"MESSAGES 1", data[0])
        imap.logout()

    def test_append_then_fetch_and_list_special_use(self):
        imap = imap_login(self.port("imap"))
        typ, data = imap.list()
        listing = b"\n".join(data)
        for want in (rb"\Sent", rb"\Drafts", rb"\Trash", rb"\Junk",
                     rb"\Archive"):
            self.assertIn(want, listing)
        body = b"Subject: drafted\r\n\r\nsaved by the client\r\n"
        typ, data = imap.append("Drafts", r"(\Draft)", None, body)
        self.assertEqual(typ, "OK")
        imap.select("Drafts")
        typ, data = imap.fetch("1", "(FLAGS BODY.PEEK[])")
        items = imap_sexp.fetch_items(data)[0]
        self.assertEqual(items["BODY[]"], body)
        self.assertIn(rb"\Draft", items["FLAGS"])
        imap.logout()

    def test_wrong_password_is_refused(self):
        imap = imaplib.IMAP4("127.0.0.1", self.port("imap"))
        with self.assertRaises(imaplib.IMAP4.error):
            imap.login("alice@example.test", "not the password")
        imap.logout()

    def test_idle_wakes_on_delivery_within_a_second(self):
        imap = imap_login(self.port("imap"))
        imap.select("INBOX")
        tag = imap._new_tag().decode()
        imap.send(f"{tag} IDLE\r\n".encode())
        self.assertTrue(imap.readline().startswith(b"+"))
        started = time.time()
        self.deliver("alice@example.test", b"Subject: ping\r\n\r\nx\r\n")
        imap.sock.settimeout(10)
        line = imap.readline()
        woke = time.time() - started
        self.assertIn(b"EXISTS", line)
        self.assertLess(woke, 3.0, f"IDLE woke after {woke:.2f}s")
        imap.send(b"DONE\r\n")
        while not imap.readline().startswith(tag.encode()):
            pass
        imap.logout()

    def test_expunge_in_one_session_while_another_fetches(self):
        for i in range(5):
            self.deliver("alice@example.test",
                         f"Subject: m{i}\r\n\r\nx\r\n".encode())
        self.wait_for_mail("alice@example.test", 5)
        a = imap_login(self.port("imap"))
        b = imap_login(self.port("imap"))
        a.select("INBOX")
        b.select("INBOX")
        a.store("2:3", "+FLAGS", r"(\Deleted)")
        a.expunge()
        # b still sees 5 messages until a moment the RFC allows an
        # EXPUNGE; its sequence numbers stay valid for this FETCH.
        typ, data = b.fetch("5", "(UID)")
        self.assertEqual(typ, "OK")
        self.assertIn(b"UID 5", data[0])
        typ, data = b.noop()
        expunged = b.untagged_responses.get("EXPUNGE", [])
        self.assertEqual(len(expunged), 2, b.untagged_responses)
        typ, data = b.fetch("3", "(UID)")
        self.assertIn(b"UID 5", data[0])
        a.logout()
        b.logout()

    def test_idle_session_follows_changes_across_uid_gaps(self):
        for i in range(30):
            self.deliver("alice@example.test",
                         f"Subject: g{i}\r\n\r\nx\r\n".encode())
        self.wait_for_mail("alice@example.test", 30)
        a = imap_login(self.port("imap"))
        a.select("INBOX")
        # Every third message goes: UIDs 1 2 4 5 7 8 ... 28 29 remain.
        a.store(",".join(str(n) for n in range(3, 31, 3)), "+FLAGS",
                r"(\Deleted)")
        a.expunge()
        uids = [u for u in range(1, 31) if u % 3]

        b = imap_login(self.port("imap"))
        typ, data = b.select("INBOX")
        self.assertEqual(data[0], b"20")
        typ, data = b.fetch("1:*", "(UID)")
        got = [int(item["UID"]) for item in imap_sexp.fetch_items(data)]
        self.assertEqual(got, uids)

        tag = b._new_tag().decode()
        b.send(f"{tag} IDLE\r\n".encode())
        self.assertTrue(b.readline().startswith(b"+"))
        b.sock.settimeout(10)
        # UID 20 is sequence number 14 in b's view.
        a.uid("STORE", "20", "+FLAGS", r"(\Flagged)")
        self.assertEqual(b.readline(), b"* 14 FETCH (FLAGS (\\Flagged))\r\n")
        a.uid("STORE", "8,29", "+FLAGS", r"(\Deleted)")
        a.expunge()
        # The \Deleted flags may be announced first.
        expunges = []
        for _ in range(10):
            if len(expunges) == 2:
                break
            line = b.readline()
            if b"EXPUNGE" in line:
                expunges.append(line)
        self.assertEqual(expunges, [b"* 20 EXPUNGE\r\n", b"* 6 EXPUNGE\r\n"])
        b.send(b"DONE\r\n")
        while not b.readline().startswith(tag.encode()):
            pass
        typ, data = b.fetch("6", "(UID FLAGS)")
        self.assertIn(b"UID 10", data[0])
        typ, data = b.fetch("13", "(UID FLAGS)")
        self.assertIn(b"UID 20", data[0])
        self.assertIn(rb"\Flagged", data[0])
        a.logout()
        b.logout()

    @unittest.skipUnless(shutil.which("curl"), "curl not installed")
    def test_curl_reads_imap_and_pop3(self):
        body = b"Subject: for curl\r\n\r\nfetched by curl\r\n"
        self.deliver("carol@example.test", body)
        self.wait_for_mail("carol@example.test", 1)
        user = f"carol@example.test:{PASSWORD}"
        out = subprocess.run(
            ["curl", "-s", "--url",
             f"imap://127.0.0.1:{self.port('imap')}/INBOX;UID=1",
             "--user", user], capture_output=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(strip_received(out.stdout), body)
        out = subprocess.run(
            ["curl", "-s", "--url", f"pop3://127.0.0.1:{self.port('pop3')}/1",
             "--user", user], capture_output=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(strip_received(out.stdout), body)

    @unittest.skipUnless(shutil.which("mbsync"), "isync not installed")
    def test_mbsync_round_trip(self):
        self.deliver("alice@example.test",
                     b"Subject: to sync\r\n\r\nremote message\r\n")
        self.wait_for_mail("alice@example.test", 1)
        maildir = os.path.join(self.dir, "maildir")
        os.makedirs(maildir)
        rc = os.path.join(self.dir, "mbsyncrc")
        with open(rc, "w") as f:
            f.write(f"""IMAPAccount corvus
Host 127.0.0.1
Port {self.port('imap')}
User alice@example.test
Pass "{PASSWORD}"
SSLType None
AuthMechs LOGIN

IMAPStore remote
Account corvus

MaildirStore local
Path {maildir}/
Inbox {maildir}/INBOX

Channel sync
Far :remote:
Near :local:
Patterns INBOX
Create Both
SyncState *
Sync All
""")
        def mbsync():
            out = subprocess.run(["mbsync", "-c", rc, "-a"],
                                 capture_output=True, text=True, timeout=120)
            self.assertEqual(out.returncode, 0, out.stdout + out.stderr)

        mbsync()
        new = glob.glob(os.path.join(maildir, "INBOX", "new", "*")) + \
            glob.glob(os.path.join(maildir, "INBOX", "cur", "*"))
        self.assertEqual(len(new), 1)
        with open(new[0], "rb") as f:
            self.assertIn(b"remote message", f.read())
        # Flag it locally (seen + flagged) and add a new local message.
        cur = os.path.join(maildir, "INBOX", "cur")
        base = os.path.basename(new[0]).split(":2,")[0]
        os.rename(new[0], os.path.join(cur, base + ":2,FS"))
        with open(os.path.join(maildir, "INBOX", "new", "local.1"), "wb") as f:
            f.write(b"Subject: written locally\r\n\r\nlocal message\r\n")
        mbsync()

        imap = imap_login(self.port("imap"))
        imap.select("INBOX", readonly=True)
        typ, data = imap.uid("SEARCH", None, "FLAGGED", "SEEN")
        self.assertEqual(data[0].split(), [b"1"])
        typ, data = imap.uid("SEARCH", None, "SUBJECT", '"written locally"')
        self.assertEqual(len(data[0].split()), 1)
        imap.logout()


class Pop3Test(MailTestCase):

    def test_poplib_retrieves_and_deletes(self):
        bodies = [f"Subject: p{i}\r\n\r\n.dot line {i}\r\n".encode()
                  for i in range(3)]
        with smtplib.SMTP("127.0.0.1", self.port("smtp")) as s:
            for b in bodies:
                s.sendmail("s@remote.example", ["bob@example.test"], b)
        self.wait_for_mail("bob@example.test", 3)
        pop = poplib.POP3("127.0.0.1", self.port("pop3"))
        pop.user("bob@example.test")
        pop.pass_(PASSWORD)
        self.assertEqual(pop.stat()[0], 3)
        # Deliveries run in parallel: the order in the maildrop may differ.
        got = [strip_received(b"\r\n".join(pop.retr(i)[1]) + b"\r\n")
               for i in range(1, 4)]
        self.assertEqual(sorted(got), sorted(bodies))
        pop.dele(1)
        pop.quit()
        pop = poplib.POP3("127.0.0.1", self.port("pop3"))
        pop.user("bob@example.test")
        pop.pass_(PASSWORD)
        self.assertEqual(pop.stat()[0], 2)
        pop.quit()

    def test_wrong_password(self):
        pop = poplib.POP3("127.0.0.1", self.port("pop3"))
        pop.user("bob@example.test")
        with self.assertRaises(poplib.error_proto):
            pop.pass_("wrong")
        pop.close()


if __name__ == "__main__":
    unittest.main()
