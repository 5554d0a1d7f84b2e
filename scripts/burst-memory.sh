#!/bin/bash
# Load script (issue 27, M8): RSS of `vmplace serve` idle, right after a burst of four large
# `place` solves, and 15 s later. Usage: scripts/burst-memory.sh [BINARY] [PROBLEM.json]
B=${1:-target/release/vmplace}; PORT=${PORT:-18282}
$B serve --listen 127.0.0.1:$PORT --max-time-limit 5 >/dev/null 2>&1 & PID=$!
sleep 1
rss() { awk '/VmRSS/ {print int($2/1024)}' /proc/$PID/status; }
echo "idle $(rss) MB"
F=${2:-instances/racks/h2000-s100-vm10000-tight-racks.json}
P=""; for i in 1 2 3 4; do curl -s -o /dev/null -X POST -H 'content-type: application/json' --data-binary @$F http://127.0.0.1:$PORT/v1/place & P="$P $!"; done; wait $P
echo "after burst $(rss) MB"; sleep 15; echo "15 s later $(rss) MB"
kill $PID
