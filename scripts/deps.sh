#!/bin/sh
# deps.sh - install the Debian packages livemod needs to build, test and demo.
#
# Idempotent: asks dpkg which packages are missing and installs only those.
# When not root and no passwordless sudo is available, prints the apt command
# instead and exits non-zero so `make` stops with a clear message.
set -eu

PKGS="build-essential pkg-config git sqlite3 curl clang libclang-rt-dev
libgit2-dev libmbedtls-dev libsqlite3-dev libcjson-dev libmicrohttpd-dev
libelf-dev liburcu-dev libcmocka-dev valgrind"
# the man pages' check (tests/e2e/test_install.sh), a failure in CI when
# missing (LM_REQUIRE_ALL)
PKGS="$PKGS groff-base"
# the web page's test (tests/e2e/test_web.sh): a real headless browser
PKGS="$PKGS chromium chromium-driver python3-selenium"
# the fleet rollout's test (tests/e2e/test_fleet.sh): Ansible
PKGS="$PKGS ansible-core"
# examples/kvd's test and benchmark: real Redis clients we did not write
# (redis-cli, redis-benchmark)
PKGS="$PKGS redis-tools"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing="$missing $p"
	fi
done

[ -z "$missing" ] && exit 0

echo "deps.sh: installing:$missing" >&2
if [ "$(id -u)" -eq 0 ]; then
	SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
	SUDO="sudo"
else
	echo "deps.sh: not root; run:" >&2
	echo "  sudo apt-get install -y$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq || true
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
