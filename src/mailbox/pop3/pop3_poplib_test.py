#!/usr/bin/python3
"""Python's poplib against a Corvus POP3 server.

Run by pop3_session_test.cc (PythonPoplibClientPasses), which starts the
server on loopback with alice@example.com / "secret" owning three INBOX
messages and writes them to EXPECTED_DIR/1.eml, 2.eml, 3.eml.

Usage: pop3_poplib_test.py PORT EXPECTED_DIR
Exits 0 if every check passes; prints the failures and exits 1 otherwise.
"""

import base64
import os
import poplib
import ssl
import sys

HOST = "127.0.0.1"
USER = "alice@example.com"
PASSWORD = "secret"
TIMEOUT = 10

failures = []


def check(label, got, want):
    if got != want:
        failures.append(f"{label}: got {got!r}, want {want!r}")


def connect(port):
    return poplib.POP3(HOST, port, timeout=TIMEOUT)


def login(port):
    client = connect(port)
    client.user(USER)
    client.pass_(PASSWORD)
    return client


def retr_bytes(client, number):
    """RETR through poplib, joined back into the bytes on disk."""
    _, lines, _ = client.retr(number)
    return b"".join(line + b"\r\n" for line in lines)


def main():
    port = int(sys.argv[1])
    expected_dir = sys.argv[2]
    expected = []
    for number in range(1, 4):
        path = os.path.join(expected_dir, f"{number}.eml")
        with open(path, "rb") as f:
            expected.append(f.read())

    # A wrong password is refused with the [AUTH] response code.
    client = connect(port)
    client.user(USER)
    try:
        client.pass_("wrong")
        failures.append("bad password: got +OK, want -ERR")
    except poplib.error_proto as e:
        check("bad password reply", e.args[0].startswith(b"-ERR [AUTH]"), True)
    client.quit()

    # CAPA names what the server does.
    client = connect(port)
    capa = client.capa()
    for name in ("TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "USER",
                 "STLS", "PIPELINING"):
        check(f"CAPA has {name}", name in capa, True)
    check("CAPA SASL", capa.get("SASL"), ["PLAIN"])
    client.quit()

    # Reading: STAT, LIST, UIDL, TOP, RETR, byte for byte.
    client = login(port)
    sizes = [len(m) for m in expected]
    check("stat", client.stat(), (3, sum(sizes)))
    _, listing, _ = client.list()
    check("list", listing,
          [f"{i + 1} {s}".encode() for i, s in enumerate(sizes)])
    check("list 2", client.list(2), f"+OK 2 {sizes[1]}".encode())
    _, uidls, _ = client.uidl()
    check("uidl count", len(uidls), 3)
    ids = [line.split(b" ", 1)[1] for line in uidls]
    check("uidl unique", len(set(ids)), 3)
    for number in range(1, 4):
        check(f"retr {number}", retr_bytes(client, number),
              expected[number - 1])
    _, top, _ = client.top(1, 1)
    header_end = expected[0].index(b"\r\n\r\n")
    want_top = expected[0][:header_end].split(b"\r\n") + [b"", b"Hello"]
    check("top 1 1", top, want_top)
    client.quit()

    # UIDs are stable across sessions.
    client = login(port)
    _, again, _ = client.uidl()
    check("uidl stable", again, uidls)

    # DELE then RSET keeps everything.
    client.dele(1)
    check("stat after dele", client.stat()[0], 2)
    client.rset()
    check("stat after rset", client.stat()[0], 3)
    client.quit()
    client = login(port)
    check("rset kept messages", client.stat()[0], 3)

    # A second session of the same account is [IN-USE].
    other = connect(port)
    other.user(USER)
    try:
        other.pass_(PASSWORD)
        failures.append("second session: got +OK, want -ERR [IN-USE]")
    except poplib.error_proto as e:
        check("in-use reply", e.args[0].startswith(b"-ERR [IN-USE]"), True)
    other.quit()

    # DELE then QUIT removes the message; the rest keep their unique ids.
    client.dele(2)
    client.quit()
    client = login(port)
    check("stat after quit", client.stat(), (2, sizes[0] + sizes[2]))
    _, left, _ = client.uidl()
    check("uidl after quit", [l.split(b" ", 1)[1] for l in left],
          [ids[0], ids[2]])
    check("retr first after quit", retr_bytes(client, 1), expected[0])
    check("retr second after quit", retr_bytes(client, 2), expected[2])
    client.quit()

    # STLS, then AUTH PLAIN with an initial response, over TLS.
    client = connect(port)
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    client.stls(context)
    check("tls active", isinstance(client.sock, ssl.SSLSocket), True)
    token = base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode()
    reply = client._shortcmd(f"AUTH PLAIN {token}")
    check("auth plain", reply.startswith(b"+OK"), True)
    check("stat over tls", client.stat()[0], 2)
    client.quit()

    if failures:
        print("\n".join(failures))
        return 1
    print("poplib: all checks passed")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:  # a protocol error or a hang is a failure too
        print("\n".join(failures))
        print(f"poplib: {type(e).__name__}: {e}")
        sys.exit(1)
