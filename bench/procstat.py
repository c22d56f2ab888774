"""CPU time and memory of a server's process tree, read from /proc.

A server is named by its root PIDs (corvus serve; Postfix master and
Dovecot master); every live descendant counts.  CPU of children that
already exited is found in their parent's cutime/cstime once reaped, so
the tree sum over live processes of utime+stime+cutime+cstime counts
each CPU second once.

Stateless functions; safe to call from any thread.
"""

import os

TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return None
    # comm may contain spaces and parentheses: split at the last ')'.
    lpar = data.index("(")
    rpar = data.rindex(")")
    comm = data[lpar + 1:rpar]
    rest = data[rpar + 2:].split()
    ppid = int(rest[1])
    ut, st, cut, cst = (int(x) for x in rest[11:15])
    return comm, ppid, ut, st, cut, cst


def tree(roots):
    """PIDs of roots and all their live descendants."""
    children = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        s = _stat(int(name))
        if s is not None:
            children.setdefault(s[1], []).append(int(name))
    out = []
    todo = [r for r in roots if os.path.exists(f"/proc/{r}")]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def cpu_snapshot(roots):
    """{pid: (comm, own_seconds, reaped_children_seconds)} for the tree."""
    snap = {}
    for pid in tree(roots):
        s = _stat(pid)
        if s is None:
            continue
        comm, _, ut, st, cut, cst = s
        snap[pid] = (comm, (ut + st) / TICK, (cut + cst) / TICK)
    return snap


def cpu_delta(before, after):
    """(total_seconds, {label: seconds}) spent between two snapshots."""
    split = {}
    total = 0.0
    for pid, (comm, own, reaped) in after.items():
        b_own, b_reaped = 0.0, 0.0
        if pid in before:
            b_own, b_reaped = before[pid][1], before[pid][2]
        d_own = max(0.0, own - b_own)
        d_reaped = max(0.0, reaped - b_reaped)
        split[comm] = split.get(comm, 0.0) + d_own
        if d_reaped > 0:
            key = f"{comm} (exited children)"
            split[key] = split.get(key, 0.0) + d_reaped
        total += d_own + d_reaped
    return total, split


def thread_cpu(pid):
    """{thread name: seconds} for the threads of one process."""
    out = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                data = f.read()
        except OSError:
            continue
        rpar = data.rindex(")")
        comm = data[data.index("(") + 1:rpar]
        rest = data[rpar + 2:].split()
        out[comm] = out.get(comm, 0.0) + (int(rest[11]) + int(rest[12])) / TICK
    return out


def memory(roots):
    """(processes, rss_bytes, pss_bytes) summed over the tree."""
    n = rss = pss = 0
    for pid in tree(roots):
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1]) * 1024
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1]) * 1024
            n += 1
        except OSError:
            continue
    return n, rss, pss
