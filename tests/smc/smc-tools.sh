#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# smc-tools.sh KMOD_DIR TOOLS_DIR MODE TCP_ECHO - the smc-tools-style commands of utils/smc in
# the VM.
#
# An unmodified TCP echo server and client (TCP_ECHO, tests/support/smc) run under smc_run -d;
# while their connection is open, smcss and smcd must show it. TOOLS_DIR holds smcd, smcss,
# smc_run, libsmc-preload.so and smc_chk.
#
#   smcd   SMC-D over dibs_lo0 (tests/smc/smc-env.sh). Over 127.0.0.1 and ::1: smcss -a shows
#          both ends in mode SMCD and the listener, smcss and smcss -l filter, smcss -D shows
#          the SMC-D GID of the link group and the DMB sizes, smcss -d (and -e) the details,
#          smcd device (dev, d s a) lists dibs_lo0 of type DIBS-LO with its dibs GID, smcd
#          linkgroup (lgr, l, -d) an SMC-D v2 link group with the user EID, smcd stats the
#          connections; stats reset counts from zero, -a stats still shows all. smcd ueid
#          add/del/show/flush and their errors, as root and not; seid show, and enable/disable
#          refused by 6.1 on x86 with the errno. smc_chk -l and against smc_chk -S: SMC-D.
#   nodev  No dibs device: the same connection falls back to TCP; smcss shows the client in
#          "TCP 0x03030000" and the server in "TCP 0x05000000/0x03030000"; smcd shows no
#          device and no link group, smcd -d stats the fallback reasons; smc_chk exits 1 with
#          the reasons.
# shellcheck disable=SC2016 # awk programs in single quotes
set -u
K=${1:?usage: smc-tools.sh KMOD_DIR TOOLS_DIR smcd|nodev TCP_ECHO}
TOOLS=${2:?tools directory}
MODE=${3:?mode: smcd or nodev}
ECHO=${4:?tcp_echo}
HERE=$(dirname "$0")
# shellcheck source=tests/support/tap.sh
. "$HERE/../support/tap.sh"
SMCD=$TOOLS/smcd
export K SMCD
# shellcheck source=tests/smc/smc-env.sh
. "$HERE/smc-env.sh"

SMCSS=$TOOLS/smcss
RUN=$TOOLS/smc_run
CHK=$TOOLS/smc_chk
W=/tmp/smc-tools
mkdir -p "$W" /tmp/smc-tools-stats
SMCD_STATS_FILE=/tmp/smc-tools-stats/reset.json
export SMCD_STATS_FILE

case $MODE in
smcd) smc_env_up ;;
nodev) smc_env_up nodev ;;
*) smc_env_die "unknown mode $MODE" ;;
esac

