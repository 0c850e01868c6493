#!/usr/bin/env bash
# Installs the Debian packages tern needs to build, test and benchmark.
# Idempotent: does nothing when everything is present. Needs root (apt-get).
set -euo pipefail

packages=(
  g++ cmake ninja-build pkg-config make
  liblua5.4-dev lua5.4
  libfmt-dev libjemalloc-dev python3
  libssl-dev openssl
  libgtest-dev libgmock-dev
  libbenchmark-dev
  libhttp-parser-dev libboost-dev
  zlib1g-dev
  libcaf-dev
  wrk nginx
  clang libclang-rt-14-dev
  # The cluster registry: libcurl and nlohmann-json for the etcd client; etcd
  # for its integration test, which starts an etcd of its own on free ports
  # (the package's system service, if it runs, is neither used nor touched).
  libcurl4-openssl-dev nlohmann-json3-dev etcd-server
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
# nginx and etcd-server ship system services; tern only runs its own
# instances on free 127.0.0.1 ports, so keep the packages' services from being
# started by the install (policy-rc.d 101 = "not allowed"), unless the machine
# already has a policy of its own.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
  $SUDO chmod +x "$policy"
  trap '$SUDO rm -f "$policy"' EXIT
fi
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
