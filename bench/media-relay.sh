#!/usr/bin/env bash
# bench/media-relay.sh: how many SIP↔SIP G.711 calls callgate relays on one core, the
# CPU each forwarded RTP packet costs, the memory per call, and the one-way latency
# callgate adds over a direct path. Optionally rtpengine behind Kamailio, the same way.
#
#   bench/media-relay.sh            # full run: 6 steps, 60 s each, 3 repetitions
#   QUICK=1 bench/media-relay.sh    # smoke run: 10 s per step, 1 repetition
#   PEERS=callgate,rtpengine bench/media-relay.sh   # and rtpengine 10.5 (userspace)
#                                   # under Kamailio 5.6 in the same run
#
# Environment (all optional):
#   QUICK=1          10 s windows, one repetition; the doc is left alone unless DOC is set
#   STEPS=a,b,...    concurrent calls at each step (default 250,500,1000,1500,2000,2500)
#   PEERS=callgate,rtpengine   edges to measure (default callgate)
#   RTPENGINE_THREADS=n  rtpengine's --num-threads (default 1: it has one core)
#   REPS=n HOLD=60s WARM=10s BASELINE_HOLD=20s CPS=200
#   PROFILE_CALLS=n  profile callgate (--cpuprofile) relaying n calls afterwards
#                    (default 1000; 0: none); PROFILE_FOR=30s
#   DOC=path         the Markdown file to rewrite (default docs/BENCHMARKS.md)
#   CALLGATE_BIN=path  measure this binary instead of building ./cmd/callgate
#   BENCH_SCHED=rr|nice  the edge (callgate; rtpengine and Kamailio) and the generators
#                    under SCHED_RR 1 (default) or at niceness BENCH_NICE (default -10)
#
# Needs root, 2+ cores, Go, and Debian packages it installs when missing: sip-tester
# (SIPp); rtpengine-daemon and kamailio for PEERS=...rtpengine (Kamailio's rtpengine
# module is in the kamailio package). Prints a summary table; raw results in
# bench/out/media/results.json.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

QUICK=${QUICK:-0}
PEERS=${PEERS:-callgate}
RTPENGINE_THREADS=${RTPENGINE_THREADS:-1}
STEPS=${STEPS:-250,500,1000,1500,2000,2500}
CPS=${CPS:-200}
if [ "$QUICK" = 1 ]; then
	REPS=${REPS:-1} HOLD=${HOLD:-10s} WARM=${WARM:-5s} BASELINE_HOLD=${BASELINE_HOLD:-5s}
	DOC=${DOC:-}
	PROFILE_FOR=${PROFILE_FOR:-10s}
else
	REPS=${REPS:-3} HOLD=${HOLD:-60s} WARM=${WARM:-10s} BASELINE_HOLD=${BASELINE_HOLD:-20s}
	DOC=${DOC-docs/BENCHMARKS.md}
	PROFILE_FOR=${PROFILE_FOR:-30s}
fi
PROFILE_CALLS=${PROFILE_CALLS:-1000}

need_root
[ "$(nproc)" -ge 2 ] || die "needs 2 cores: callgate on core 1, load generators on core 0"
ensure_cmd sipp sip-tester
case ",$PEERS," in *,rtpengine,*)
	ensure_cmd rtpengine rtpengine-daemon
	ensure_cmd kamailio kamailio
	[ -e /usr/lib/x86_64-linux-gnu/kamailio/modules/rtpengine.so ] ||
		die "Kamailio's rtpengine module is missing (/usr/lib/x86_64-linux-gnu/kamailio/modules/rtpengine.so)"
	# Debian enables the rtpengine-daemon service (kernel table 0, ports 30000-40000)
	# where systemd runs: another rtpengine would share the core and the ports.
	pids=$(pgrep -x rtpengine || true)
	[ -z "$pids" ] || die "an rtpengine is already running (pid $pids; systemctl stop rtpengine-daemon?): stop it first"
	;;
esac

build_callgate
build_tools rtpgen mediarelay
prepare_machine

cmdline="bench/media-relay.sh"
[ "$QUICK" = 1 ] && cmdline="QUICK=1 $cmdline"
[ "$RTPENGINE_THREADS" != 1 ] && cmdline="RTPENGINE_THREADS=$RTPENGINE_THREADS $cmdline"
[ "$PEERS" != callgate ] && cmdline="PEERS=$PEERS $cmdline"
quick_flag=()
[ "$QUICK" = 1 ] && quick_flag=(-quick)

bench/out/mediarelay "${quick_flag[@]}" -peers "$PEERS" -rtpengine-threads "$RTPENGINE_THREADS" -steps "$STEPS" -reps "$REPS" -hold "$HOLD" -warm "$WARM" \
	-baseline-hold "$BASELINE_HOLD" -cps "$CPS" -profile-calls "$PROFILE_CALLS" -profile-for "$PROFILE_FOR" \
	-doc "$DOC" -command "$cmdline"