# open_conn ADDR: a tcp_echo server on ADDR and a client that keeps its connection open until
# close_conn; sets PORT and EP (the server's "address:port" as smcss prints it)
open_conn() {
	rm -f "$W"/*
	"$RUN" -d "$ECHO" server -b "$1" 0 >"$W/srv.out" 2>"$W/srv.err" &
	SRV=$!
	if ! wait_for "$W/srv.out" '^listening ' 60; then
		fail "$1: server listening ($(cat "$W/srv.err"))"
		return 1
	fi
	PORT=$(awk '$1 == "listening" { print $2 }' "$W/srv.out")
	EP="$1:$PORT" # smc-tools' format, also for IPv6: ::1:PORT
	"$RUN" -d "$ECHO" client -w "$W/release" "$1" "$PORT" >"$W/cli.out" 2>"$W/cli.err" &
	CLI=$!
	if wait_for "$W/cli.out" '^echoed 65536 bytes$' 60; then
		ok "$1: data echoed under smc_run"
	else
		fail "$1: data echoed under smc_run ($(cat "$W/cli.err"))"
	fi
	for side in srv cli; do
		if grep -q "^smc_run\[[0-9]*\]: socket(AF_INET6\{0,1\}, SOCK_STREAM) -> AF_SMC fd [0-9]*$" \
			"$W/$side.err"; then
			ok "$1: smc_run -d logs the $side socket as AF_SMC"
		else
			fail "$1: smc_run -d logs the $side socket as AF_SMC (got: $(cat "$W/$side.err"))"
		fi
	done
}

close_conn() {
	touch "$W/release"
	wait "$CLI"
	equal "client exit status" "$?" 0
	wait "$SRV"
	equal "server exit status" "$?" 0
	equal "server echoed everything" "$(tail -n 1 "$W/srv.out")" "served 65536 bytes"
}

# count N DESC CMD...: CMD prints N lines
count() {
	n=$1 d=$2
	shift 2
	equal "$d" "$("$@" | wc -l)" "$n"
}

# ss OPTS AWK: the lines of smcss OPTS that match AWK (with ep = EP and gid = GID set); OPTS is
# split into words ("" for none). The awk programs are single-quoted on purpose.
# shellcheck disable=SC2086
ss() { "$SMCSS" $1 | awk -v ep="$EP" -v gid="${GID:-}" "$2"; }
# sd ARGS AWK: the same for smcd ARGS
# shellcheck disable=SC2086
sd() { "$SMCD" $1 | awk -v gid="${GID:-}" -v ueid="$SMC_ENV_UEID" "$2"; }

check_smcd_conn() {
	count 2 "$1: smcss -a: both ends ACTIVE in mode SMCD" \
		ss -a '$1 == "ACTIVE" && ($4 == ep || $5 == ep) && $7 == "SMCD" && NF == 7'
	count 1 "$1: smcss -a: the listener" ss -a '$1 == "LISTEN" && $4 == ep && NF == 4'
	count 0 "$1: smcss: no listener" ss "" '$1 == "LISTEN"'
	count 2 "$1: smcss: both ends" ss "" '$4 == ep || $5 == ep'
	count 1 "$1: smcss -l: the listener" ss -l '$1 == "LISTEN" && $4 == ep'
	count 0 "$1: smcss -l: nothing else" ss -l 'NR > 1 && $1 != "LISTEN"'

	GID=$("$SMCD" linkgroup | awk 'NR == 2 { print $5 }')
	count 2 "$1: smcss -D: the link group's GID, DMB sizes" ss -D \
		'($4 == ep || $5 == ep) && $7 == "SMCD" && $8 == gid && $10 == gid && $13 > 0 && $14 > 0'
	count 1 "$1: smcss -e: connection details" ss -e '$5 == ep && $8 == "<->" && NF == 21'
	count 1 "$1: smcss -d: connection details" ss -d '$5 == ep && $8 == "<->" && NF == 21'
	count 1 "$1: smcss --debug: connection details" ss --debug '$5 == ep && NF == 21'
	count 2 "$1: smcss -aD: bundled" ss -aD '($4 == ep || $5 == ep) && $8 == gid'

	GID=$(cat /sys/class/dibs/dibs_lo0/gid)
	count 1 "$1: smcd device: dibs_lo0 of type DIBS-LO in use, with its dibs GID" sd device \
		'$3 == "dibs_lo0" && $2 == "DIBS-LO" && $5 == "Yes" && $6 >= 1 && $8 == gid &&
		 $9 == "0xffff"'
	equal "$1: smcd dev: as smcd device" "$("$SMCD" dev)" "$("$SMCD" device)"
	equal "$1: smcd d s a: as smcd device" "$("$SMCD" d s a)" "$("$SMCD" device)"
	count 1 "$1: smcd info: dibs_lo0" sd info '$3 == "dibs_lo0" && $8 == gid'
	count 2 "$1: smcd linkgroup: SMC-D v2 with the user EID" sd linkgroup \
		'NR > 1 && $8 == 2 && $10 == ueid'
	equal "$1: smcd lgr: as smcd linkgroup" "$("$SMCD" lgr)" "$("$SMCD" linkgroup)"
	equal "$1: smcd l show all: as smcd linkgroup" "$("$SMCD" l show all)" \
		"$("$SMCD" linkgroup)"
	count 2 "$1: smcd -d linkgroup: the negotiated EID" sd "-d linkgroup" \
		'$1 == "EID" && $3 == ueid'
	lg=$("$SMCD" linkgroup | awk 'NR == 2 { print $1 }')
	count 1 "$1: smcd linkgroup LG-ID: that one" sd "linkgroup $lg" 'NR > 1 && $1 == "'"$lg"'"'
}

check_ueid() {
	equal "ueid show: the environment's user EID" "$("$SMCD" ueid show)" "$SMC_ENV_UEID"
	expect "ueid add a lowercase name" "$SMCD" ueid add test.eid-1
	equal "ueid show: uppercase, unpadded" "$("$SMCD" ueid show | tr '\n' ' ')" \
		"$SMC_ENV_UEID TEST.EID-1 "
	out=$("$SMCD" ueid add TEST.EID-1 2>&1)
	equal "ueid add twice: exit 1" "$?" 1
	equal "ueid add twice: message" "$out" "smcd: ueid add: user EID TEST.EID-1 exists already"
	"$SMCD" ueid add -bad >/dev/null 2>&1
	equal "ueid add -bad: usage error" "$?" 2
	"$SMCD" ueid add 123456789012345678901234567890123 >/dev/null 2>&1
	equal "ueid add 33 characters: usage error" "$?" 2
	expect "ueid add 32 characters" "$SMCD" ueid add 12345678901234567890123456789012
	expect "ueid add a fourth" "$SMCD" ueid add FOURTH
	out=$("$SMCD" ueid add FIFTH 2>&1)
	equal "ueid add a fifth: table full" "$out" \
		"smcd: ueid add FIFTH: the user EID table is full (at most 4 entries)"
	out=$(su nobody -s /bin/sh -c "$SMCD ueid del FOURTH" 2>&1)
	equal "ueid del as nobody: exit 1" "$?" 1
	case $out in
	*"Operation not permitted"*CAP_NET_ADMIN*) ok "ueid del as nobody: CAP_NET_ADMIN explained" ;;
	*) fail "ueid del as nobody: CAP_NET_ADMIN explained (got: $out)" ;;
	esac
	equal "ueid show as nobody" "$(su nobody -s /bin/sh -c "$SMCD ueid show" | wc -l)" 4
	expect "ueid del" "$SMCD" ueid del fourth
	out=$("$SMCD" ueid del FOURTH 2>&1)
	equal "ueid del of a missing EID" "$out" "smcd: ueid del: no user EID FOURTH"
	expect "ueid flush" "$SMCD" ueid flush
	equal "ueid show after flush" "$("$SMCD" ueid show)" ""
	expect "ueid add again" "$SMCD" ueid add "$SMC_ENV_UEID"
}

# stat_n KEY [OPTIONS]: the number of the smcd stats line "  KEY   N ..."
# shellcheck disable=SC2086
stat_n() { "$SMCD" ${2:-} stats | awk -v k="$1" 'index($0, "  " k " ") == 1 {
	sub("^  " k " +", ""); print $1; exit }'; }

check_seid() {
	out=$("$SMCD" seid)
	case $out in
	"DIBS-SMCD-SEID-LINUX-X86-1.0-001 ["*abled"]") ok "seid: the system EID of dibs_smcd" ;;
	*) fail "seid: the system EID of dibs_smcd (got: $out)" ;;
	esac
	equal "seid show: as seid" "$("$SMCD" seid show)" "$out"
	out=$("$SMCD" seid enable 2>&1)
	equal "seid enable: refused on x86 (exit 1)" "$?" 1
	case $out in
	*"(errno 95)"*"s390 only"*) ok "seid enable: EOPNOTSUPP reported" ;;
	*) fail "seid enable: EOPNOTSUPP reported (got: $out)" ;;
	esac
	out=$("$SMCD" seid disable 2>&1)
	equal "seid disable: refused (exit 1)" "$?" 1
	case $out in
	*"(errno "*) ok "seid disable: the kernel's errno reported" ;;
	*) fail "seid disable: the kernel's errno reported (got: $out)" ;;
	esac
}

if [ "$MODE" = smcd ]; then
	check_ueid
	check_seid
	rm -f "$SMCD_STATS_FILE"
	equal "stats: no connection yet" "$(stat_n "SMC connections")" 0
	for addr in 127.0.0.1 ::1; do
		open_conn "$addr" || continue
		check_smcd_conn "$addr"
		close_conn
	done
	equal "stats: client and server end of two connections" "$(stat_n "SMC connections")" 4
	equal "stats: no fallback" "$(stat_n "TCP fallback")" 0
	expect "stats: bytes received" test "$("$SMCD" stats | awk '/Data transmitted/ { print $4; exit }')" \
		-ge $((4 * 65536))
	count 1 "smcd -d stats: by client and server" sd "-d stats" \
		'/^  SMC connections/ && $3 == 4 && $5 == "2," && $7 == "2)"'
	count 1 "smcd info: ISM v1 v2" sd info '$1 == "ISM:" && $2 == "v1" && $3 == "v2"'
	count 1 "smcd -v: the version" sd -v '/^smcd [(]dibs-rdma[)] /'
	expect "smcd stats reset" "$SMCD" stats reset
	equal "stats after reset: no SMC connection" "$(stat_n "SMC connections")" 0
	equal "stats r: abbreviated reset" "$("$SMCD" stats r >/dev/null; echo $?)" 0
	equal "-a stats: still all since the module was loaded" "$(stat_n "SMC connections" -a)" 4
	equal "--absolute stats" "$(stat_n "SMC connections" --absolute)" 4
	count 1 "stats json: the absolute counters" sd "-a stats json" '/"client_v2":2/'

	out=$("$CHK" -l)
	equal "smc_chk -l: exit 0" "$?" 0
	case $out in
	*"Success, using SMC-D"*) ok "smc_chk -l: Success, using SMC-D" ;;
	*) fail "smc_chk -l: Success, using SMC-D (got: $out)" ;;
	esac
	"$CHK" -S -p 0 >"$W/chk-srv.out" 2>&1 &
	CHKSRV=$!
	if wait_for "$W/chk-srv.out" '^Server started on port ' 60; then
		p=$(awk '{ print $5 }' "$W/chk-srv.out")
		out=$("$CHK" 127.0.0.1 "$p")
		equal "smc_chk HOST PORT against smc_chk -S: exit 0" "$?" 0
		out=$("$CHK" -C 127.0.0.1 -p "$p")
		equal "smc_chk -C HOST -p PORT: exit 0" "$?" 0
		case $out in
		*"Test with target IP 127.0.0.1 and port $p"*"Success, using SMC-D"*)
			ok "smc_chk -C: reports SMC-D" ;;
		*) fail "smc_chk -C: reports SMC-D (got: $out)" ;;
		esac
	else
		fail "smc_chk -S: server started ($(cat "$W/chk-srv.out"))"
	fi
	kill "$CHKSRV" 2>/dev/null
	wait "$CHKSRV"
	equal "smc_chk -S: exit 0 after SIGTERM" "$?" 0
else
	open_conn 127.0.0.1
	count 1 "smcss -a: the client fell back: no SMC device" ss -a \
		'$1 == "ACTIVE" && $5 == ep && $7 == "TCP" && $8 == "0x03030000" &&
		 /[(]no SMC device found[)]$/'
	count 1 "smcss -a: the server: peer declined, with its diagnosis" ss -a \
		'$1 == "ACTIVE" && $4 == ep && $7 == "TCP" && $8 == "0x05000000/0x03030000"'
	count 2 "smcss: both ends" ss "" '$4 == ep || $5 == ep'
	count 0 "smcss -D: no SMC-D socket" ss -D 'NR > 1'
	equal "smcd device: none" "$("$SMCD" device)" "no SMC-D devices"
	equal "smcd linkgroup: none" "$("$SMCD" linkgroup)" "no SMC-D link groups"
	out=$("$CHK" -C 127.0.0.1 -p "$PORT" -t 2)
	rc=$?
	close_conn
	equal "smc_chk against a fallback server: exit 1" "$rc" 1
	case $out in
	*"Failed  (TCP fallback), reasons:"*"Client: 0x03030000 no SMC device found"*)
		ok "smc_chk: the fallback reason" ;;
	*) fail "smc_chk: the fallback reason (got: $out)" ;;
	esac
	"$CHK" -l >/dev/null
	equal "smc_chk -l without a device: exit 1" "$?" 1
	equal "stats: no SMC-D connection" "$(stat_n "SMC connections" -a)" 0
	equal "stats: two fallbacks (and those of smc_chk)" "$(stat_n "TCP fallback" -a)" 6
	count 1 "stats: the client's reason" sd "-a -d stats" \
		'/^    Client$/ { side = "client" } /^    Server$/ { side = "server" }
		 side == "client" && $1 == "NOSMCDEV" && $3 == "0x03030000" && /no SMC device found[)]$/'
	count 1 "stats: the server's reason" sd "-a -d stats" \
		'/^    Client$/ { side = "client" } /^    Server$/ { side = "server" }
		 side == "server" && $1 == "PEERDECL" && $3 == "0x05000000" &&
		 /peer declined during handshake[)]$/'
fi

expect "smcss --help" sh -c "'$SMCSS' --help | grep -q '^EXIT STATUS'"
expect "smc_chk --help" sh -c "'$CHK' --help | grep -q '^EXIT STATUS'"
"$SMCSS" --bogus >/dev/null 2>&1
equal "smcss --bogus: usage error" "$?" 2
"$SMCSS" -l -d >/dev/null 2>&1
equal "smcss -l -d: usage error" "$?" 2
"$SMCD" device extra >/dev/null 2>&1
equal "smcd device extra: usage error" "$?" 2
"$CHK" -C 127.0.0.1 -p 0 >/dev/null 2>&1
equal "smc_chk -p 0: usage error" "$?" 2
tap_done
