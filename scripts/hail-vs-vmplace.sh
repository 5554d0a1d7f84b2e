#!/usr/bin/env bash
# Side by side: Ganeti's hail and `vmplace iallocator` on the same Ganeti documents.
#
#   scripts/hail-vs-vmplace.sh [PROBLEM.json ...]
#
# Each vmplace problem is converted with `vmplace iallocator --from-problem` (the converted
# documents are shipped in instances/ganeti/), then answered by hail (as Ganeti runs it, and with
# --no-capacity-checks, which drops its N+1 check) and by vmplace with each host policy. Prints,
# per run: instances placed and failed, nodes running instances afterwards, wall time.
# Needs hail (`apt-get install ganeti-htools`) and python3; VMPLACE=path overrides the binary.
set -euo pipefail
cd "$(dirname "$0")/.."
VMPLACE=${VMPLACE:-target/release/vmplace}
HAIL=${HAIL:-$(dpkg -L ganeti-htools-3.0 2>/dev/null | grep 'iallocators/hail$' || true)}
[ -x "$HAIL" ] || { echo "hail not found: apt-get install ganeti-htools" >&2; exit 2; }
[ $# -gt 0 ] || set -- instances/medium/h60-s6-vm300-tight-aa.json instances/racks/h200-s20-vm1000-tight-racks.json
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
summary() { # DOC ANSWER
  python3 - "$1" "$2" <<'PY'
import json, sys
doc, ans = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
busy = {i["nodes"][0] for i in doc["instances"].values()}
placed = failed = 0
n = len(doc["request"]["instances"])
if ans["success"]:
    placed = len(ans["result"][0]); failed = len(ans["result"][1])
    busy |= {e[1][0] for e in ans["result"][0]}
else:
    failed = n
print(f"{placed:>6} {failed:>6} {len(busy):>6}/{len(doc['nodes'])}")
PY
}
printf '%-38s %-26s %6s %6s %10s %8s\n' instance solver placed failed nodes time_s
for p in "$@"; do
  b=$(basename "$p" .json); doc=instances/ganeti/$b.ganeti.json
  [ -f "$doc" ] || "$VMPLACE" iallocator --from-problem "$p" -o "$doc"
  run() { # NAME CMD...
    local name=$1; shift
    local t0=$(date +%s.%N); "$@" > "$tmp/a.json" 2>/dev/null || true; local t1=$(date +%s.%N)
    printf '%-38s %-26s %s %8.2f\n' "$b" "$name" "$(summary "$doc" "$tmp/a.json")" "$(echo "$t1 - $t0" | bc)"
  }
  run hail "$HAIL" "$doc"
  run "hail --no-capacity-checks" "$HAIL" --no-capacity-checks "$doc"
  run "vmplace balance" "$VMPLACE" iallocator "$doc" --host-policy balance --time-limit 10
  run "vmplace pack" "$VMPLACE" iallocator "$doc" --host-policy pack --time-limit 10
done
