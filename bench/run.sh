#!/usr/bin/env bash
# Corvus benchmark, one command: Corvus against Postfix -> LMTP -> Dovecot.
#
#   bench/run.sh            default sizes (under 15 minutes on 2 cores)
#   bench/run.sh --quick    tiny sizes (about 2 minutes)
#   bench/run.sh --runs 5   more runs per scenario (default 3)
#
# Environment: CORVUS_BIN=path uses that binary instead of building;
# BENCH_WORK=dir puts the servers' data there (default /var/tmp/corvus-bench);
# BENCH_WAIT_IDLE=0 skips waiting for the load average to drop.
#
# Installs what is missing with apt-get, runs private instances on
# 127.0.0.1 only (never the system Postfix or Dovecot, their configs or
# their ports), and stops every process it started, by PID, on any exit.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"

quick=()
runs=3
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=(--quick) ;;
    --runs) runs="$2"; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "usage: $0 [--quick] [--runs N]" >&2; exit 2 ;;
  esac
  shift
done

if [ "$(id -u)" != 0 ]; then
  echo "bench/run.sh: run as root (it installs packages, starts private" \
       "Postfix/Dovecot instances and creates their mail user)" >&2
  exit 1
fi

# --- packages ---------------------------------------------------------------
need=()
command -v postfix >/dev/null || need+=(postfix)
command -v dovecot >/dev/null || need+=(dovecot-core)
[ -x /usr/lib/dovecot/imap ] || need+=(dovecot-imapd)
[ -x /usr/lib/dovecot/lmtp ] || need+=(dovecot-lmtpd)
/usr/bin/python3 -c 'import matplotlib' 2>/dev/null || need+=(python3-matplotlib)
command -v perf >/dev/null || need+=(linux-perf)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}" >&2
  # "No configuration" keeps the package from setting up (or starting) a
  # system Postfix; only the private instance below ever runs.
  echo "postfix postfix/main_mailer_type select No configuration" \
    | debconf-set-selections
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    --no-install-recommends "${need[@]}" >&2
fi

# --- Corvus binary -----------------------------------------------------------
if [ -n "${CORVUS_BIN:-}" ]; then
  bin="$CORVUS_BIN"
else
  build="$("$root/scripts/build.sh" | tail -n 1)"
  bin="$build/src/cli/corvus"
fi
[ -x "$bin" ] || { echo "no corvus binary at $bin" >&2; exit 1; }

# --- limits, work folder, cleanup ------------------------------------------
# 10,000 idle sessions need 10,000+ descriptors in the client and server.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 12000 ]; then
  echo "warning: only $(ulimit -n) file descriptors; large idle runs" \
       "will open fewer sessions" >&2
fi

work="${BENCH_WORK:-/var/tmp/corvus-bench}"
mkdir -p "$work"
chmod 755 "$work"
: > "$work/pids"

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -f "$work/pids" ]; then
    # Newest first: the profiler before the servers it watches.
    for pid in $(tac "$work/pids"); do
      kill -TERM "$pid" 2>/dev/null || true
    done
    for _ in $(seq 1 100); do
      alive=0
      for pid in $(cat "$work/pids"); do
        kill -0 "$pid" 2>/dev/null && alive=1
      done
      [ "$alive" = 0 ] && break
      sleep 0.1
    done
    for pid in $(cat "$work/pids"); do
      kill -KILL "$pid" 2>/dev/null || true
    done
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- quiet machine ----------------------------------------------------------
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
busy=()
if [ "${BENCH_WAIT_IDLE:-1}" != 0 ] && [ ${#quick[@]} -eq 0 ]; then
  for _ in $(seq 1 60); do
    awk '{exit !($1 < 1.0)}' /proc/loadavg && break
    echo "load average $(cut -d' ' -f1 /proc/loadavg) >= 1.0;" \
         "waiting (at most 10 minutes in all)" >&2
    sleep 10
  done
  load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
fi
awk '{exit !($1 >= 1.0)}' /proc/loadavg && busy=(--busy)

cd "$here"
/usr/bin/python3 "$here/bench.py" "${quick[@]}" --runs "$runs" \
  --work "$work" --corvus-bin "$bin" --loadavg-before "$load_before" \
  "${busy[@]}"
