"""Corvus vs Postfix+Dovecot benchmark: scenarios, measurement, report.

Started by run.sh (which installs packages, builds Corvus, raises the
file-descriptor limit and stops every recorded PID on exit).  Runs each
scenario against Corvus and the reference in alternation, `--runs` times,
and writes results/REPORT.md, results/results.json and
results/throughput_vs_concurrency.png, then refreshes the figures in
bench/README.md.

Single-threaded orchestration; the load itself runs on asyncio.
"""

import argparse
import asyncio
import datetime
import json
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import time
import zlib

import imapclient
import loadgen
import procstat
import stack

HERE = os.path.dirname(os.path.abspath(__file__))

SIZES = {
    "quick": dict(users=8, ingest_n={4096: 150, 65536: 40},
                  sweep_n={1: 40, 5: 80, 20: 150, 50: 150},
                  reader_n=500, readers=2, idle=[100, 300],
                  fsync_seconds=1.0, profile_n=150),
    "default": dict(users=20, ingest_n={4096: 1000, 65536: 250},
                    sweep_n={1: 120, 5: 400, 20: 1000, 50: 1000},
                    reader_n=10000, readers=4, idle=[1000, 10000],
                    fsync_seconds=5.0, profile_n=800),
}
MAIN_CONCURRENCY = 20


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def median_spread(values):
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values),
            "max": max(values), "n": len(values)}


def percentile(values, p):
    if not values:
        return None
    s = sorted(values)
    k = min(len(s) - 1, max(0, int(round(p / 100.0 * (len(s) - 1)))))
    return s[k]


# --- durability ceiling ---------------------------------------------------

def fsync_ceiling(directory, seconds):
    """Append 4 KiB + fdatasync in a loop, bounded in time: calls/s."""
    path = os.path.join(directory, "fsync-probe")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    block = b"x" * 4096
    n = 0
    lat = []
    t0 = time.monotonic()
    try:
        while time.monotonic() - t0 < seconds and n < 1_000_000:
            t = time.monotonic()
            os.write(fd, block)
            os.fdatasync(fd)
            lat.append(time.monotonic() - t)
            n += 1
    finally:
        os.close(fd)
        os.unlink(path)
    el = time.monotonic() - t0
    return {"fsyncs_per_s": n / el, "p50_ms": percentile(lat, 50) * 1e3,
            "p99_ms": percentile(lat, 99) * 1e3}


# --- mailbox counting -----------------------------------------------------

class Counter:
    """Counts messages readable in each account's INBOX.

    Corvus: read-only SQLite queries on the account databases (the rows
    `corvus mailbox list` prints), falling back to the CLI.  Reference:
    files in Maildir new/ and cur/ (what Dovecot's IMAP will list).
    """

    def __init__(self, system):
        self.sys = system
        self.dbs = {}
        self.paths = {}
        if system.name == "corvus":
            out = system.cli("--json", "account", "list")
            for a in json.loads(out):
                aid = a["id"]
                self.paths[a["address"]] = os.path.join(
                    system.dir, "store", "accounts", aid[:2], aid + ".db")

    def _db(self, user):
        db = self.dbs.get(user)
        path = self.paths.get(user)
        if db is None and path and os.path.exists(path):
            try:
                db = sqlite3.connect(f"file:{path}?mode=ro", uri=True,
                                     timeout=5)
                db.execute("SELECT count(*) FROM messages").fetchone()
                self.dbs[user] = db
            except sqlite3.Error:
                db = None
        return db

    def count(self, user):
        db = self._db(user)
        if db is not None:
            try:
                return db.execute(
                    "SELECT count(*) FROM messages m JOIN folders f "
                    "ON m.folder_id = f.id WHERE f.name = 'INBOX'"
                ).fetchone()[0]
            except sqlite3.Error:
                pass
        return self.sys.mailbox_count(user)

    def close(self):
        for c in self.dbs.values():
            c.close()


def wait_delivered(counter, expected, timeout):
    """Polls until every user reached its expected count; True if so."""
    pending = dict(expected)
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for u in list(pending):
            if counter.count(u) >= pending[u]:
                del pending[u]
        if pending:
            time.sleep(0.02)
    return not pending


# --- ingest ---------------------------------------------------------------

def ingest_once(system, counter, users, messages, conc, lmtp=False):
    base = {u: counter.count(u) for u in users}
    expected = dict(base)
    for rcpts, _ in messages:
        for r in rcpts:
            expected[r] += 1
    cpu0 = procstat.cpu_snapshot(system.root_pids())
    t0 = time.monotonic()
    st = loadgen.run(system.lmtp_port if lmtp else system.smtp_port,
                     messages, conc, lmtp=lmtp)
    t_sent = time.monotonic()
    if st["failed"]:
        # Failed messages are not waited for.
        expected = None
    ok = True
    if expected is not None:
        ok = wait_delivered(counter, expected,
                            timeout=120 + len(messages) / 5)
    t_end = time.monotonic()
    cpu1 = procstat.cpu_snapshot(system.root_pids())
    cpu, split = procstat.cpu_delta(cpu0, cpu1)
    el = t_end - t0
    return {
        "system": system.name, "sent": st["sent"], "failed": st["failed"],
        "errors": st["errors"], "delivered_all": ok and not st["failed"],
        "seconds": el, "send_seconds": t_sent - t0,
        "msgs_per_s": st["sent"] / el, "mb_per_s": st["bytes"] / el / 1e6,
        "accept_msgs_per_s": st["sent"] / max(1e-6, t_sent - t0),
        "tail_s": t_end - t_sent,
        "accept_p50_ms": percentile(st["latencies"], 50) * 1e3
        if st["latencies"] else None,
        "accept_p99_ms": percentile(st["latencies"], 99) * 1e3
        if st["latencies"] else None,
        "cpu_s": cpu, "cpu_ms_per_msg": cpu / max(1, st["sent"]) * 1e3,
        "cpu_split": split,
    }


def run_ingest(systems, counters, users, size, conc, n, runs, tag,
               lmtp=False):
    res = {s.name: [] for s in systems}
    for i in range(runs):
        msgs = loadgen.message_set(n, size, users, seed=zlib.crc32(f"{tag}.{i}".encode()),
                                   run_tag=f"{tag}.{i}")
        order = systems if i % 2 == 0 else list(reversed(systems))
        for s in order:
            r = ingest_once(s, counters[s.name], users, msgs, conc, lmtp)
            log(f"  {tag} run {i + 1}/{runs} {s.name}: "
                f"{r['msgs_per_s']:.1f} msg/s, {r['mb_per_s']:.2f} MB/s, "
                f"cpu {r['cpu_ms_per_msg']:.2f} ms/msg"
                + ("" if r["delivered_all"] else "  (NOT ALL DELIVERED: "
                   f"{r['errors'][:1]})"))
            res[s.name].append(r)
    return res


