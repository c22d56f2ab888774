#!/usr/bin/env python3
"""Sends a folder of real messages to Corvus over SMTP.

Usage: send-corpus.py HOST:PORT RECIPIENT FILE_OR_FOLDER...

Each file is one RFC 5322 message. Line endings are made CRLF, as any
SMTP client must send them; the bytes are otherwise sent unchanged. Prints
a line per refused message and a summary; exits 1 if any was refused.
"""

import glob
import os
import smtplib
import sys


def message_files(paths):
    for path in paths:
        if os.path.isdir(path):
            for name in sorted(glob.glob(os.path.join(path, "**", "*"),
                                         recursive=True)):
                if os.path.isfile(name) and not name.endswith(
                        (".md", "LICENSE", "LICENSE.txt", "NOTICE")):
                    yield name
        elif os.path.isfile(path):
            yield path


def to_crlf(data):
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def main():
    if len(sys.argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    host, port = sys.argv[1].rsplit(":", 1)
    rcpt = sys.argv[2]
    sent = refused = 0
    with smtplib.SMTP(host, int(port), timeout=60) as smtp:
        for path in message_files(sys.argv[3:]):
            with open(path, "rb") as f:
                data = to_crlf(f.read())
            try:
                smtp.sendmail("corpus@example.invalid", [rcpt], data)
                sent += 1
            except smtplib.SMTPException as e:
                refused += 1
                print(f"refused {path}: {e}", file=sys.stderr)
                smtp.rset()
    print(f"sent {sent} messages to {rcpt}, {refused} refused")
    return 1 if refused else 0


if __name__ == "__main__":
    sys.exit(main())
