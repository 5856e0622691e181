#!/usr/bin/env bash
# Run a command on this machine as if nginx and chromium were not installed.
#
#   tools/without_programs.sh pytest tests/test_production.py
#
# In a private mount namespace (unshare -m; needs root, or unprivileged user namespaces),
# /dev/null is bind-mounted over every nginx and chromium executable found, so nothing in the
# command can run them, whichever way it looks them up. Outside the namespace nothing changes.
# Exits 3 when no mount namespace can be made here; the streamkit lookup override
# (STREAMKIT_NGINX=/nonexistent STREAMKIT_CHROMIUM=/nonexistent) needs no privileges.
set -euo pipefail

if [ "${1:-}" = "--inside" ]; then
  shift
  for name in nginx chromium chromium-browser; do
    for path in $(command -v "$name" 2>/dev/null) /usr/sbin/"$name" /usr/local/sbin/"$name" \
                /usr/bin/"$name" /snap/bin/"$name"; do
      if [ -e "$path" ] && [ ! -c "$path" ]; then
        mount --bind /dev/null "$path"
      fi
    done
  done
  unset STREAMKIT_NGINX STREAMKIT_CHROMIUM
  exec "$@"
fi

if [ $# -eq 0 ]; then
  echo "usage: $0 COMMAND [ARG...]" >&2
  exit 2
fi
if [ "$(id -u)" = 0 ] && unshare -m --propagation private true 2>/dev/null; then
  exec unshare -m --propagation private "$0" --inside "$@"
elif unshare -r -m --propagation private true 2>/dev/null; then
  exec unshare -r -m --propagation private "$0" --inside "$@"
fi
echo "$0: cannot make a private mount namespace here (needs root or user namespaces)" >&2
exit 3
