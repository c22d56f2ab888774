"""Minimal asyncio IMAP4rev1 client for the read and idle scenarios.

Speaks only what the scenarios need (LOGIN, SELECT, STATUS, FETCH, UID
SEARCH, IDLE, LOGOUT) and parses responses just enough to count FETCH
items and skip literals, so that client CPU stays small next to the
servers' on a shared 2-core machine.

Not thread-safe: one ImapConn belongs to one asyncio task.
"""

import asyncio
import re

LITERAL = re.compile(rb"\{(\d+)\+?\}\r\n$")


class ImapError(Exception):
    pass


class ImapConn:
    def __init__(self, reader, writer):
        self.r = reader
        self.w = writer
        self.n = 0

    @classmethod
    async def open(cls, port, timeout=30.0):
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", port, limit=1 << 20),
            timeout)
        conn = cls(reader, writer)
        greeting = await asyncio.wait_for(reader.readline(), timeout)
        if not greeting.startswith(b"* OK"):
            writer.close()
            raise ImapError(f"greeting: {greeting[:80]!r}")
        return conn

    async def _response_line(self):
        """One response, literals included, as (line, literal_bytes)."""
        line = await self.r.readline()
        if not line:
            raise ImapError("connection closed")
        nlit = 0
        while True:
            m = LITERAL.search(line)
            if not m:
                return line, nlit
            size = int(m.group(1))
            await self.r.readexactly(size)
            nlit += size
            line = await self.r.readline()
            if not line:
                raise ImapError("connection closed in literal")

    async def command(self, text):
        """Sends one command; returns (untagged_count, literal_bytes, lines).

        Only the first 50 untagged lines are kept (SEARCH, STATUS, SELECT
        answers fit); FETCH answers are counted, not stored.
        """
        self.n += 1
        tag = f"a{self.n}".encode()
        self.w.write(tag + b" " + text.encode() + b"\r\n")
        untagged = 0
        lit = 0
        kept = []
        while True:
            line, nlit = await self._response_line()
            lit += nlit
            if line.startswith(tag + b" "):
                if not line[len(tag) + 1:].startswith(b"OK"):
                    raise ImapError(f"{text.split()[0]}: {line[:120]!r}")
                return untagged, lit, kept
            if line.startswith(b"*"):
                untagged += 1
                if len(kept) < 50:
                    kept.append(line)

    async def login(self, user, password):
        await self.command(f'LOGIN "{user}" "{password}"')

    async def select(self, mailbox="INBOX"):
        _, _, lines = await self.command(f"SELECT {mailbox}")
        for line in lines:
            m = re.match(rb"\* (\d+) EXISTS", line)
            if m:
                return int(m.group(1))
        return 0

    async def status_messages(self, mailbox="INBOX"):
        _, _, lines = await self.command(f"STATUS {mailbox} (MESSAGES)")
        for line in lines:
            m = re.search(rb"MESSAGES (\d+)", line)
            if m:
                return int(m.group(1))
        raise ImapError("no STATUS answer")

    async def search(self, criteria):
        _, _, lines = await self.command(f"UID SEARCH {criteria}")
        for line in lines:
            if line.startswith(b"* SEARCH"):
                return len(line.split()) - 2
        return 0

    async def idle(self):
        """Enters IDLE and returns once the server sent its continuation."""
        self.n += 1
        self.idle_tag = f"a{self.n}".encode()
        self.w.write(self.idle_tag + b" IDLE\r\n")
        while True:
            line = await self.r.readline()
            if not line:
                raise ImapError("connection closed before IDLE")
            if line.startswith(b"+"):
                return
            if line.startswith(self.idle_tag):
                raise ImapError(f"IDLE refused: {line[:80]!r}")

    def close(self):
        try:
            self.w.close()
        except Exception:  # noqa: BLE001 - closing a dead socket is fine
            pass

    async def logout(self):
        try:
            self.w.write(b"zz LOGOUT\r\n")
            await asyncio.wait_for(self.w.drain(), 5)
        except Exception:  # noqa: BLE001 - best effort on the way out
            pass
        self.close()
