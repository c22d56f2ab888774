#!/usr/bin/env python3
"""Cross-checks corvus_mime against Python's `email` package on real mail.

Usage: mime_corpus_check.py PATH/TO/mime_dump [-v]

For every message in /work/shared/corpus/*/ (when present) and in
CPython's test_email data (msg_*.txt), runs mime_dump and compares with
what Python's parser says: the tree shape, content types, the charset and
boundary parameters, leaf body sizes in bytes, and the envelope's subject,
from, to and message-id.

Disagreements that have been looked at are listed in KNOWN with a verdict
(which side is wrong and why). The check fails on any other disagreement,
so a parser change that breaks real mail is caught. Exit status: 0 pass,
1 fail, 77 skipped (no messages found).
"""

import email
import email.policy
import email.utils
import glob
import json
import os
import subprocess
import sys

CORPUS_GLOBS = [
    "/work/shared/corpus/*/*",
    "/usr/lib/python3.11/test/test_email/data/msg_*.txt",
]
NOT_MAIL = ("LICENSE", "SOURCES.md", "README")

# file (folder/name) -> verdict. "python:" means we judge Python's parser
# wrong or merely different for IMAP; "corvus:" would mean a known Corvus
# gap (none at present).
_NO_CLOSE = ("python: no close delimiter before end of input; Python drops "
             "the last line break of the last part, Corvus keeps it since "
             "no delimiter owns it (RFC 2046 §5.1.1)")
_EMPTY_PART = ("python: adjacent delimiter lines; Corvus reports the empty "
               "part between them, Python merges the delimiters")
KNOWN = {
    "dovecot-malformed/000.eml": _EMPTY_PART,
    "dovecot-malformed/001.eml": _NO_CLOSE,
    "dovecot-malformed/003.eml": _NO_CLOSE,
    "dovecot-malformed/006.eml": _NO_CLOSE,
    "dovecot-malformed/008.eml": _NO_CLOSE,
    "dovecot-malformed/009.eml": _NO_CLOSE,
    "dovecot-malformed/011.eml": _NO_CLOSE,
    "dovecot-malformed/012.eml": _NO_CLOSE,
    "dovecot-malformed/016.eml": _NO_CLOSE,
    "dovecot-malformed/017.eml": (
        "python: 'multipart/mixed<fold>boundary=...' without ';'; Python "
        "returns the folded text as the type"),
    "dovecot-malformed/019.eml": (
        "python: first field is 'Fro :...' (white space before the colon, "
        "RFC 5322 §4.5 obsolete syntax); Corvus keeps reading the header, "
        "Python ends it and reports text/plain"),
    "mime4j/multipartemptypart.msg": _EMPTY_PART,
    "mime4j/obsolete.msg": (
        "python: 'Subject :' obsolete syntax (RFC 5322 §4.5); Python ends "
        "the header there"),
    "data/msg_37.txt": _EMPTY_PART,
}


def corpus_files():
    files = []
    for pattern in CORPUS_GLOBS:
        for path in sorted(glob.glob(pattern)):
            if os.path.isfile(path) and not os.path.basename(path).startswith(
                    NOT_MAIL):
                files.append(path)
    return files


def short_name(path):
    return "/".join(path.split("/")[-2:])


def unfold(value):
    if value is None:
        return None
    if not isinstance(value, str):
        value = str(value)
    return value.replace("\r", "").replace("\n", "").strip(" \t")


def is_ascii(s):
    return s is None or all(ord(c) < 128 for c in s)


def py_param(msg, name):
    value = msg.get_param(name)
    if value is None:
        return None
    if isinstance(value, tuple):
        value = email.utils.collapse_rfc2231_value(value)
    return value


def py_addresses(msg, field):
    value = msg.get(field)
    if value is None:
        return []
    value = unfold(value)
    out = []
    try:
        pairs = email.utils.getaddresses([value])
    except RecursionError:
        # Python's address parser recurses per group; hostile headers
        # exhaust its stack. Nothing to compare against.
        return None
    for _, addr in pairs:
        if addr and "@" in addr:
            out.append(addr.lower())
    return out


def corvus_addresses(node_env, field):
    out = []
    for a in node_env[field]:
        if a["host"] == ".MISSING-HOST-NAME.":
            continue
        out.append((a["mailbox"] + "@" + a["host"]).lower())
    return out


def is_synthetic(node):
    """A multipart in which Corvus found no boundary: one text/plain part
    that spans the whole body (Python keeps such a body as a string)."""
    kids = node["children"]
    return (node["type"] == "multipart" and len(kids) == 1 and
            kids[0]["header"][1] == 0 and kids[0]["body"] == node["body"])


