#!/usr/bin/env bash
# The main job on a fresh machine: a stunnelctl home in ./.stunnelctl-demo on unprivileged loopback
# ports, an echo backend standing in for the host application, the worker started, and how to use it.
# `scripts/demo.sh stop` stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
HOME_DIR="${STUNNELCTL_DEMO_HOME:-$PWD/.stunnelctl-demo}"
ACCEPT_PORT="${DEMO_ACCEPT_PORT:-9994}"
BACKEND_PORT="${DEMO_BACKEND_PORT:-10102}"
CLI=(node dist/src/cli/main.js)
BACKEND_PID="$HOME_DIR/echo-backend.pid"

if [ "${1:-}" = "stop" ]; then
  "${CLI[@]}" stop --home "$HOME_DIR" || true
  if [ -f "$BACKEND_PID" ]; then kill "$(cat "$BACKEND_PID")" 2>/dev/null || true; fi
  exit 0
fi

[ -f dist/src/cli/main.js ] || npm run build >/dev/null
"${CLI[@]}" install --home "$HOME_DIR" --accept "127.0.0.1:$ACCEPT_PORT" --connect "127.0.0.1:$BACKEND_PORT"
if ! { [ -f "$BACKEND_PID" ] && kill -0 "$(cat "$BACKEND_PID")" 2>/dev/null; }; then
  nohup node scripts/echo-backend.mjs 127.0.0.1 "$BACKEND_PORT" "$BACKEND_PID" >/dev/null 2>&1 &
  for _ in $(seq 100); do [ -f "$BACKEND_PID" ] && break; sleep 0.05; done
fi
"${CLI[@]}" start --home "$HOME_DIR" --job-class '*STD'
cat <<MSG

stunnelctl is serving TLS on 127.0.0.1:$ACCEPT_PORT -> plain 127.0.0.1:$BACKEND_PORT (an echo backend).
Connect:   openssl s_client -connect 127.0.0.1:$ACCEPT_PORT -tls1_3 -quiet     (type a line; it comes back)
Operate:   node dist/src/cli/main.js status|log-conn|switch-logfile|reload-config|stop --home $HOME_DIR
Stop all:  scripts/demo.sh stop
MSG
