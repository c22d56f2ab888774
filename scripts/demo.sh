#!/usr/bin/env bash
# Runs Corvus as a single node on loopback, in the foreground.
#
# Installs what is missing, builds, initialises a data folder (./demo by
# default), provisions the domain example.test with demo accounts, then
# starts `corvus serve` and prints how to connect. Re-running reuses the
# folder and its accounts.
#   CORVUS_DEMO_DIR=/path   data folder (default: <repo>/demo)
#   CORVUS_PORT_BASE=N      ports are N + the standard port (default 10000)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${CORVUS_DEMO_DIR:-$root/demo}"
base="${CORVUS_PORT_BASE:-10000}"
password="demo-password"

"$root/scripts/setup-debian.sh"
build="$("$root/scripts/build.sh" corvus | tail -n 1)"
corvus="$build/src/cli/corvus"
config="$dir/corvus.toml"

if [ ! -f "$config" ]; then
  "$corvus" init --dir "$dir" --port-base "$base"
  "$corvus" --config "$config" domain create example.test
  for user in alice bob carol; do
    echo "$password" | "$corvus" --config "$config" account create \
      "$user@example.test" --name "${user^}" --password-stdin
  done
  "$corvus" --config "$config" alias create postmaster@example.test \
    alice@example.test
  "$corvus" --config "$config" list create team@example.test \
    --member alice@example.test --member bob@example.test
fi

smtp=$(sed -n 's/^smtp = "\(.*\)"/\1/p' "$config")
imap=$(sed -n 's/^imap = "\(.*\)"/\1/p' "$config")

# Serve in the background of this script, so that the corpus can be sent
# once the node is up; Ctrl-C or SIGTERM reaches the server.
"$corvus" --config "$config" serve &
server=$!
trap 'kill -TERM "$server" 2>/dev/null; wait "$server"' INT TERM
for _ in $(seq 1 100); do
  if (exec 3<>"/dev/tcp/${smtp%:*}/${smtp##*:}") 2>/dev/null; then break; fi
  if ! kill -0 "$server" 2>/dev/null; then
    echo "corvus serve failed to start" >&2
    exit 1
  fi
  sleep 0.1
done

# First run: fill bob's mailbox with real public mail (Python's email test
# messages, from libpython3.11-testsuite).
corpus=/usr/lib/python3.11/test/test_email/data
if [ ! -f "$dir/.corpus-sent" ] && ls "$corpus"/msg_*.txt >/dev/null 2>&1; then
  python3 "$root/scripts/send-corpus.py" "$smtp" bob@example.test \
    "$corpus"/msg_*.txt && touch "$dir/.corpus-sent"
fi
corpus_line="  bob's INBOX: no corpus sent (send-corpus.py failed or no corpus)"
if [ -f "$dir/.corpus-sent" ]; then
  corpus_line="  bob's INBOX holds Python's public email test corpus."
fi
port() { sed -n "s/^$1 = \"\(.*\)\"/\1/p" "$config"; }

cat <<MSG

Corvus demo node
  data folder:  $dir
  config:       $config
  accounts:     alice@example.test, bob@example.test, carol@example.test
  password:     $password
  alias:        postmaster@example.test -> alice
  list:         team@example.test -> alice, bob
  SMTP:         $smtp    submission: $(port submission) (STARTTLS), $(port submissions) (TLS)
  IMAP:         $imap    IMAPS: $(port imaps)
  POP3:         $(port pop3)    POP3S: $(port pop3s)
$corpus_line

Send a message:
  swaks --server ${smtp%:*} --port ${smtp##*:} \\
        --from carol@example.test --to alice@example.test
Read it with any IMAP client (host ${imap%:*}, port ${imap##*:}, user
alice@example.test, password $password), for example:
  curl -s --url "imap://${imap}/INBOX;UID=1" \\
       --user alice@example.test:$password
Administer:
  $corvus --config $config account list
  $corvus --config $config mailbox list bob@example.test

Serving in the foreground; Ctrl-C stops.
MSG
wait "$server"
