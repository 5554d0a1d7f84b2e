#!/usr/bin/env bash
# Load benchmark for `vmplace serve`: sustained requests/s and latency percentiles for a small
# placement (20 hosts, 10 requests) with wrk on loopback, and the server's resident memory before
# and after each round (it should stay flat). Bounded: ROUNDS x DURATION seconds.
# Usage: scripts/load.sh [DURATION_S=20] [ROUNDS=3] [CONNECTIONS=8]
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-20}; rounds=${2:-3}; conns=${3:-8}
command -v wrk >/dev/null || { sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo; $sudo apt-get install -y -qq wrk >&2; }
./scripts/setup.sh
cargo build --release -q
bin="${CARGO_TARGET_DIR:-target}/release/vmplace"
body=instances/service/h20-s4-vm10.json
"$bin" serve --listen 127.0.0.1:0 --queue 64 > /tmp/vmplace-load.addr 2>/dev/null &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do [ -s /tmp/vmplace-load.addr ] && break; sleep 0.1; done
addr=$(sed -n 's/.*"listening":"\([^"]*\)".*/\1/p' /tmp/vmplace-load.addr)
export BODY=$body
rss() { awk '/VmRSS/ {print $2}' /proc/$pid/status; }
echo "server $addr pid $pid; rss before: $(rss) KiB"
for r in $(seq "$rounds"); do
  wrk -t2 -c"$conns" -d"${duration}s" --latency -s scripts/post.lua "http://$addr/v1/place" | grep -E 'Requests/sec|requests in|Non-2xx|50%|90%|99%'
  echo "round $r: rss $(rss) KiB"
done
curl -s "http://$addr/metrics" | grep -E '^vmplace_requests_total|^vmplace_solve_seconds_count' || true
