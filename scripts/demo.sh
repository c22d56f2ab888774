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
build="$("$root/scripts/build.sh" | tail -n 1)"
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
cat <<MSG

Corvus demo node
  data folder:  $dir
  config:       $config
  accounts:     alice@example.test, bob@example.test, carol@example.test
  password:     $password
  alias:        postmaster@example.test -> alice
  list:         team@example.test -> alice, bob
  SMTP:         $smtp    IMAP: $imap

Send a message:
  swaks --server ${smtp%:*} --port ${smtp##*:} \\
        --from carol@example.test --to alice@example.test
Administer:
  $corvus --config $config account list

Serving in the foreground; Ctrl-C stops.
MSG
exec "$corvus" --config "$config" serve
