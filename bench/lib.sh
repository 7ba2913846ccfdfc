# bench/lib.sh: what the bench scripts share. Source it from the repository root.
#
# Every kernel setting a script changes goes through set_sysctl, which remembers the
# old value; restore_sysctls (installed as an EXIT trap by prepare_machine) puts them
# all back, however the script ends.

BENCH_SYSCTL_SAVED=()
BENCH_LO_ADDED=()

die() { echo "$(basename "$0"): $*" >&2; exit 1; }

need_root() {
	[ "$(id -u)" = 0 ] || die "run as root: the script changes sysctls, ulimit -n and pins processes to cores"
}

# ensure_cmd CMD PACKAGE...: install Debian packages if CMD is missing.
ensure_cmd() {
	local cmd=$1; shift
	command -v "$cmd" >/dev/null 2>&1 && return 0
	echo "installing $* (for $cmd)"
	DEBIAN_FRONTEND=noninteractive apt-get install -y "$@" >/dev/null 2>&1 ||
		{ apt-get update >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y "$@" >/dev/null; } ||
		die "cannot install $*"
	command -v "$cmd" >/dev/null 2>&1 || die "$cmd still missing after installing $*"
}

set_sysctl() {
	local key=$1 value=$2 old
	old=$(sysctl -n "$key") || die "no sysctl $key"
	BENCH_SYSCTL_SAVED+=("$key=$old")
	sysctl -q -w "$key=$value" >/dev/null || die "cannot set $key=$value"
}

restore_sysctls() {
	local i kv
	# In reverse, so a key set twice ends at its first saved value.
	for ((i = ${#BENCH_SYSCTL_SAVED[@]} - 1; i >= 0; i--)); do
		kv=${BENCH_SYSCTL_SAVED[$i]}
		sysctl -q -w "${kv%%=*}=${kv#*=}" >/dev/null || echo "warning: could not restore ${kv}" >&2
	done
	BENCH_SYSCTL_SAVED=()
}

# add_lo_address IP: make lo list IP (it already routes all of 127.0.0.0/8, but ICE
# gathers only the addresses an interface lists); removed on exit with the sysctls.
add_lo_address() {
	local ip=$1
	ip -o addr show dev lo | grep -q " inet $ip/" && return 0
	command -v ip >/dev/null 2>&1 || ensure_cmd ip iproute2
	ip addr add "$ip/32" dev lo || die "cannot add $ip to lo"
	BENCH_LO_ADDED+=("$ip")
}

remove_lo_addresses() {
	local ip
	for ip in "${BENCH_LO_ADDED[@]}"; do
		ip addr del "$ip/32" dev lo 2>/dev/null || echo "warning: could not remove $ip from lo" >&2
	done
	BENCH_LO_ADDED=()
}

# prepare_machine: big socket buffers (SIPp's -rtp_echo and callgate's SIP socket take
# the system default), a deep input backlog (loopback traffic queues there), the
# ephemeral port range moved to 50000-65535 so RTP can use 10000-49999, and many file
# descriptors. Everything is restored on exit.
prepare_machine() {
	trap 'restore_sysctls; remove_lo_addresses' EXIT
	trap 'exit 130' INT TERM
	set_sysctl net.core.rmem_max 33554432
	set_sysctl net.core.wmem_max 33554432
	set_sysctl net.core.rmem_default 4194304
	set_sysctl net.core.wmem_default 1048576
	set_sysctl net.core.netdev_max_backlog 20000
	set_sysctl net.ipv4.ip_local_port_range "50000 65535"
	# As high as allowed: containers often cap the hard limit (20,000 here), which is
	# enough for 2 RTP sockets per call at a few thousand calls in progress.
	ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)" || die "cannot raise ulimit -n"
	echo "ulimit -n $(ulimit -n)"
}

# build_callgate: the binary under test, from the working tree (or CALLGATE_BIN).
build_callgate() {
	mkdir -p bench/out
	if [ -n "${CALLGATE_BIN:-}" ]; then
		cp "$CALLGATE_BIN" bench/out/callgate
		echo "callgate: using $CALLGATE_BIN"
		return
	fi
	go build -ldflags "-X main.version=$(git describe --always --dirty --tags 2>/dev/null || echo dev)" \
		-o bench/out/callgate ./cmd/callgate || die "go build ./cmd/callgate failed"
}

# build_tools NAME...: the Go helpers of bench/cmd.
build_tools() {
	local t
	for t in "$@"; do
		go build -o "bench/out/$t" "./bench/cmd/$t" || die "go build ./bench/cmd/$t failed"
	done
}
