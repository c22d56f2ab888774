#!/usr/bin/env bash
# Installs every Debian 12 package Corvus needs to build, run and test.
# Packages already present are skipped, so this is safe to re-run; it asks
# apt only when something is missing.
set -euo pipefail

packages=(
  # Toolchain.
  g++ cmake ninja-build ccache pkg-config clang-16 libclang-rt-16-dev
  # Libraries: networking, TLS, storage, logging, configuration, MIME.
  libboost-dev libssl-dev libsqlite3-dev libspdlog-dev libfmt-dev
  libtomlplusplus-dev libcli11-dev nlohmann-json3-dev libgmime-3.0-dev
  libcrypt-dev libgtest-dev libgmock-dev
  # Running and testing: TLS tools, real mail clients, a public corpus.
  openssl python3 swaks isync curl libpython3.11-testsuite
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null |
      grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "corvus: installing ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
