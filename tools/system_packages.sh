#!/usr/bin/env bash
# Install the system programs some tests need, when this machine allows it; never fail.
#
#   nginx     (Debian package nginx-light): lesson 07, the proxy tests
#   chromium  (Debian package chromium):    the browser and JupyterLab tests
#   apache2, caddy, haproxy, varnish, lighttpd, nodejs, npm: the real stacks of tests/test_stacks.py
#
# Called by `make test`. Installs with apt-get only when running as root on a system that has
# it (CI, Binder-like containers). Anywhere else (no root, no apt, macOS) it says what is
# missing and how to get it, and exits 0: the tests that need a missing program skip, naming
# the package. STREAMKIT_NO_INSTALL=1 skips installing altogether.
set -uo pipefail

have() {  # have PROGRAM: an executable file on PATH or in the usual sbin places
  local path
  for path in "$(command -v "$1" 2>/dev/null)" "/usr/sbin/$1" "/usr/local/sbin/$1"; do
    [ -n "$path" ] && [ -f "$path" ] && [ -x "$path" ] && return 0
  done
  return 1
}

need=()
have nginx || need+=(nginx-light)
have chromium || have chromium-browser || need+=(chromium)
have apache2 || need+=(apache2)
have caddy || need+=(caddy)
have haproxy || need+=(haproxy)
have varnishd || need+=(varnish)
have lighttpd || need+=(lighttpd)
have node || need+=(nodejs)
have npm || need+=(npm)
[ ${#need[@]} -eq 0 ] && exit 0

why=""
if [ -n "${STREAMKIT_NO_INSTALL:-}" ]; then
  why="STREAMKIT_NO_INSTALL is set"
elif [[ "${OSTYPE:-}" != linux* ]]; then
  why="not Linux (on macOS: brew install nginx, and install Chromium)"
elif ! command -v apt-get >/dev/null 2>&1; then
  why="no apt-get on this system"
elif [ "$(id -u)" != 0 ]; then
  why="not root (sudo apt-get install ${need[*]})"
fi
if [ -n "$why" ]; then
  echo "system_packages: not installing ${need[*]}: $why; the tests that need them will skip"
  exit 0
fi

echo "system_packages: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
if apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; then
  echo "system_packages: installed ${need[*]}"
else
  echo "system_packages: apt-get could not install ${need[*]}; the tests that need them will skip"
fi
exit 0