def summarize_ingest(res):
    out = {}
    for name, rs in res.items():
        out[name] = {k: median_spread([r[k] for r in rs if r[k] is not None])
                     for k in ("msgs_per_s", "mb_per_s", "accept_msgs_per_s",
                               "tail_s", "accept_p50_ms",
                               "accept_p99_ms", "cpu_ms_per_msg")}
        out[name]["all_delivered"] = all(r["delivered_all"] for r in rs)
        # CPU split of the median run.
        mid = sorted(rs, key=lambda r: r["msgs_per_s"])[len(rs) // 2]
        out[name]["cpu_split"] = mid["cpu_split"]
        out[name]["cpu_s"] = mid["cpu_s"]
    return out


# --- IMAP read ------------------------------------------------------------

async def read_session(port, user, n, phase_barrier, lat, counts):
    c = await imapclient.ImapConn.open(port)
    try:
        await c.login(user, stack.PASSWORD)
        t = time.monotonic()
        exists = await c.select("INBOX")
        lat["select"].append(time.monotonic() - t)
        counts["exists"] = exists
        phases = [("envelope", "(FLAGS ENVELOPE)", 1000),
                  ("body", "BODY.PEEK[]", 250)]
        for name, items, chunk in phases:
            await phase_barrier(name)
            got = 0
            for lo in range(1, exists + 1, chunk):
                hi = min(exists, lo + chunk - 1)
                t = time.monotonic()
                k, nbytes, _ = await c.command(f"FETCH {lo}:{hi} {items}")
                lat[name].append(time.monotonic() - t)
                got += k
                counts[name + "_bytes"] = counts.get(name + "_bytes", 0) \
                    + nbytes
            counts[name] = counts.get(name, 0) + got
        await phase_barrier("search")
        for name, crit in (("search_header", 'HEADER Subject "topic3"'),
                           ("search_body", 'BODY "needle"')):
            t = time.monotonic()
            hits = await c.search(crit)
            lat[name].append(time.monotonic() - t)
            counts[name + "_hits"] = hits
        await phase_barrier("done")
    finally:
        await c.logout()


async def read_run(port, user, n, parallel):
    lat = {k: [] for k in ("select", "envelope", "body", "search_header",
                           "search_body")}
    counts = {}
    marks = {}
    arrived = {}
    events = {}

    async def barrier(name):
        # All sessions start a phase together so its wall time is clean.
        arrived[name] = arrived.get(name, 0) + 1
        ev = events.setdefault(name, asyncio.Event())
        if arrived[name] == parallel:
            marks[name] = time.monotonic()
            ev.set()
        await ev.wait()

    t0 = time.monotonic()
    await asyncio.gather(*(read_session(port, user, n, barrier, lat, counts)
                           for _ in range(parallel)))
    marks["start"] = t0
    return lat, counts, marks


def imap_read_once(system, user, n, parallel):
    cpu0 = procstat.cpu_snapshot(system.root_pids())
    lat, counts, marks = asyncio.run(read_run(system.imap_port, user, n,
                                              parallel))
    cpu1 = procstat.cpu_snapshot(system.root_pids())
    cpu, split = procstat.cpu_delta(cpu0, cpu1)
    env_s = marks["body"] - marks["envelope"]
    body_s = marks["search"] - marks["body"]
    total = counts.get("exists", 0) * parallel
    return {
        "system": system.name, "exists": counts.get("exists"),
        "envelope_msgs_per_s": total / env_s if env_s > 0 else None,
        "body_msgs_per_s": total / body_s if body_s > 0 else None,
        "body_mb_per_s": counts.get("body_bytes", 0) / body_s / 1e6
        if body_s > 0 else None,
        "select_ms_p50": percentile(lat["select"], 50) * 1e3,
        "envelope_chunk_ms_p50": percentile(lat["envelope"], 50) * 1e3,
        "envelope_chunk_ms_p99": percentile(lat["envelope"], 99) * 1e3,
        "body_chunk_ms_p50": percentile(lat["body"], 50) * 1e3,
        "body_chunk_ms_p99": percentile(lat["body"], 99) * 1e3,
        "search_header_ms_p50": percentile(lat["search_header"], 50) * 1e3,
        "search_body_ms_p50": percentile(lat["search_body"], 50) * 1e3,
        "search_header_hits": counts.get("search_header_hits"),
        "search_body_hits": counts.get("search_body_hits"),
        "server_cpu_s": cpu, "cpu_split": split,
    }


# --- idle sessions --------------------------------------------------------

async def open_idle(port, users, n, seconds, parallel=100):
    conns = []
    errors = []
    sem = asyncio.Semaphore(parallel)
    deadline = time.monotonic() + seconds

    async def one(i):
        if time.monotonic() > deadline:
            return
        async with sem:
            try:
                c = await imapclient.ImapConn.open(port, timeout=30)
                conns.append(c)
                await asyncio.wait_for(c.login(users[i % len(users)],
                                               stack.PASSWORD), 30)
                await asyncio.wait_for(c.select("INBOX"), 60)
                await asyncio.wait_for(c.idle(), 30)
            except Exception as e:  # noqa: BLE001 - count and report
                errors.append(repr(e)[:160])

    t0 = time.monotonic()
    await asyncio.gather(*(one(i) for i in range(n)))
    return conns, errors, time.monotonic() - t0


def idle_once(system, users, n, seconds):
    roots = system.root_pids()
    procs0, rss0, pss0 = procstat.memory(roots)

    async def go():
        conns, errors, took = await open_idle(system.imap_port, users, n,
                                              seconds)
        await asyncio.sleep(2)
        procs, rss1, pss1 = procstat.memory(roots)
        for c in conns:
            c.close()
        await asyncio.sleep(0.5)
        return len(conns) - len(errors), errors, took, procs, rss1, pss1

    ok, errors, took, procs, rss1, pss1 = asyncio.run(go())
    # Let the server wind the sessions down before the next measurement.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if len(procstat.tree(roots)) <= procs0 + 2:
            break
        time.sleep(0.5)
    per = max(1, ok)
    return {"system": system.name, "requested": n, "open": ok,
            "errors": errors[:3], "error_count": len(errors),
            "open_seconds": took, "processes": procs,
            "rss_total": rss1, "pss_total": pss1,
            "rss_per_session": (rss1 - rss0) / per,
            "pss_per_session": (pss1 - pss0) / per}


# --- fsync calls per message --------------------------------------------

# syncfs counts too: Corvus flushes a batch of new blobs with one syncfs.
SYNC_EVENTS = ("syscalls:sys_enter_fsync", "syscalls:sys_enter_fdatasync",
               "syscalls:sys_enter_sync_file_range", "syscalls:sys_enter_msync",
               "syscalls:sys_enter_syncfs")


def count_fsyncs(system, counter, users, messages, conc, out_dir):
    """Sync system calls per message made by the server's processes.

    perf traces the sync syscalls machine-wide during one untimed ingest
    run; only calls from the server's process tree are counted.
    """
    data = os.path.join(out_dir, f"sync-{system.name}.data")
    cmd = ["perf", "record", "-a", "-q", "-o", data]
    for e in SYNC_EVENTS:
        cmd += ["-e", e]
    pids = set(procstat.tree(system.root_pids()))
    perf = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    stack.record_pid(system.work, perf.pid)
    time.sleep(1.0)
    r = ingest_once(system, counter, users, messages, conc)
    pids |= set(procstat.tree(system.root_pids()))
    perf.send_signal(2)
    try:
        perf.wait(30)
    except subprocess.TimeoutExpired:
        perf.kill()
    out = subprocess.run(["perf", "script", "-i", data, "-F", "comm,pid"],
                         capture_output=True, text=True, timeout=120).stdout
    try:
        os.unlink(data)
    except OSError:
        pass
    by_comm = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 2 or not parts[-1].isdigit():
            continue
        if int(parts[-1]) in pids:
            comm = " ".join(parts[:-1])
            by_comm[comm] = by_comm.get(comm, 0) + 1
    total = sum(by_comm.values())
    return {"sent": r["sent"], "syncs": total,
            "per_msg": total / max(1, r["sent"]), "by_comm": by_comm,
            "msgs_per_s": r["msgs_per_s"]}


def sync_paths(corvus, counter, users, messages, conc, out_dir):
    """Which files Corvus syncs: strace -y during one small untimed run.

    strace slows the server a lot, so only the counts are kept.  Blob
    hashes and account ids are folded so files group by role.
    """
    if subprocess.run(["which", "strace"], capture_output=True).returncode:
        return None
    out = os.path.join(out_dir, "strace.txt")
    tr = subprocess.Popen(["strace", "-f", "-y", "-qq", "-e",
                           "trace=fsync,fdatasync,sync_file_range,syncfs",
                           "-o", out, "-p", str(corvus.proc.pid)],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stack.record_pid(corvus.work, tr.pid)
    time.sleep(1.0)
    r = ingest_once(corvus, counter, users, messages, conc)
    tr.send_signal(2)
    try:
        tr.wait(30)
    except subprocess.TimeoutExpired:
        tr.kill()
    groups = {}
    import re
    with open(out, errors="replace") as f:
        for line in f:
            m = re.search(r"(\w+)\(\d+<([^>]*)>", line)
            if not m:
                continue
            path = m.group(2).replace(corvus.dir + "/", "").replace("./", "")
            path = re.sub(r"[0-9a-f]{16,}", "*", path)
            path = re.sub(r"(?<=/)[0-9a-f]{2}(?=/|$)", "??", path)
            path = re.sub(r"\d+-\d+\.tmp", "*.tmp", path)
            key = f"{m.group(1)} {path}"
            groups[key] = groups.get(key, 0) + 1
    os.unlink(out)
    sent = max(1, r["sent"])
    return {k: v / sent for k, v in sorted(groups.items(),
                                           key=lambda x: -x[1])[:12]}


# --- profile --------------------------------------------------------------

def profile_corvus(corvus, counter, users, n, out_dir):
    """perf record of one untimed Corvus ingest run; returns text."""
    if not corvus.proc or subprocess.run(["which", "perf"],
                                         capture_output=True).returncode:
        return "perf is not installed; no profile."
    data = os.path.join(out_dir, "perf.data")
    msgs = loadgen.message_set(n, 4096, users, seed=7, run_tag="profile")
    threads0 = procstat.thread_cpu(corvus.proc.pid)
    perf = subprocess.Popen(["perf", "record", "-F", "499", "-g", "-o", data,
                             "-p", str(corvus.proc.pid)],
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    stack.record_pid(corvus.work, perf.pid)
    time.sleep(0.5)
    r = ingest_once(corvus, counter, users, msgs, MAIN_CONCURRENCY)
    perf.send_signal(2)
    try:
        perf.wait(30)
    except subprocess.TimeoutExpired:
        perf.kill()
    threads1 = procstat.thread_cpu(corvus.proc.pid)
    rep = subprocess.run(["perf", "report", "-i", data, "--stdio",
                          "--no-children", "--sort", "dso,sym",
                          "--percent-limit", "1.5", "-g", "none"],
                         capture_output=True, text=True, timeout=300)
    lines = [ln for ln in rep.stdout.splitlines()
             if ln.strip() and not ln.startswith("#")][:40]
    tsplit = {k: threads1.get(k, 0) - threads0.get(k, 0) for k in threads1}
    tsplit = {k: v for k, v in sorted(tsplit.items(), key=lambda x: -x[1])
              if v > 0.005}
    try:
        os.unlink(data)
    except OSError:
        pass
    return {"run": r, "perf_top": lines, "threads": tsplit}


# --- report ---------------------------------------------------------------

def fmt(ms, digits=1):
    if ms is None:
        return "n/a"
    return f"{ms['median']:.{digits}f} ({ms['min']:.{digits}f}–" \
           f"{ms['max']:.{digits}f})"


def ratio(a, b):
    if not a or not b or not b["median"]:
        return "n/a"
    return f"{a['median'] / b['median']:.2f}×"


def plot(sweep, fsync, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    for name, color in (("corvus", "tab:blue"), ("reference", "tab:orange")):
        xs, ys, lo, hi = [], [], [], []
        for c in sorted(sweep):
            m = sweep[c][name]["msgs_per_s"]
            if m is None:
                continue
            xs.append(c)
            ys.append(m["median"])
            lo.append(m["median"] - m["min"])
            hi.append(m["max"] - m["median"])
        label = "Corvus" if name == "corvus" else "Postfix → Dovecot"
        ax.errorbar(xs, ys, yerr=[lo, hi], marker="o", capsize=4,
                    color=color, label=label)
    ax.axhline(fsync, color="grey", linestyle="--",
               label=f"disk: {fsync:.0f} fdatasync/s")
    ax.set_xscale("log")
    ax.set_xticks(sorted(sweep))
    ax.set_xticklabels([str(c) for c in sorted(sweep)])
    ax.set_xlabel("concurrent SMTP clients")
    ax.set_ylabel("messages/s delivered to mailbox (4 KiB)")
    ax.set_title("SMTP ingest to mailbox: throughput vs concurrency")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def kib(b):
    return f"{b / 1024:.1f} KiB"


def top_split(split, k=8):
    items = sorted(split.items(), key=lambda x: -x[1])[:k]
    return ", ".join(f"{n} {s:.2f}s" for n, s in items if s >= 0.01)


def write_report(R, out_dir):
    L = []
    a = L.append
    m = R["machine"]
    a("# Corvus vs Postfix + Dovecot: benchmark report\n")
    a(f"Run {R['date']} on {m['cores']} cores ({m['cpu']}), "
      f"{m['mem_gib']:.1f} GiB RAM, kernel {m['kernel']}. Mode: "
      f"**{R['mode']}**, {R['runs']} runs per scenario, systems in "
      f"alternation. Corvus {R['versions']['corvus']}, "
      f"{R['versions']['postfix']}, {R['versions']['dovecot']}.\n")
    a(f"Load average before: {m['loadavg_before']}; after: "
      f"{m['loadavg_after']}. " + (
          "**The machine had other load during this run** (load average "
          "≥ 1.0 before starting), so absolute numbers are noisy; the "
          "alternation keeps the ratios fairer than the absolutes.\n"
          if m["busy"] else "The machine was otherwise quiet.\n"))
    a("Both stacks listen on 127.0.0.1 only, on a free port range "
      f"(Corvus at {R['ports']['corvus']}+, the reference at "
      f"{R['ports']['reference']}+), with their own data folders under "
      f"`{R['work']}`. Both are running during every scenario; only one "
      "is loaded at a time.\n")
    a("## Setup and fairness\n")
    a("- **Reference**: Postfix (private instance, `postfix -c`; smtpd, "
      "cleanup, qmgr, LMTP client, `in_flow_delay = 0`) delivering over "
      "LMTP to Dovecot (private instance, `dovecot -c`; Maildir, "
      "`mail_fsync = optimized`, which fsyncs each message file before "
      "LMTP answers 250; indexes are a rebuildable cache). Mailboxes are "
      "created before timing.\n"
      "- **Corvus**: one `corvus serve` with the configuration `corvus "
      "init` writes, plus higher connection limits for the idle scenario. "
      "Its queue commit and its store commit are fsync'd (group commit) "
      "before each 250.\n"
      "- Same accounts on both, same message bytes in the same run "
      "(recipients spread: 70% one, 20% two, 10% three accounts), the "
      "same load client (`loadgen.py`, asyncio, one SMTP connection per "
      "client reused for its messages).\n"
      "- \"Delivered\" means readable in the mailbox: for Corvus a row in "
      "the account's database (what `corvus mailbox list` and IMAP show), "
      "read with SQLite read-only; for Dovecot a file in Maildir `new/` "
      "or `cur/`. Time runs from the first connection to the last "
      "message in its mailbox.\n"
      "- Server CPU is the sum of user+system time of each server's "
      "process tree (exited children counted through their parent), "
      "from /proc.\n")
    f = R["fsync"]
    a("## Durability ceiling\n")
    a(f"This disk sustains **{f['fsyncs_per_s']:.0f} fdatasync/s** "
      f"(4 KiB append + fdatasync, one thread, {R['fsync_seconds']:.0f} s; "
      f"p50 {f['p50_ms']:.2f} ms, p99 {f['p99_ms']:.2f} ms). A design "
      "with one fsync per message cannot pass this rate with one writer; "
      "group commit can.")
    fe = R.get("fsync_end")
    if fe:
        a(f"Measured again after the scenarios: {fe['fsyncs_per_s']:.0f} "
          "fdatasync/s. A large difference means the shared disk's "
          "capacity changed during the run, and sync-bound figures with "
          "it.")
    a("")

    a("## SMTP ingest to mailbox\n")
    a(f"{MAIN_CONCURRENCY} concurrent clients. Median (min–max) of "
      f"{R['runs']} runs.\n")
    a("| size | metric | Corvus | reference | Corvus/reference |")
    a("| --- | --- | --- | --- | --- |")
    for size, s in R["ingest"].items():
        c, r = s["corvus"], s["reference"]
        n = R["sizes"]["ingest_n"][int(size)]
        lab = f"{int(size) // 1024} KiB × {n}"
        for key, name, d in (("msgs_per_s", "messages/s", 1),
                             ("mb_per_s", "MB/s", 2),
                             ("accept_msgs_per_s",
                              "messages/s accepted (until the last 250)", 1),
                             ("tail_s", "s from last 250 to last in mailbox",
                              2),
                             ("accept_p50_ms", "250 after DATA, p50 ms", 1),
                             ("accept_p99_ms", "250 after DATA, p99 ms", 1),
                             ("cpu_ms_per_msg", "server CPU ms/message", 2)):
            a(f"| {lab} | {name} | {fmt(c[key], d)} | {fmt(r[key], d)} | "
              f"{ratio(c[key], r[key])} |")
        fr_c = c["msgs_per_s"]["median"] / f["fsyncs_per_s"]
        fr_r = r["msgs_per_s"]["median"] / f["fsyncs_per_s"]
        a(f"| {lab} | messages/s ÷ fsync/s | {fr_c:.2f} | {fr_r:.2f} | |")
        if not (c["all_delivered"] and r["all_delivered"]):
            a(f"| {lab} | every message delivered? | "
              f"{c['all_delivered']} | {r['all_delivered']} | |")
    a("")
    a("Where the server CPU went (median 4 KiB run, seconds, by process "
      "name):\n")
    s4 = R["ingest"][str(4096)] if str(4096) in R["ingest"] \
        else R["ingest"][4096]
    a(f"- Corvus: {top_split(s4['corvus']['cpu_split'])}")
    a(f"- reference: {top_split(s4['reference']['cpu_split'])}\n")

    a("### Where ingest time goes\n")
    a("The same 4 KiB messages sent over LMTP straight to the mailbox "
      "server (Corvus's LMTP listener, Dovecot's LMTP), skipping SMTP and "
      "the queue, with the same 20 connections:\n")
    a("| metric | Corvus | reference | Corvus/reference |")
    a("| --- | --- | --- | --- |")
    lm = R["lmtp"]
    for key, name, d in (("msgs_per_s", "LMTP messages/s into mailboxes", 1),
                         ("accept_p50_ms", "LMTP reply after DATA, p50 ms",
                          1),
                         ("accept_p99_ms", "LMTP reply after DATA, p99 ms",
                          1),
                         ("cpu_ms_per_msg", "server CPU ms/message", 2)):
        a(f"| {name} | {fmt(lm['corvus'][key], d)} | "
          f"{fmt(lm['reference'][key], d)} | "
          f"{ratio(lm['corvus'][key], lm['reference'][key])} |")
    c_smtp = s4["corvus"]["msgs_per_s"]["median"]
    r_smtp = s4["reference"]["msgs_per_s"]["median"]
    a(f"| SMTP-to-mailbox rate as a share of the LMTP rate | "
      f"{c_smtp / lm['corvus']['msgs_per_s']['median']:.0%} | "
      f"{r_smtp / lm['reference']['msgs_per_s']['median']:.0%} | |")
    a("")
    sy = R.get("syncs")
    if sy:
        a("Sync system calls (fsync, fdatasync, syncfs, sync_file_range, "
          "msync) "
          "made by each server's processes during one untimed 4 KiB SMTP "
          f"ingest run of {R['sizes']['profile_n']} messages, traced with "
          "`perf` syscall tracepoints:\n")
        a("| system | syncs per message | by process |")
        a("| --- | --- | --- |")
        for name, v in sy.items():
            split = ", ".join(f"{k} {c}" for k, c in
                              sorted(v["by_comm"].items(),
                                     key=lambda x: -x[1]))
            a(f"| {name} | {v['per_msg']:.2f} | {split} |")
        a("")
    sp = R.get("sync_paths")
    if sp:
        a("Which files Corvus syncs, per message (`strace -f -y` on a "
          "smaller untimed run; hashes and ids folded to `*`):\n")
        a("| call and file | per message |")
        a("| --- | --- |")
        for k, v in sp.items():
            a(f"| `{k}` | {v:.2f} |")
        a("")

    a("## Throughput against concurrency (4 KiB)\n")
    a("![throughput vs concurrency](throughput_vs_concurrency.png)\n")
    a("| clients | messages | Corvus msg/s | reference msg/s | ratio | "
      "Corvus CPU ms/msg | reference CPU ms/msg |")
    a("| --- | --- | --- | --- | --- | --- | --- |")
    for cc in sorted(R["sweep"], key=int):
        s = R["sweep"][cc]
        a(f"| {cc} | {R['sizes']['sweep_n'][int(cc)]} | "
          f"{fmt(s['corvus']['msgs_per_s'])} | "
          f"{fmt(s['reference']['msgs_per_s'])} | "
          f"{ratio(s['corvus']['msgs_per_s'], s['reference']['msgs_per_s'])}"
          f" | {fmt(s['corvus']['cpu_ms_per_msg'], 2)} | "
          f"{fmt(s['reference']['cpu_ms_per_msg'], 2)} |")
    a("")

    a("## IMAP read\n")
    ir = R["imap_read"]
    if ir.get("skipped"):
        a(f"{ir['skipped']}\n")
    if ir.get("reference") or ir.get("corvus"):
        a(f"{R['sizes']['readers']} parallel sessions each SELECT a "
          f"{R['sizes']['reader_n']}-message INBOX (4 KiB messages, "
          "delivered over LMTP before timing, one untimed warm-up session "
          "first), FETCH 1:* (FLAGS ENVELOPE) in chunks of 1000, then "
          "BODY.PEEK[] in chunks of 250, then UID SEARCH HEADER Subject and "
          "UID SEARCH BODY. Phases are synchronised across sessions.\n")
        a("| metric | Corvus | reference | Corvus/reference |")
        a("| --- | --- | --- | --- |")
        for key, name, d in (
                ("envelope_msgs_per_s", "FLAGS+ENVELOPE messages/s", 0),
                ("body_msgs_per_s", "full body messages/s", 0),
                ("body_mb_per_s", "full body MB/s", 1),
                ("select_ms_p50", "SELECT ms, p50", 1),
                ("envelope_chunk_ms_p50", "FETCH 1000 envelopes ms, p50", 1),
                ("envelope_chunk_ms_p99", "FETCH 1000 envelopes ms, p99", 1),
                ("body_chunk_ms_p50", "FETCH 250 bodies ms, p50", 1),
                ("body_chunk_ms_p99", "FETCH 250 bodies ms, p99", 1),
                ("search_header_ms_p50", "UID SEARCH HEADER ms, p50", 1),
                ("search_body_ms_p50", "UID SEARCH BODY ms, p50", 1),
                ("server_cpu_s", "server CPU s per run", 2)):
            c = ir.get("corvus", {}).get(key)
            r = ir.get("reference", {}).get(key)
            a(f"| {name} | {fmt(c, d)} | {fmt(r, d)} | {ratio(c, r)} |")
        a("")
        hits = ir.get("hits", {})
        if hits:
            a(f"Search hits (must agree): {hits}\n")
    a("## Idle IMAP sessions\n")
    idle = R["idle"]
    if idle.get("skipped"):
        a(f"{idle['skipped']}\n")
    if idle.get("rows"):
        a("Sessions LOGIN, SELECT INBOX and IDLE; memory is the sum over "
          "all server processes, after minus before, divided by the open "
          "sessions. RSS counts shared pages once per process (Dovecot "
          "runs one process per session); PSS splits them fairly.\n")
        a("| system | sessions asked | open | processes | RSS total | "
          "RSS/session | PSS/session | time to open |")
        a("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for row in idle["rows"]:
            if row.get("skipped"):
                a(f"| {row['system']} | {row['requested']} | skipped: "
                  f"{row['skipped']} | | | | | |")
                continue
            a(f"| {row['system']} | {row['requested']} | {row['open']} | "
              f"{row['processes']} | {row['rss_total'] / 2**20:.0f} MiB | "
              f"{kib(row['rss_per_session'])} | "
              f"{kib(row['pss_per_session'])} | "
              f"{row['open_seconds']:.1f} s |")
        a("")
        errs = [r for r in idle["rows"] if r.get("error_count")]
        for r in errs:
            a(f"- {r['system']} {r['requested']}: {r['error_count']} "
              f"sessions failed, e.g. {r['errors'][:1]}")
        if errs:
            a("")

    a("## Targets\n")
    a("| target | result | met? |")
    a("| --- | --- | --- |")
    for t in R["targets"]:
        a(f"| {t['target']} | {t['result']} | {t['met']} |")
    a("")
    a("## Where the time goes (Corvus)\n")
    p = R.get("profile")
    if isinstance(p, dict):
        a(f"One extra, untimed 4 KiB ingest run ({R['sizes']['profile_n']} "
          f"messages, {MAIN_CONCURRENCY} clients) under `perf record -g` "
          f"({p['run']['msgs_per_s']:.0f} msg/s with the profiler "
          "attached). CPU seconds per Corvus thread during that run: "
          f"{top_split(p['threads'], 10)}.\n")
        a("Hottest symbols (self time, ≥ 1.5%):\n")
        a("```")
        L.extend(p["perf_top"])
        a("```\n")
    else:
        a(f"{p}\n")
    a("## Closing note\n")
    L.extend(R["closing"])
    a("")
    with open(os.path.join(out_dir, "REPORT.md"), "w") as fh:
        fh.write("\n".join(L))


def closing_note(R):
    out = []
    s4 = R["ingest"]["4096"]
    c = s4["corvus"]
    r = s4["reference"]
    rat = c["msgs_per_s"]["median"] / r["msgs_per_s"]["median"]
    cpu_rat = c["cpu_ms_per_msg"]["median"] / r["cpu_ms_per_msg"]["median"]
    f = R["fsync"]["fsyncs_per_s"]
    out.append(
        f"- Ingest, 4 KiB, {MAIN_CONCURRENCY} clients: Corvus "
        f"{c['msgs_per_s']['median']:.0f} msg/s vs reference "
        f"{r['msgs_per_s']['median']:.0f} msg/s = {rat:.2f}× "
        f"(target 3×: {'met' if rat >= 3 else 'NOT met'}). Corvus uses "
        f"{c['cpu_ms_per_msg']['median']:.2f} ms of server CPU per message, "
        f"the reference {r['cpu_ms_per_msg']['median']:.2f} ms "
        f"({cpu_rat:.2f}×). The disk allows {f:.0f} fdatasync/s.")
    if rat < 3:
        busy_c = c["cpu_ms_per_msg"]["median"] * c["msgs_per_s"]["median"] \
            / 1000
        out.append(
            f"- Corvus is behind the 3× target. At its measured rate it keeps "
            f"{busy_c:.2f} of {R['machine']['cores']} cores busy; "
            + ("it is CPU-bound, so the profile above is where the time "
               "goes." if busy_c > 0.8 * R["machine"]["cores"] else
               "it is not CPU-bound, so the time goes to waiting (fsync "
               "and the queue → LMTP → store hand-offs); the 250-after-DATA "
               "latency and the thread split above show which.")
            + " The load client shares the same cores.")
        lm = R["lmtp"]["corvus"]["msgs_per_s"]["median"]
        acc = c["accept_msgs_per_s"]["median"]
        out.append(
            f"- Split of Corvus's path: it accepts (250 after DATA, queue "
            f"fsync'd) at {acc:.0f} msg/s, its mailbox server takes LMTP "
            f"deliveries at {lm:.0f} msg/s, yet end to end it reaches "
            f"{c['msgs_per_s']['median']:.0f} msg/s, with "
            f"{c['tail_s']['median']:.1f} s between the last 250 and the "
            "last message in its mailbox. "
            + ("The bottleneck is therefore the queue → delivery agent → "
               "LMTP hand-off, not SMTP or the store."
               if lm > 1.5 * c["msgs_per_s"]["median"] and
               acc > 1.5 * c["msgs_per_s"]["median"] else
               "The slowest of these stages bounds the whole."))
        sy = R.get("syncs") or {}
        if "corvus" in sy and "reference" in sy:
            out.append(
                f"- Sync calls per message: Corvus "
                f"{sy['corvus']['per_msg']:.2f}, reference "
                f"{sy['reference']['per_msg']:.2f}; with {f:.0f} fdatasync/s "
                "available, a path that syncs once per message per stage "
                "without batching is held near that rate divided by its "
                "syncs per message.")
    ir = R["imap_read"]
    if ir.get("corvus") and ir.get("reference"):
        q = imap_ratios(ir)
        out.append(f"- IMAP read: full bodies {q['bodies']:.2f}× the "
                   f"reference's rate; header search {q['search_header']:.2f}× "
                   f"and body search {q['search_body']:.2f}× its time; "
                   f"{q['cpu']:.2f}× its server CPU.")
    else:
        out.append("- IMAP read and idle sessions: not measured for Corvus "
                   "in this run (no IMAP listener), so those targets are "
                   "open.")
    return out


def imap_ratios(ir):
    """Corvus over the reference for the IMAP read figures: rates for
    bodies and envelopes, times for the searches, server CPU."""
    def q(key):
        c = ir["corvus"][key]["median"]
        r = ir["reference"][key]["median"]
        return c / r if r else 0.0
    return {"bodies": q("body_msgs_per_s"),
            "envelopes": q("envelope_msgs_per_s"),
            "search_header": q("search_header_ms_p50"),
            "search_body": q("search_body_ms_p50"),
            "cpu": q("server_cpu_s")}


def targets(R):
    t = []
    s4 = R["ingest"]["4096"]
    rat = s4["corvus"]["msgs_per_s"]["median"] / \
        s4["reference"]["msgs_per_s"]["median"]
    t.append({"target": "ingest ≥ 3× reference messages/s (4 KiB, "
              f"{MAIN_CONCURRENCY} clients, equal durability)",
              "result": f"{rat:.2f}×", "met": "yes" if rat >= 3 else "**no**"})
    ir = R["imap_read"]
    if ir.get("corvus") and ir.get("reference"):
        q = imap_ratios(ir)
        # Searches count as reads too: Corvus's time over the reference's.
        met = (q["bodies"] >= 1 and q["envelopes"] >= 1 and
               q["search_header"] <= 1 and q["search_body"] <= 1 and
               q["cpu"] < 1)
        t.append({"target": "IMAP reads at least as fast, less server CPU",
                  "result": f"bodies {q['bodies']:.2f}×, envelopes "
                  f"{q['envelopes']:.2f}× the rate; header search "
                  f"{q['search_header']:.2f}×, body search "
                  f"{q['search_body']:.2f}× the time; CPU {q['cpu']:.2f}×",
                  "met": "yes" if met else "**no**"})
    else:
        t.append({"target": "IMAP reads at least as fast, less server CPU",
                  "result": "not measured (Corvus has no IMAP listener)",
                  "met": "unknown"})
    rows = [r for r in R["idle"].get("rows", [])
            if r["system"] == "corvus" and not r.get("skipped")]
    if rows:
        worst = max(r["rss_per_session"] for r in rows)
        t.append({"target": "idle IMAP session < 32 KiB (RSS)",
                  "result": f"{kib(worst)} (worst of "
                  f"{', '.join(str(r['requested']) for r in rows)})",
                  "met": "yes" if worst < 32 * 1024 else "**no**"})
    else:
        t.append({"target": "idle IMAP session < 32 KiB",
                  "result": "not measured (Corvus has no IMAP listener)",
                  "met": "unknown"})
    return t


def update_readme(R):
    path = os.path.join(HERE, "README.md")
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return
    begin, end = "<!-- latest:begin -->", "<!-- latest:end -->"
    if begin not in text or end not in text:
        return
    L = [begin, "",
         f"Latest run: {R['date']}, {R['machine']['cores']} cores "
         f"({R['machine']['cpu']}), mode {R['mode']}, {R['runs']} runs"
         + (", **machine shared with other load**" if R["machine"]["busy"]
            else "") + ". Full report: "
         "[results/REPORT.md](results/REPORT.md).", ""]
    L.append("| scenario | Corvus | reference | ratio |")
    L.append("| --- | --- | --- | --- |")
    for size, s in R["ingest"].items():
        c, r = s["corvus"]["msgs_per_s"], s["reference"]["msgs_per_s"]
        L.append(f"| ingest {int(size) // 1024} KiB, {MAIN_CONCURRENCY} "
                 f"clients, msg/s | {fmt(c)} | {fmt(r)} | {ratio(c, r)} |")
    ir = R["imap_read"]
    for key, name in (("envelope_msgs_per_s", "IMAP FETCH envelope, msg/s"),
                      ("body_msgs_per_s", "IMAP FETCH body, msg/s")):
        c = ir.get("corvus", {}).get(key)
        r = ir.get("reference", {}).get(key)
        L.append(f"| {name} | {fmt(c, 0)} | {fmt(r, 0)} | {ratio(c, r)} |")
    for row in R["idle"].get("rows", []):
        if row.get("skipped"):
            continue
        L.append(f"| idle IMAP, {row['requested']} sessions, "
                 f"{row['system']} | RSS {kib(row['rss_per_session'])}/"
                 f"session | PSS {kib(row['pss_per_session'])}/session | |")
    L.append(f"| disk fdatasync/s | {R['fsync']['fsyncs_per_s']:.0f} | | |")
    L.append("")
    L.append("| target | result | met? |")
    L.append("| --- | --- | --- |")
    for t in R["targets"]:
        L.append(f"| {t['target']} | {t['result']} | {t['met']} |")
    L.extend(["", "![throughput vs concurrency]"
              "(results/throughput_vs_concurrency.png)", "", end])
    pre = text[:text.index(begin)]
    post = text[text.index(end) + len(end):]
    with open(path, "w") as f:
        f.write(pre + "\n".join(L) + post)


# --- main -----------------------------------------------------------------

def machine_info(load_before, busy):
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    with open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1]) / 2**20
    return {"cores": os.cpu_count(), "cpu": cpu, "mem_gib": mem,
            "kernel": platform.release(), "loadavg_before": load_before,
            "busy": busy}


def versions(corvus_bin):
    def out(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True,
                                  timeout=30).stdout.strip()
        except OSError:
            return "?"
    rev = out(["git", "-C", HERE, "rev-parse", "--short", "HEAD"]) or "?"
    pf = out(["postconf", "-d", "-h", "mail_version"])
    dv = out(["dovecot", "--version"]).split(" ")[0]
    return {"corvus": f"at commit {rev}", "postfix": f"Postfix {pf}",
            "dovecot": f"Dovecot {dv}"}


def mem_available():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--work", required=True)
    ap.add_argument("--corvus-bin", required=True)
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    ap.add_argument("--loadavg-before", default="")
    ap.add_argument("--busy", action="store_true")
    args = ap.parse_args()
    mode = "quick" if args.quick else "default"
    Z = SIZES[mode]
    runs = max(1, args.runs)
    os.makedirs(args.out, exist_ok=True)
    started = time.monotonic()

    users = stack.accounts(Z["users"])
    reader = f"reader@{stack.DOMAIN}"
    all_users = users + [reader]
    max_sessions = max(Z["idle"]) + 500
    base_c = stack.pick_port_base([24, 25, 143, 587, 465, 993, 110, 995,
                                   80, 71], start=36000)
    base_r = stack.pick_port_base([24, 25, 143], start=base_c + 1000)
    corvus = stack.Corvus(args.work, args.corvus_bin, base_c, all_users,
                          max_sessions)
    ref = stack.Reference(args.work, base_r, all_users, max_sessions)
    systems = [corvus, ref]
    R = {"date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
         "mode": mode, "runs": runs, "sizes": Z, "work": args.work,
         "ports": {"corvus": base_c, "reference": base_r},
         "machine": machine_info(args.loadavg_before, args.busy),
         "versions": versions(args.corvus_bin),
         "fsync_seconds": Z["fsync_seconds"]}

    log(f"durability ceiling ({Z['fsync_seconds']} s)")
    R["fsync"] = fsync_ceiling(args.work, Z["fsync_seconds"])
    log(f"  {R['fsync']['fsyncs_per_s']:.0f} fdatasync/s")

    log(f"setting up Corvus (ports {base_c}+) and the reference "
        f"(ports {base_r}+) with {len(all_users)} accounts")
    for s in systems:
        s.setup()
    try:
        for s in systems:
            s.start()
        counters = {s.name: Counter(s) for s in systems}

        R["ingest"] = {}
        raw = {}
        for size, n in Z["ingest_n"].items():
            log(f"ingest {size // 1024} KiB × {n}, {MAIN_CONCURRENCY} clients")
            res = run_ingest(systems, counters, users, size,
                             MAIN_CONCURRENCY, n, runs, f"ingest{size}")
            raw[f"ingest{size}"] = res
            R["ingest"][str(size)] = summarize_ingest(res)

        R["sweep"] = {}
        for conc, n in Z["sweep_n"].items():
            if conc == MAIN_CONCURRENCY and n == Z["ingest_n"][4096]:
                R["sweep"][str(conc)] = R["ingest"]["4096"]
                continue
            log(f"ingest sweep: {conc} clients × {n} messages of 4 KiB")
            res = run_ingest(systems, counters, users, 4096, conc, n, runs,
                             f"sweep{conc}")
            raw[f"sweep{conc}"] = res
            R["sweep"][str(conc)] = summarize_ingest(res)
        plot({int(k): v for k, v in R["sweep"].items()},
             R["fsync"]["fsyncs_per_s"],
             os.path.join(args.out, "throughput_vs_concurrency.png"))

        n = Z["ingest_n"][4096]
        log(f"LMTP straight to the mailbox store: {n} × 4 KiB, "
            f"{MAIN_CONCURRENCY} connections")
        res = run_ingest(systems, counters, users, 4096, MAIN_CONCURRENCY,
                         n, runs, "lmtp", lmtp=True)
        raw["lmtp"] = res
        R["lmtp"] = summarize_ingest(res)

        R["syncs"] = {}
        if subprocess.run(["which", "perf"], capture_output=True).returncode:
            R["syncs"] = None
        else:
            msgs = loadgen.message_set(Z["profile_n"], 4096, users, seed=5,
                                       run_tag="syncs")
            for s in systems:
                log(f"counting sync calls per message on {s.name}")
                try:
                    R["syncs"][s.name] = count_fsyncs(
                        s, counters[s.name], users, msgs, MAIN_CONCURRENCY,
                        args.out)
                    log(f"  {R['syncs'][s.name]['per_msg']:.2f} per message")
                except Exception as e:  # noqa: BLE001 - diagnostic only
                    log(f"  failed: {e!r}")
            try:
                R["sync_paths"] = sync_paths(corvus, counters["corvus"], users,
                                             msgs[:max(20, len(msgs) // 4)],
                                             MAIN_CONCURRENCY, args.out)
            except Exception as e:  # noqa: BLE001 - diagnostic only
                log(f"  strace of Corvus failed: {e!r}")

        # IMAP read
        R["imap_read"] = {}
        imap_systems = [s for s in systems if s.has_imap()]
        missing = [s.name for s in systems if s not in imap_systems]
        if missing:
            R["imap_read"]["skipped"] = (
                "skipped for " + ", ".join(missing) + ": no IMAP listener "
                "answered on its port.")
            log("IMAP " + R["imap_read"]["skipped"])
        if imap_systems:
            log(f"populating {reader} with {Z['reader_n']} messages over "
                "LMTP")
            msgs = loadgen.message_set(Z["reader_n"], 4096, [reader], seed=11,
                                       run_tag="reader")
            for s in imap_systems:
                t = time.monotonic()
                st = asyncio.run(loadgen.send_all(s.lmtp_port, msgs, 10,
                                                  lmtp=True))
                ok = wait_delivered(counters[s.name],
                                    {reader: Z["reader_n"]}, 300)
                log(f"  {s.name}: {st['sent']} via LMTP in "
                    f"{time.monotonic() - t:.1f} s"
                    + ("" if ok else f" NOT ALL DELIVERED {st['errors']}"))
            rr = {s.name: [] for s in imap_systems}
            for s in imap_systems:
                asyncio.run(read_run(s.imap_port, reader, Z["reader_n"], 1))
            for i in range(runs):
                order = imap_systems if i % 2 == 0 \
                    else list(reversed(imap_systems))
                for s in order:
                    r = imap_read_once(s, reader, Z["reader_n"], Z["readers"])
                    log(f"  read run {i + 1}/{runs} {s.name}: envelopes "
                        f"{r['envelope_msgs_per_s'] or 0:.0f} msg/s, bodies "
                        f"{r['body_msgs_per_s'] or 0:.0f} msg/s, server CPU "
                        f"{r['server_cpu_s']:.2f} s")
                    rr[s.name].append(r)
            raw["imap_read"] = rr
            hits = {}
            for name, rs in rr.items():
                R["imap_read"][name] = {
                    k: median_spread([r[k] for r in rs
                                      if isinstance(r[k], (int, float))])
                    for k in rs[0] if k not in ("system", "cpu_split")}
                hits[name] = (rs[0]["search_header_hits"],
                              rs[0]["search_body_hits"])
            R["imap_read"]["hits"] = hits

        # Idle sessions
        R["idle"] = {"rows": []}
        if missing:
            R["idle"]["skipped"] = R["imap_read"]["skipped"]
        for n in Z["idle"]:
            for s in imap_systems:
                need = n * (1.5 * 2**20 if s.name == "reference" else 64e3)
                if need > mem_available() - 4 * 2**30:
                    R["idle"]["rows"].append(
                        {"system": s.name, "requested": n,
                         "skipped": "not enough free memory for "
                         f"{n} sessions ({need / 2**30:.1f} GiB estimated)"})
                    log(f"idle {n} {s.name}: skipped (memory)")
                    continue
                log(f"idle: {n} IMAP sessions in IDLE on {s.name}")
                r = idle_once(s, all_users[:-1], n, seconds=240)
                log(f"  {r['open']} open, RSS {kib(r['rss_per_session'])}"
                    f"/session, PSS {kib(r['pss_per_session'])}/session, "
                    f"{r['error_count']} errors")
                R["idle"]["rows"].append(r)

        log("profiling one Corvus ingest run with perf")
        try:
            R["profile"] = profile_corvus(corvus, counters["corvus"], users,
                                          Z["profile_n"], args.out)
        except Exception as e:  # noqa: BLE001 - the profile is optional
            R["profile"] = f"profile failed: {e!r}"
        for c in counters.values():
            c.close()
    finally:
        for s in systems:
            s.stop()

    # The disk is shared: measure again so a change during the run shows.
    R["fsync_end"] = fsync_ceiling(args.work, Z["fsync_seconds"])
    with open("/proc/loadavg") as f:
        R["machine"]["loadavg_after"] = " ".join(f.read().split()[:3])
    R["targets"] = targets(R)
    R["closing"] = closing_note(R)
    R["elapsed_s"] = time.monotonic() - started
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump({"summary": R, "raw": raw}, f, indent=1, default=str)
    write_report(R, args.out)
    update_readme(R)
    log(f"done in {R['elapsed_s']:.0f} s: {args.out}/REPORT.md")


if __name__ == "__main__":
    sys.exit(main())
