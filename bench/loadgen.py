"""SMTP/LMTP load client for the benchmark (asyncio, no dependencies).

Unlike Postfix's smtp-source, which sends every message to one fixed
recipient, this client spreads recipients over all accounts (70% of
messages to one, 20% to two, 10% to three) so that both systems pay for
mailbox fan-out and per-account locking the way real traffic makes them.
The message set is a pure function of (seed, count, size), so Corvus and
the reference receive byte-identical messages.

Single-threaded: one asyncio event loop; workers share only counters.
"""

import asyncio
import random
import time

LINE = 76  # body line width; every line ends in CRLF


def recipients_for(rng, users):
    r = rng.random()
    k = 1 if r < 0.7 else (2 if r < 0.9 else 3)
    return rng.sample(users, k)


def make_message(i, size, rng, run_tag):
    """A plain-text message of about `size` bytes, dot-stuffed for DATA.

    Every 10th message carries the word "needle" in its body and the
    subject names one of ten topics, so the IMAP scenario can search.
    """
    topic = i % 10
    head = (f"From: Load Client <load@client.test>\r\n"
            f"To: bench <inbox@bench.test>\r\n"
            f"Subject: bench message {i} topic{topic}\r\n"
            f"Message-ID: <{run_tag}.{i}@client.test>\r\n"
            f"Date: Fri, 04 Dec 2026 12:00:00 +0000\r\n"
            f"MIME-Version: 1.0\r\n"
            f"Content-Type: text/plain; charset=us-ascii\r\n\r\n")
    words = ("lorem ipsum dolor sit amet consectetur adipiscing elit sed do "
             "eiusmod tempor incididunt ut labore et dolore magna aliqua "
             "corvus postfix dovecot mailbox queue fsync").split()
    body = []
    n = len(head)
    if i % 10 == 0:
        body.append("needle haystack marker line\r\n")
        n += len(body[-1])
    while n < size:
        line = []
        w = 0
        while w < LINE - 12:
            word = words[rng.randrange(len(words))]
            line.append(word)
            w += len(word) + 1
        text = " ".join(line) + "\r\n"
        body.append(text)
        n += len(text)
    return (head + "".join(body)).encode("ascii")


def message_set(count, size, users, seed, run_tag):
    rng = random.Random(seed)
    out = []
    for i in range(count):
        rcpts = recipients_for(rng, users) if len(users) > 1 else users[:]
        out.append((rcpts, make_message(i, size, rng, run_tag)))
    return out


class SmtpError(Exception):
    pass


async def read_reply(reader):
    """One (possibly multi-line) SMTP reply: (code, text)."""
    lines = []
    while True:
        line = await reader.readline()
        if not line:
            raise SmtpError("connection closed")
        lines.append(line)
        if len(line) < 4 or line[3:4] != b"-":
            break
    return int(lines[-1][:3]), b"".join(lines)


async def expect(reader, ok):
    code, text = await read_reply(reader)
    if code // 100 != ok:
        raise SmtpError(text.decode(errors="replace").strip())
    return code


async def worker(port, lmtp, queue, stats, latencies, timeout):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        await expect(reader, 2)
        writer.write(b"LHLO load.client.test\r\n" if lmtp
                     else b"EHLO load.client.test\r\n")
        await expect(reader, 2)
        while True:
            try:
                rcpts, data = queue.get_nowait()
            except asyncio.QueueEmpty:
                break
            t0 = time.monotonic()
            try:
                writer.write(b"MAIL FROM:<load@client.test>\r\n")
                await asyncio.wait_for(expect(reader, 2), timeout)
                for r in rcpts:
                    writer.write(f"RCPT TO:<{r}>\r\n".encode())
                    await asyncio.wait_for(expect(reader, 2), timeout)
                writer.write(b"DATA\r\n")
                await asyncio.wait_for(expect(reader, 3), timeout)
                # Dot-stuffing: bodies never start a line with ".".
                writer.write(data + b".\r\n")
                replies = len(rcpts) if lmtp else 1
                for _ in range(replies):
                    await asyncio.wait_for(expect(reader, 2), timeout)
                stats["sent"] += 1
                stats["rcpts"] += len(rcpts)
                stats["bytes"] += len(data)
                latencies.append(time.monotonic() - t0)
            except (SmtpError, asyncio.TimeoutError) as e:
                stats["failed"] += 1
                stats["errors"].append(str(e)[:200])
                writer.write(b"RSET\r\n")
                await asyncio.wait_for(read_reply(reader), timeout)
        writer.write(b"QUIT\r\n")
        await writer.drain()
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except OSError:
            pass


async def send_all(port, messages, concurrency, lmtp=False, timeout=60.0):
    """Sends `messages` [(rcpts, bytes)] with `concurrency` connections.

    Returns a dict: sent, failed, rcpts, bytes, seconds, latencies.
    """
    queue = asyncio.Queue()
    for m in messages:
        queue.put_nowait(m)
    stats = {"sent": 0, "failed": 0, "rcpts": 0, "bytes": 0, "errors": []}
    latencies = []
    t0 = time.monotonic()
    results = await asyncio.gather(
        *(worker(port, lmtp, queue, stats, latencies, timeout)
          for _ in range(concurrency)), return_exceptions=True)
    stats["seconds"] = time.monotonic() - t0
    stats["latencies"] = latencies
    for r in results:
        if isinstance(r, BaseException):
            stats["errors"].append(f"worker: {r!r}"[:200])
    stats["errors"] = stats["errors"][:5]
    return stats


def run(port, messages, concurrency, lmtp=False):
    return asyncio.run(send_all(port, messages, concurrency, lmtp))
