#!/usr/bin/env python3
"""Drives a Corvus IMAP server with Python's imaplib, the way a real
client would, and exits non-zero on the first surprise.

Usage: imap_client_check.py PORT USER PASSWORD

Run by imap_session_test.cc (PythonImaplibSessionWorks) against a server
on 127.0.0.1; also usable by hand against `corvus serve`.
"""
import imaplib
import sys


def check(condition, what):
    if not condition:
        print("FAIL:", what, file=sys.stderr)
        sys.exit(1)


def main():
    port, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    message = (b"From: Python <py@example.com>\r\n"
               b"Subject: from imaplib\r\n"
               b"\r\n"
               b"Body line one.\r\n")

    imap = imaplib.IMAP4("127.0.0.1", port, timeout=10)
    check("IMAP4REV1" in imap.capabilities, "IMAP4rev1 advertised")
    typ, _ = imap.login(user, password)
    check(typ == "OK", "login")

    typ, data = imap.create("Py/Child")
    check(typ == "OK", "create with parent: %r" % data)
    typ, data = imap.list('""', "Py*")
    check(typ == "OK" and any(b"Py/Child" in d for d in data),
          "list shows the new folder: %r" % data)

    typ, data = imap.append("INBOX", r"(\Flagged)", None, message)
    check(typ == "OK" and b"APPENDUID" in data[0], "append: %r" % data)

    typ, data = imap.select("INBOX")
    check(typ == "OK" and int(data[0]) >= 1, "select: %r" % data)
    count = int(data[0])

    typ, data = imap.fetch(str(count), "(BODY.PEEK[] FLAGS)")
    check(typ == "OK", "fetch")
    check(data[0][1] == message, "fetched bytes equal appended bytes")
    # imaplib splits the response at the literal: FLAGS come after it.
    check(b"\\Flagged" in data[1], "flags from append: %r" % data)

    typ, data = imap.search(None, "SUBJECT", '"from imaplib"')
    check(typ == "OK" and data[0].split()[-1] == str(count).encode(),
          "search by subject: %r" % data)

    typ, data = imap.uid("FETCH", "1:*", "(UID RFC822.SIZE)")
    check(typ == "OK" and b"RFC822.SIZE %d" % len(message) in data[-1],
          "uid fetch size: %r" % data)

    typ, data = imap.store(str(count), "+FLAGS", r"(\Deleted)")
    check(typ == "OK" and b"\\Deleted" in data[0], "store: %r" % data)
    typ, data = imap.copy(str(count), "Py/Child")
    check(typ == "OK", "copy: %r" % data)
    typ, data = imap.expunge()
    check(typ == "OK" and data[0] == str(count).encode(),
          "expunge reports the message: %r" % data)

    typ, data = imap.status("Py/Child", "(MESSAGES UNSEEN)")
    check(typ == "OK" and b"MESSAGES 1" in data[0], "status: %r" % data)

    imap.close()
    imap.logout()
    print("ok")


if __name__ == "__main__":
    main()
