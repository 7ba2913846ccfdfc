#!/usr/bin/env bash
# bench/browser-leg.sh: how many browser-leg calls (WebRTC agents → callgate → SIP
# carrier) callgate carries on one core, the memory per call, the DTLS handshakes per
# second a login ramp sustains, and the post-dial delay callgate adds. With
# PEERS=callgate,janus the same agents then drive Janus 1.1.2's SIP plugin to the
# same carrier in each repetition, and the report sets callgate against it.
#
#   bench/browser-leg.sh                         # full run: 6 steps, 60 s each, 3 repetitions
#   QUICK=1 bench/browser-leg.sh                 # smoke run: 10 s per step, 1 repetition
#   QUICK=1 PEERS=callgate,janus STEPS=20,50 HOLD=10s WARM=3s DOC= bench/browser-leg.sh
#
# Environment (all optional):
#   PEERS=callgate[,janus]  edges measured in each repetition, in this order. janus:
#                    Janus 1.1.2 (Debian package janus, installed when missing) from
#                    bench/janus/*.jcfg rendered into bench/out/browser/janus-repN/janus
#                    (janus -F: /etc/janus is not read), SIP plugin and websockets
#                    transport only, on core 1 like callgate. Its ICE, and the agents'
#                    with it, runs on the machine's first non-loopback IPv4 address
#                    (Janus never gathers on loopback): JANUS_ICE=ip to choose another.
#   QUICK=1          10 s windows, one repetition; the doc is left alone unless DOC is set
#   STEPS=a,b,...    concurrent calls at each step (default 100,300,600,900,1200,1500);
#                    the ramp stops after the first step below the pass line
#   REPS=n HOLD=60s WARM=10s
#   RATE=100         agent logins (websocket, PeerConnection, DTLS, dial) started per second
#   INFLIGHT=200     most logins in progress at once
#   ICE_MUX=ip:port  run callgate with media.ice_mux (one UDP port for all browser legs)
#   DOC=path         the Markdown file to rewrite (default docs/BENCHMARKS.md)
#   CALLGATE_BIN=path  measure this binary instead of building ./cmd/callgate
#   BENCH_SCHED=rr|nice  callgate and the generators under SCHED_RR 1 (default) or at
#                    niceness BENCH_NICE (default -10)
#
# Needs root, 2+ cores, Go, SIPp (sip-tester), tcpdump and, for PEERS=…janus, janus
# (installed when missing).
# Prints a summary table; raw results in bench/out/browser/results.json.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

# The command line recorded in the doc: the settings given, not the defaults.
cmdline="bench/browser-leg.sh"
for v in REPS HOLD WARM RATE INFLIGHT ICE_MUX STEPS PEERS QUICK; do
	[ -n "${!v:-}" ] && cmdline="$v=${!v} $cmdline"
done

QUICK=${QUICK:-0}
STEPS=${STEPS:-100,300,600,900,1200,1500}
RATE=${RATE:-100}
INFLIGHT=${INFLIGHT:-200}
ICE_MUX=${ICE_MUX:-}
PEERS=${PEERS:-callgate}
JANUS_ICE=${JANUS_ICE:-}
if [ "$QUICK" = 1 ]; then
	REPS=${REPS:-1} HOLD=${HOLD:-10s} WARM=${WARM:-5s}
	DOC=${DOC:-}
else
	REPS=${REPS:-3} HOLD=${HOLD:-60s} WARM=${WARM:-10s}
	DOC=${DOC-docs/BENCHMARKS.md}
fi

need_root
[ "$(nproc)" -ge 2 ] || die "needs 2 cores: callgate on core 1, load generators on core 0"
ensure_cmd sipp sip-tester
ensure_cmd tcpdump tcpdump
case ",$PEERS," in
*,janus,*)
	ensure_cmd janus janus
	# Debian enables janus.service where systemd runs; the peer needs port 8188.
	if (exec 3<>/dev/tcp/127.0.0.1/8188) 2>/dev/null; then
		die "127.0.0.1:8188 is taken: is another Janus running? (systemctl stop janus)"
	fi
	;;
esac

build_callgate
build_tools webrtcload browserleg
prepare_machine
# callgate's media.bind_address, listed on lo as a production bind address is on its
# interface: then browser legs gather their one ICE host candidate there and nowhere
# else (without it, ICE gathers every interface's addresses). Removed on exit.
add_lo_address 127.0.0.21

quick_flag=()
[ "$QUICK" = 1 ] && quick_flag=(-quick)

bench/out/browserleg "${quick_flag[@]}" -peers "$PEERS" -steps "$STEPS" -reps "$REPS" -hold "$HOLD" -warm "$WARM" \
	-rate "$RATE" -inflight "$INFLIGHT" -ice-mux "$ICE_MUX" -janus-ice "$JANUS_ICE" -doc "$DOC" -command "$cmdline"
