#!/usr/bin/env bash
# bench/micro.sh: scenario 4, the routing and RTP-forwarding micro-benchmarks
# (`go test -bench -benchmem`): caller-number selection and the A-V-B lookup among
# 1,000,000 bindings (p50/p99/p99.9, allocs/op), the RTP forward loop (ns/op, allocs),
# RTP through the bridge over loopback, and the journal's SQLite cost per call.
#
#   bench/micro.sh            # full run: 3 runs of each, doc updated (~6 min)
#   QUICK=1 bench/micro.sh    # smoke run: fewer iterations, 1 run, doc left alone
#
# Environment (all optional):
#   COUNT=n      runs of every benchmark (default 3; QUICK: 1)
#   CORE=n       the core the test binaries are pinned to (default 1; -1: not pinned)
#   DOC=path     the Markdown file to rewrite (default docs/BENCHMARKS.md; QUICK: none)
#
# Needs Go; no root. Prints a summary table; raw results in bench/out/microbench/results.json.
# Run it on a quiet machine: the tail figures (p99, p99.9) move with other load.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

cmdline="bench/micro.sh"
for v in COUNT CORE QUICK; do
	[ -n "${!v:-}" ] && cmdline="$v=${!v} $cmdline"
done

QUICK=${QUICK:-0}
CORE=${CORE:-1}
quick_flag=()
if [ "$QUICK" = 1 ]; then
	COUNT=${COUNT:-1}
	DOC=${DOC:-}
	quick_flag=(-quick)
else
	COUNT=${COUNT:-3}
	DOC=${DOC-docs/BENCHMARKS.md}
fi
[ "$CORE" -lt 0 ] || [ "$(nproc)" -gt "$CORE" ] || die "no core $CORE on this machine (CORE=-1: not pinned)"

build_tools micro
bench/out/micro "${quick_flag[@]}" -count "$COUNT" -core "$CORE" -out bench/out/microbench \
	-doc "$DOC" -command "$cmdline"
