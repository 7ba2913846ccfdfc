#!/usr/bin/env bash
# bench/setup-rate.sh: how many calls a second callgate sets up on one core, with an
# A-V-B lookup among 1,000,000 bindings on every call, what each call costs in CPU,
# and how much setup latency callgate adds. Optionally Kamailio, the same way.
#
#   bench/setup-rate.sh                        # full run: ramp, 60 s per rate, 3 repetitions
#   QUICK=1 bench/setup-rate.sh                # smoke run: 10 s per rate, 1 repetition
#   PEERS=callgate,kamailio bench/setup-rate.sh   # and Kamailio 5.6 in the same run
#
# Environment (all optional):
#   QUICK=1          10 s holds, 5 s warm-up, one repetition; the doc is left alone
#                    unless DOC is set
#   RATES=a,b,...    calls/s steps (default 50,100,200,500,1000,1500,2000)
#   REPS=n HOLD=60s WARM=10s CAPTURE=15s   override the ramp
#   PEERS=callgate,kamailio                edges to measure (default callgate)
#   PROFILE_RATE=n   profile callgate (--cpuprofile) at n calls/s afterwards (default
#                    200; 0: no profile); PROFILE_FOR=30s
#   SOAK=1           then hold SOAK_RATE (default 1000) calls/s for SOAK_FOR (10m)
#                    and track callgate's memory
#   DOC=path         the Markdown file to rewrite (default docs/BENCHMARKS.md; a QUICK
#                    run writes none unless DOC is given)
#   CALLGATE_BIN=path  measure this binary instead of building ./cmd/callgate
#   KEEP_PCAP=1      keep the loopback captures in bench/out/setup
#   BENCH_SCHED=rr|nice  callgate, Kamailio and the generators under SCHED_RR 1
#                    (default) or at niceness BENCH_NICE (default -10)
#
# Needs root, 2+ cores, Go, and Debian packages it installs when missing: sip-tester
# (SIPp), tcpdump; kamailio kamailio-sqlite-modules kamailio-extra-modules for
# PEERS=...kamailio. Prints a summary table; raw results in
# bench/out/setup/results.json.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

QUICK=${QUICK:-0}
PEERS=${PEERS:-callgate}
RATES=${RATES:-50,100,200,500,1000,1500,2000}
if [ "$QUICK" = 1 ]; then
	REPS=${REPS:-1} HOLD=${HOLD:-10s} WARM=${WARM:-5s} CAPTURE=${CAPTURE:-10s}
	DOC=${DOC:-}
	PROFILE_FOR=${PROFILE_FOR:-15s}
else
	REPS=${REPS:-3} HOLD=${HOLD:-60s} WARM=${WARM:-10s} CAPTURE=${CAPTURE:-15s}
	DOC=${DOC-docs/BENCHMARKS.md}
	PROFILE_FOR=${PROFILE_FOR:-30s}
fi
PROFILE_RATE=${PROFILE_RATE:-200}
SOAK_RATE=0
[ "${SOAK:-0}" = 1 ] && SOAK_RATE=${SOAK_RATE_CPS:-1000}
SOAK_FOR=${SOAK_FOR:-10m}

# Size of the store and of the -inf file.
BINDINGS=1000000 VIRTUALS=10000 PAIRS=200000

need_root
[ "$(nproc)" -ge 2 ] || die "needs 2 cores: callgate on core 1, load generators on core 0"
ensure_cmd sipp sip-tester
ensure_cmd tcpdump tcpdump
case ",$PEERS," in *,kamailio,*)
	ensure_cmd kamailio kamailio kamailio-sqlite-modules kamailio-extra-modules
	[ -e /usr/lib/x86_64-linux-gnu/kamailio/modules/db_sqlite.so ] ||
		DEBIAN_FRONTEND=noninteractive apt-get install -y kamailio-sqlite-modules kamailio-extra-modules >/dev/null
	;;
esac

build_callgate
build_tools seed setuprate pcaplat

# The seeded store is reused while its parameters and callgate's schema are the same.
mkdir -p bench/out/setup
stamp="bindings=$BINDINGS virtuals=$VIRTUALS pairs=$PAIRS schema=$(cat pool/migrations/*.sql | sha256sum | cut -c1-16)"
if [ ! -f bench/out/setup/seed.db ] || [ "$(cat bench/out/setup/seed.stamp 2>/dev/null)" != "$stamp" ]; then
	rm -f bench/out/setup/seed.db* bench/out/setup/pairs.csv bench/out/setup/seed.stamp
	bench/out/seed -db bench/out/setup/seed.db -inf bench/out/setup/pairs.csv \
		-bindings "$BINDINGS" -virtuals "$VIRTUALS" -pairs "$PAIRS"
	echo "$stamp" > bench/out/setup/seed.stamp
fi

prepare_machine

cmdline="bench/setup-rate.sh"
[ "$QUICK" = 1 ] && cmdline="QUICK=1 $cmdline"
[ "$PEERS" != callgate ] && cmdline="PEERS=$PEERS $cmdline"
[ "${SOAK:-0}" = 1 ] && cmdline="SOAK=1 $cmdline"
quick_flag=()
[ "$QUICK" = 1 ] && quick_flag=(-quick)

bench/out/setuprate "${quick_flag[@]}" -peers "$PEERS" -rates "$RATES" -reps "$REPS" \
	-hold "$HOLD" -warm "$WARM" -capture "$CAPTURE" \
	-profile-rate "$PROFILE_RATE" -profile-for "$PROFILE_FOR" \
	-soak-rate "$SOAK_RATE" -soak-for "$SOAK_FOR" \
	-doc "$DOC" -command "$cmdline"