def compare_envelope(msg, env, where, problems):
    for field in ("subject", "message-id"):
        want = unfold(msg.get(field))
        got = env["subject" if field == "subject" else "message_id"]
        if not (is_ascii(want) and is_ascii(got)):
            continue
        if want != got:
            problems.append(f"{where}{field}: corvus {got!r}, python {want!r}")
    for field in ("from", "to"):
        want = py_addresses(msg, field)
        got = corvus_addresses(env, field)
        if want is not None and want != got:
            problems.append(f"{where}{field}: corvus {got}, python {want}")


def compare(msg, node, where, problems, is_message):
    """Compares Python message `msg` with Corvus tree node `node`."""
    py_type = msg.get_content_type()
    got_type = node["type"] + "/" + node["subtype"]
    if node.get("flattened"):
        problems.append(f"{where}: corvus flattened {py_type}")
        return
    if py_type != got_type:
        problems.append(f"{where}type: corvus {got_type}, python {py_type}")
        return
    if is_message and "envelope" in node:
        compare_envelope(msg, node["envelope"], where, problems)

    charset = py_param(msg, "charset")
    if charset is not None and msg.get("content-type") is not None:
        got = node["params"].get("charset")
        if got is None or got.lower() != charset.lower():
            problems.append(f"{where}charset: corvus {got!r}, python "
                            f"{charset!r}")
    if node["type"] == "multipart":
        boundary = msg.get_boundary()
        got = node["params"].get("boundary")
        # Trailing spaces are not part of a boundary (RFC 2046 §5.1.1);
        # both sides drop them when matching delimiter lines.
        if boundary is not None and (got or "").rstrip() != boundary:
            problems.append(f"{where}boundary: corvus {got!r}, python "
                            f"{boundary!r}")

    py_kids = msg.get_payload() if msg.is_multipart() else None
    if node["type"] == "message" and not node["children"]:
        # Python parses every message/* body (delivery-status blocks,
        # disposition notifications) as header blocks; IMAP descends only
        # into message/rfc822 and message/global.
        return
    kids = node["children"]
    if py_kids is None:
        if kids and not is_synthetic(node):
            problems.append(f"{where}shape: corvus has {len(kids)} parts, "
                            "python none")
            return
        # The undecoded payload: get_payload() re-decodes 8-bit text.
        payload = msg._payload
        if isinstance(payload, str) and node["type"] != "multipart":
            size = len(payload.encode("ascii", "surrogateescape"))
            if size != node["body"][1]:
                problems.append(f"{where}size: corvus {node['body'][1]}, "
                                f"python {size}")
        return
    if len(py_kids) != len(kids):
        problems.append(f"{where}shape: corvus {len(kids)} parts, python "
                        f"{len(py_kids)}")
        return
    child_is_message = node["type"] == "message"
    for i, (py_kid, kid) in enumerate(zip(py_kids, kids)):
        label = where + ("" if child_is_message else f"{i + 1}.")
        compare(py_kid, kid, label, problems, child_is_message)


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    dump = sys.argv[1]
    verbose = "-v" in sys.argv[2:]
    files = corpus_files()
    if not files:
        print("no corpus messages found; skipping")
        return 77
    if not os.path.isdir("/work/shared/corpus"):
        print("shared corpus absent; checking CPython's messages only")

    out = subprocess.run([dump] + files, check=True, capture_output=True,
                         timeout=240).stdout.decode()
    dumps = [json.loads(line) for line in out.splitlines()]
    agree, unexpected, expected = 0, [], []
    for path, dumped in zip(files, dumps):
        with open(path, "rb") as f:
            msg = email.message_from_bytes(f.read(),
                                           policy=email.policy.compat32)
        problems = []
        compare(msg, dumped["tree"], "", problems, True)
        name = short_name(path)
        if not problems:
            agree += 1
            if name in KNOWN:
                print(f"NOW AGREES {name} (remove it from KNOWN)")
            continue
        if name in KNOWN:
            expected.append((name, problems))
        else:
            unexpected.append((name, problems))

    print(f"{agree}/{len(files)} messages agree with Python's email package")
    for name, problems in expected:
        print(f"known: {name}: {KNOWN[name]}")
        if verbose:
            for p in problems:
                print(f"    {p[:160]}")
    for name, problems in unexpected:
        print(f"DISAGREES {name}:")
        for p in problems:
            print(f"    {p[:160]}")
    return 1 if unexpected else 0


if __name__ == "__main__":
    sys.exit(main())
