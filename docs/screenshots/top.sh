#!/usr/bin/env bash
# docs/screenshots/top.sh: renders docs/screenshots/top.png, the README's picture of `coord top`.
#
# Builds coord, starts a small fleet of real processes on a private store (one in a tool call
# holding a task and the leader lease, one idle, one hung, one killed, one working, one ended),
# runs `coord top` in a private tmux server, sorts by state and selects the dead session, then
# captures the pane with its colours (tmux capture-pane -e), turns it into HTML
# (ansi-to-html.py beside this script) and photographs that with headless Chromium.
#
# Usage: docs/screenshots/top.sh   (needs tmux and chromium; installs them with apt-get if missing)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cols=140
rows=30
need() { command -v "$1" >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq "$2" >/dev/null; }; }
need tmux tmux
need chromium chromium

coord=$(cd "$root" && cargo build --quiet --bin coord --bin coord-top --message-format=json \
  | python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "coord" and m.get("executable"):
        print(m["executable"])')

tmp=$(mktemp -d)
pids=()
cleanup() {
  tmux -S "$tmp/sock" kill-server 2>/dev/null || true
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
export COORD_URL="sqlite://$tmp/coord.db"

# agent ID RUNTIME TASK [register options…]: a real process registered as a session.
agent() {
  local id=$1 runtime=$2 task=$3
  shift 3
  sleep 3600 &
  pids+=($!)
  "$coord" register --id "$id" --pid $! --runtime "$runtime" --task "$task" "$@" >/dev/null
}
agent builder shell "build the release"
agent reviewer claude "review the open pull request"
agent tester shell "run the test suite" --stale-after 3s
agent crasher codex "migrate the schema"
agent writer pi "write the release notes"
agent tagger shell "tag the release"
crasher=${pids[3]}

"$coord" task add --id t-1 "migrate the schema" >/dev/null
"$coord" task add --id t-2 "run the test suite" >/dev/null
"$coord" task add --id t-3 "build the release" >/dev/null
"$coord" task add --id t-4 "publish the crates" >/dev/null
"$coord" task claim --session crasher --task t-1 >/dev/null
"$coord" task claim --session tester --task t-2 >/dev/null
"$coord" task claim --session builder --task t-3 >/dev/null
"$coord" heartbeat --id builder --lead >/dev/null
"$coord" heartbeat --id builder --phase in-tool --tool cargo
"$coord" heartbeat --id reviewer --phase waiting
"$coord" unregister --id tagger
sleep 4
kill "$crasher"
"$coord" heartbeat --id writer

tmux -S "$tmp/sock" -f /dev/null new-session -d -x "$cols" -y "$rows" \
  -e "COORD_URL=$COORD_URL" "$coord top"
sleep 1.5
tmux -S "$tmp/sock" send-keys 5 End
sleep 1.2
tmux -S "$tmp/sock" capture-pane -e -p >"$tmp/capture"

python3 "$here/ansi-to-html.py" "$cols" "$rows" <"$tmp/capture" >"$tmp/top.html"
width=$((cols * 843 / 100 + 36))
height=$((rows * 16 + 28))
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --force-device-scale-factor=2 \
  --window-size="$width,$height" --screenshot="$here/top.png" "file://$tmp/top.html" 2>/dev/null
echo "wrote $here/top.png"
