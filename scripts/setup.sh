#!/usr/bin/env bash
# Installs every Debian package ferry needs to build, test and benchmark.
# Idempotent: packages already present are not reinstalled.
set -euo pipefail
packages=(
  g++ cmake ninja-build pkg-config ccache clang-format make
  libcurl4-openssl-dev libsimdjson-dev libsqlite3-dev sqlite3 libpq-dev
  libyaml-cpp-dev libcli11-dev libspdlog-dev libfmt-dev nlohmann-json3-dev
  zlib1g-dev libssl-dev libgtest-dev libgmock-dev libbenchmark-dev libhowardhinnant-date-dev
  libcpp-httplib-dev awscli postgresql
  python3 python3-aiosmtpd gzip time
  chromium  # the web UI's browser tests (driven by npm playwright-core; it downloads no browser)
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js and npm (for test corpora from npm): any install will do; Debian's when there is none.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq || true
$sudo apt-get install -y -qq "${missing[@]}"
