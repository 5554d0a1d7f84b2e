#!/usr/bin/env bash
# Latency table for small requests (issue 11): for each shipped service instance,
#   cli   - `vmplace place FILE` wall time with process start, RUNS runs: p50, p99;
#   http  - wrk for DURATION seconds on /v1/place with each of CONNECTIONS (a list, "1 8": one
#           scheduler waiting inline, and eight at once): solves/s, p50, p99;
#   burst - 64 concurrent POSTs of the 40-host, 120-request problem at the default queue: status
#           codes and the slowest answer.
# With BUSY=1 a busy loop runs beside it, so that one of the two cores is taken (users' machines
# are never idle). Medians and p99 only: the machine is noisy.
# Usage: [BUSY=1] [VMPLACE=path/to/vmplace] scripts/latency.sh [RUNS=50] [DURATION=10] [CONNECTIONS="1 8"]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-50}; duration=${2:-10}; conn_list=${3:-"1 8"}
command -v wrk >/dev/null || { sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo; $sudo apt-get install -y -qq wrk >&2; }
if [ -z "${VMPLACE:-}" ]; then
  ./scripts/setup.sh
  cargo build --release -q
  VMPLACE="${CARGO_TARGET_DIR:-target}/release/vmplace"
fi
bin=$VMPLACE
hog=""
cleanup() { [ -n "$hog" ] && kill "$hog" 2>/dev/null; [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null; true; }
trap cleanup EXIT
if [ "${BUSY:-0}" = 1 ]; then
  ( while :; do :; done ) & hog=$!
  echo "other core busy (pid $hog)"
fi

# p50 and p99 (nearest rank) of numbers on stdin, in ms.
percentiles() { sort -n | awk '{v[NR]=$1} END {i50=int(NR*0.5+0.5); i99=int(NR*0.99+0.5); if(i99<1)i99=1; printf "p50 %.1f ms  p99 %.1f ms  (n=%d)", v[i50], v[i99], NR}'; }

for body in instances/service/h2000-s100-vm1-racks.json instances/service/h20-s4-vm10.json; do
  for _ in 1 2 3; do "$bin" place "$body" > /dev/null; done  # warm the page cache
  times=$(for _ in $(seq "$runs"); do
    s=$(date +%s%N); "$bin" place "$body" > /dev/null; e=$(date +%s%N)
    awk -v s="$s" -v e="$e" 'BEGIN {printf "%.3f\n", (e - s) / 1000000}'
  done)
  echo "cli   $(basename "$body"): $(echo "$times" | percentiles)"
done

"$bin" serve --listen 127.0.0.1:0 > /tmp/vmplace-latency.addr 2>/dev/null &
pid=$!
for _ in $(seq 50); do [ -s /tmp/vmplace-latency.addr ] && break; sleep 0.1; done
addr=$(sed -n 's/.*"listening":"\([^"]*\)".*/\1/p' /tmp/vmplace-latency.addr)
rss() { awk '/VmRSS/ {print $2}' /proc/$pid/status; }
for body in instances/service/h2000-s100-vm1-racks.json instances/service/h20-s4-vm10.json; do
  export BODY=$body
  for conns in $conn_list; do
    threads=$(( conns < 2 ? 1 : 2 ))
    out=$(wrk -t"$threads" -c"$conns" -d"${duration}s" --latency -s scripts/post.lua "http://$addr/v1/place")
    rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    p50=$(echo "$out" | awk '$1=="50%" {print $2}')
    p99=$(echo "$out" | awk '$1=="99%" {print $2}')
    non2xx=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
    echo "http  $(basename "$body") c=$conns: ${rps} solves/s  p50 ${p50}  p99 ${p99}  non-2xx ${non2xx:-0}  rss $(rss) KiB"
  done
done

burst=instances/service/h40-s4-vm120.json
codes=$(for _ in $(seq 64); do
  curl -s -o /dev/null -w '%{http_code} %{time_total}\n' -H 'Content-Type: application/json' \
    --data-binary "@$burst" "http://$addr/v1/place" &
done; wait)
ok=$(echo "$codes" | awk '$1==200' | wc -l)
busy=$(echo "$codes" | awk '$1==503' | wc -l)
slowest=$(echo "$codes" | awk '{print $2}' | sort -n | tail -1)
echo "burst $(basename "$burst") x64: ${ok} answered, ${busy} busy (503), slowest ${slowest} s"
