# shellcheck shell=bash disable=SC2034  # variables are read by runner.sh and scenario files
# tests/e2e/guest/lib.sh: helpers for e2e scenarios. Sourced by runner.sh inside
# the guest (bash from the host root, chrooted); scenario files use these.
#
# Every scenario function runs in its own subshell (its own process group), with:
#   E2E_SCENARIO       its name
#   E2E_SCENARIO_DIR   its log directory on the xfer share (kept on failure)
#   ROLLER_BIN, ROLLER_PERIPH_BIN   the programs under test ("" when not given)
#   E2E_CENTRAL=hci0, E2E_PERIPHERAL=hci1 and their addresses
#   E2E_CENTRAL_ADDR, E2E_PERIPHERAL_ADDR
# It ends with `return 0` / falling off the end (PASS), e2e_fail (FAIL) or
# e2e_skip (SKIP). Everything it started with the helpers below is stopped when
# it ends; a scenario that overruns its time limit is killed and FAILS.
#
# Rules (TCG costs ~0.1 s per fork): no fixed sleeps as synchronisation; wait for
# a log line or a D-Bus state with a deadline (wait_for_line, cursor_wait,
# ctl_wait, wait_until). Command substitution forks too: the helpers that return
# a value set REPLY instead.

shopt -s extglob

# --- time and logging ----------------------------------------------------------

# e2e_us: REPLY = now in microseconds (no fork).
e2e_us() { REPLY=${EPOCHREALTIME/./}; }

# e2e_secs_to_us SECONDS: REPLY = SECONDS (may be fractional, e.g. 2.5) in µs.
e2e_secs_to_us() {
	local s=$1 int frac
	int=${s%%.*}
	frac=
	[[ $s == *.* ]] && frac=${s#*.}
	frac=${frac}000000
	REPLY=$((10#${int:-0} * 1000000 + 10#${frac:0:6}))
}

# e2e_fmt_us MICROSECONDS: REPLY = "S.ss" (seconds, two decimals).
e2e_fmt_us() {
	local us=$1
	printf -v REPLY '%d.%02d' $((us / 1000000)) $((us % 1000000 / 10000))
}

# e2e_sleep SECONDS: a sleep without fork (read with a timeout on a FIFO nobody
# writes). Only for poll intervals, never as synchronisation.
e2e_sleep() { read -r -t "$1" -u "$E2E_SLEEP_FD" _ || true; }

# e2e_log MESSAGE...: a timestamped line (guest uptime) on the console and in
# the scenario's scenario.log.
e2e_log() {
	local up rest line
	read -r up rest </proc/uptime
	printf -v line '[%8s] %s%s' "$up" "${E2E_SCENARIO:+$E2E_SCENARIO: }" "$*"
	printf '%s\n' "$line"
	if [[ -n ${E2E_SCENARIO_DIR:-} ]]; then
		printf '%s\n' "$line" >>"$E2E_SCENARIO_DIR/scenario.log"
	fi
}

# e2e_step TEXT: log a step with the time since the scenario started.
e2e_step() {
	local now
	e2e_us
	now=$REPLY
	e2e_fmt_us $((now - E2E_SCENARIO_START_US))
	e2e_log "+${REPLY}s $*"
}

# e2e_metric KEY VALUE: recorded in result.txt as "E2E-METRIC: scenario KEY VALUE".
e2e_metric() {
	printf '%s %s\n' "$1" "$2" >>"$E2E_SCENARIO_DIR/metrics"
	e2e_log "metric $1 = $2"
}

# e2e_fail REASON: the scenario FAILS (ends the scenario subshell).
e2e_fail() {
	e2e_log "FAIL: $*"
	printf '%s\n' "$*" >>"$E2E_SCENARIO_DIR/FAILED"
	exit 1
}

# e2e_skip REASON: the scenario is SKIPPED (never counted as passed).
e2e_skip() {
	e2e_log "SKIP: $*"
	printf '%s\n' "$*" >"$E2E_SCENARIO_DIR/SKIPPED"
	exit 77
}

# e2e_require_bin VAR...: SKIP unless each named variable holds an executable.
e2e_require_bin() {
	local var
	for var in "$@"; do
		if [[ -z ${!var:-} ]]; then
			e2e_skip "$var not set (pass --roller-bin/--periph-bin or $var to tests/e2e/run)"
		fi
		[[ -x ${!var} ]] || e2e_skip "$var=${!var} is not executable in the guest"
	done
}

# --- waiting -------------------------------------------------------------------

# Strips what terminals need and logs do not: CR, ANSI escapes, readline's
# \001/\002 markers. Sets REPLY.
# [firmware hook] The escapes go one regex match at a time: the extglob
# ${REPLY//$'\e'\[*([0-9;?])[A-Za-z]/} did the same 20 times slower, too slow
# for bluetoothctl printing notifications in the guest (same output on 28,000
# lines of bluetoothctl and btmon logs).
_E2E_ESC_RE=$'\e''\[[0-9;?]*[A-Za-z]'
_e2e_clean() {
	REPLY=${1//$'\r'/}
	while [[ $REPLY =~ $_E2E_ESC_RE ]]; do
		REPLY=${REPLY/"${BASH_REMATCH[0]}"/}
	done
	REPLY=${REPLY//[$'\001'$'\002']/}
}

declare -gA _E2E_CURSOR_FD=() _E2E_CURSOR_PARTIAL=() _E2E_CURSOR_FILE=()

# cursor_open NAME FILE: an expect-like reader of FILE from its current end
# (or from the start with a third argument "start"). FILE may not exist yet.
cursor_open() {
	local name=$1 file=$2 from=${3:-end}
	_E2E_CURSOR_FILE[$name]=$file
	_E2E_CURSOR_PARTIAL[$name]=
	_E2E_CURSOR_FD[$name]=
	if [[ -e $file ]]; then
		local fd
		exec {fd}<"$file"
		_E2E_CURSOR_FD[$name]=$fd
		if [[ $from == end ]]; then
			local line
			while IFS= read -r -u "$fd" line; do :; done
			_E2E_CURSOR_PARTIAL[$name]=$line
		fi
	fi
}

# cursor_wait NAME REGEX TIMEOUT_SECONDS: consume FILE's lines until one matches
# the extended regex (after _e2e_clean; an unterminated last line counts too).
# 0 and REPLY = the line when found; 1 after TIMEOUT_SECONDS.
cursor_wait() {
	local name=$1 re=$2 timeout=$3
	local file=${_E2E_CURSOR_FILE[$name]:?cursor_wait: no cursor $name}
	local fd=${_E2E_CURSOR_FD[$name]} partial=${_E2E_CURSOR_PARTIAL[$name]} chunk deadline
	e2e_secs_to_us "$timeout"
	deadline=$((${EPOCHREALTIME/./} + REPLY))
	while :; do
		if [[ -z $fd && -e $file ]]; then
			exec {fd}<"$file"
			_E2E_CURSOR_FD[$name]=$fd
		fi
		if [[ -n $fd ]]; then
			while IFS= read -r -u "$fd" chunk; do
				_e2e_clean "$partial$chunk"
				partial=
				if [[ $REPLY =~ $re ]]; then
					_E2E_CURSOR_PARTIAL[$name]=
					return 0
				fi
				# [firmware hook] a file that grows faster than it is read
				# (bluetoothctl printing notifications) must not keep the
				# wait forever; 5 s of grace keep "read what is there" (a
				# timeout of 0) working on ordinary files.
				if ((${EPOCHREALTIME/./} >= deadline + 5000000)); then
					chunk=
					break
				fi
			done
			partial+=$chunk
			_E2E_CURSOR_PARTIAL[$name]=$partial
			_e2e_clean "$partial"
			if [[ -n $partial && $REPLY =~ $re ]]; then
				# Matched an unterminated line: do not match it again.
				_E2E_CURSOR_PARTIAL[$name]=
				partial=
				return 0
			fi
		fi
		if ((${EPOCHREALTIME/./} >= deadline)); then
			e2e_log "timed out after ${timeout}s waiting for /$re/ in $file"
			return 1
		fi
		e2e_sleep 0.1
	done
}

# wait_for_line FILE REGEX TIMEOUT_SECONDS: like cursor_wait, but looks at the
# whole FILE from its start. 0 and REPLY = the line, or 1 on timeout.
wait_for_line() {
	cursor_open _wait_for_line "$1" start
	local rc=0
	cursor_wait _wait_for_line "$2" "$3" || rc=$?
	local fd=${_E2E_CURSOR_FD[_wait_for_line]}
	[[ -z $fd ]] || exec {fd}<&-
	return "$rc"
}

# wait_until TIMEOUT_SECONDS INTERVAL_SECONDS COMMAND...: run COMMAND until it
# succeeds; 1 after the deadline. For states only a command can show (D-Bus).
wait_until() {
	local timeout=$1 interval=$2 deadline
	shift 2
	e2e_secs_to_us "$timeout"
	deadline=$((${EPOCHREALTIME/./} + REPLY))
	while :; do
		"$@" && return 0
		if ((${EPOCHREALTIME/./} >= deadline)); then
			e2e_log "timed out after ${timeout}s waiting for: $*"
			return 1
		fi
		e2e_sleep "$interval"
	done
}

# --- background programs ---------------------------------------------------------

declare -gA E2E_PIDS=()

# start_bg NAME COMMAND...: start COMMAND in the background, stdout+stderr to
# $E2E_SCENARIO_DIR/NAME.log (stdin: the never-ending sleep FIFO, so tools that
# quit at stdin EOF, like btmgmt, keep running).
start_bg() {
	local name=$1
	shift
	"$@" <&"$E2E_SLEEP_FD" >>"$E2E_SCENARIO_DIR/$name.log" 2>&1 &
	E2E_PIDS[$name]=$!
	e2e_log "started $name (pid $!): $*"
}

# bg_running NAME: 0 while NAME is alive.
bg_running() {
	local pid=${E2E_PIDS[$1]:-}
	[[ -n $pid ]] && kill -0 "$pid" 2>/dev/null
}

# stop_bg NAME [SIGNAL]: send SIGNAL (default TERM), wait up to 5 s, then KILL.
# REPLY = NAME's exit status (128+n when killed by signal n).
stop_bg() {
	local name=$1 sig=${2:-TERM} pid=${E2E_PIDS[$1]:-}
	REPLY=
	[[ -n $pid ]] || return 0
	kill "-$sig" "$pid" 2>/dev/null || true
	if ! wait_until 5 0.1 _e2e_dead "$pid"; then
		e2e_log "$name (pid $pid) ignored SIG$sig: killing it"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	local rc=0
	wait "$pid" 2>/dev/null || rc=$?
	unset "E2E_PIDS[$name]"
	REPLY=$rc
	e2e_log "stopped $name (status $rc)"
}

_e2e_dead() {
	# A zombie child still answers kill -0; its /proc stat state is Z.
	local stat
	{ read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 0
	stat=${stat##*) }
	[[ ${stat%% *} == Z ]]
}

# wait_bg NAME TIMEOUT_SECONDS: wait for NAME to exit by itself; REPLY = its
# status. 1 (and NAME still running) after the deadline.
wait_bg() {
	local name=$1 pid=${E2E_PIDS[$1]:?wait_bg: $1 not started}
	wait_until "$2" 0.1 _e2e_dead "$pid" || return 1
	local rc=0
	wait "$pid" 2>/dev/null || rc=$?
	unset "E2E_PIDS[$name]"
	REPLY=$rc
	e2e_log "$name exited (status $rc)"
}

# Called when a scenario subshell exits: stop what it left running.
_e2e_stop_all() {
	local name
	for name in "${!E2E_PIDS[@]}"; do
		stop_bg "$name" >/dev/null
	done
}

# --- adapters (D-Bus through dbus-send: one fork each) -------------------------------

# adapter_prop hciN INTERFACE PROPERTY: REPLY = the property's value as printed
# by dbus-send (e.g. "true", "1", "00:AA:01:00:00:23").
adapter_prop() {
	local out
	out=$(dbus-send --system --print-reply=literal --dest=org.bluez "/org/bluez/$1" \
		org.freedesktop.DBus.Properties.Get "string:$2" "string:$3" 2>/dev/null) || return 1
	out=${out##*variant+( )}
	out=${out#@(boolean|byte|string|uint16|uint32|int16|int32) }
	REPLY=${out%%+([[:space:]])}
}

# adapter_powered hciN: 0 when Adapter1.Powered is true.
adapter_powered() { adapter_prop "$1" org.bluez.Adapter1 Powered && [[ $REPLY == true ]]; }

# adapter_advertising hciN: 0 when at least one advertisement is registered.
adapter_advertising() {
	adapter_prop "$1" org.bluez.LEAdvertisingManager1 ActiveInstances && [[ $REPLY =~ ^[1-9] ]]
}

# device_prop hciN ADDRESS PROPERTY: REPLY = org.bluez.Device1 PROPERTY of the
# device object ADDRESS known to adapter hciN; 1 when there is no such object.
device_prop() {
	adapter_prop "$1/dev_${2//:/_}" org.bluez.Device1 "$3"
}

# device_is hciN ADDRESS PROPERTY VALUE: 0 when org.bluez.Device1 PROPERTY is VALUE.
device_is() { device_prop "$1" "$2" "$3" && [[ $REPLY == "$4" ]]; }

# --- bluetoothctl sessions ---------------------------------------------------------

declare -gA _E2E_CTL_FD=() _E2E_CTL_ADAPTER=() _E2E_CTL_ADDR=()

# ctl_start NAME [ADAPTER_ADDRESS [BLUETOOTHCTL_OPTION...]]: a bluetoothctl fed
# through a FIFO, output in ctl-NAME.log (line-buffered), with a cursor named
# ctl-NAME. Waits until its agent is registered (commands sent earlier are lost)
# and selects the adapter. E.g. ctl_start periph "$E2E_PERIPHERAL_ADDR" --agent NoInputNoOutput
ctl_start() {
	local name=$1 address=${2:-} fifo=$E2E_RUN/ctl-$E2E_SCENARIO-$1.fifo
	shift $(($# < 2 ? $# : 2))
	local log=$E2E_SCENARIO_DIR/ctl-$name.log
	rm -f "$fifo"
	mkfifo "$fifo"
	: >>"$log"
	cursor_open "ctl-$name" "$log" start
	stdbuf -oL -eL bluetoothctl "$@" <"$fifo" >>"$log" 2>&1 &
	E2E_PIDS[ctl-$name]=$!
	local fd
	exec {fd}>"$fifo"
	_E2E_CTL_FD[$name]=$fd
	e2e_log "started bluetoothctl $name (pid ${E2E_PIDS[ctl-$name]})${*:+ with $*}"
	ctl_wait "$name" 'Agent registered' 15 || e2e_fail "bluetoothctl $name: no 'Agent registered'"
	if [[ -n $address ]]; then
		_E2E_CTL_ADDR[$name]=$address
		if [[ $address == "${E2E_CENTRAL_ADDR:-}" ]]; then
			_E2E_CTL_ADAPTER[$name]=$E2E_CENTRAL
		elif [[ $address == "${E2E_PERIPHERAL_ADDR:-}" ]]; then
			_E2E_CTL_ADAPTER[$name]=$E2E_PERIPHERAL
		fi
		ctl_cmd "$name" "select $address"
		ctl_cmd "$name" "show"
		ctl_wait "$name" "Controller $address" 10 || e2e_fail "bluetoothctl $name: cannot select $address"
	fi
}

# ctl_cmd NAME COMMAND: send one line to bluetoothctl NAME.
ctl_cmd() {
	e2e_log "ctl $1> $2"
	printf '%s\n' "$2" >&"${_E2E_CTL_FD[$1]:?ctl_cmd: no bluetoothctl $1}"
}

# ctl_wait NAME REGEX TIMEOUT: cursor_wait on bluetoothctl NAME's output.
ctl_wait() { cursor_wait "ctl-$1" "$2" "$3"; }

# ctl_stop NAME: quit bluetoothctl NAME.
ctl_stop() {
	local name=$1 fd=${_E2E_CTL_FD[$1]:-}
	[[ -n $fd ]] || return 0
	printf 'quit\n' 1>&"$fd" 2>/dev/null || true
	exec {fd}>&-
	unset "_E2E_CTL_FD[$name]"
	if ! wait_bg "ctl-$name" 5; then
		stop_bg "ctl-$name"
	fi
}

# ctl_find NAME ADDRESS TIMEOUT: scan with bluetoothctl NAME until ADDRESS shows
# up, restarting discovery when a round of 2 s (counted from "Discovering: yes")
# finds nothing. REPLY = seconds it took. A device object that already exists
# counts as found.
# Why restart: btdev reports an advertiser once, when scanning (or advertising)
# is enabled, and the kernel drops that report when it arrives before its
# discovery state has left "starting" (notes/bluez-vm.md "Scan race"; seen in
# btmon.txt as an LE Advertising Report without a following MGMT Device Found).
# Each round waits for discovery to be really on, then really off: a "scan on"
# sent while the previous stop is in progress fails (InProgress) and a round is
# lost, which is what happens on a loaded host without these waits.
ctl_find() {
	local name=$1 address=$2 timeout=$3 start deadline round=0
	e2e_us
	start=$REPLY
	e2e_secs_to_us "$timeout"
	deadline=$((start + REPLY))
	local adapter=${_E2E_CTL_ADAPTER[$name]:-} own=${_E2E_CTL_ADDR[$name]:-}
	if [[ -n $adapter ]] && device_prop "$adapter" "$address" Address; then
		e2e_log "$address: device object already known to $adapter"
		REPLY=0.00
		return 0
	fi
	local found="(NEW|CHG)\] Device $address"
	local on="Controller ${own:-[0-9A-F:]+} Discovering: yes|Failed to start discovery"
	local off="Controller ${own:-[0-9A-F:]+} Discovering: no|Failed to stop discovery"
	while :; do
		round=$((round + 1))
		ctl_cmd "$name" "scan on"
		ctl_wait "$name" "$found|$on" 15 || true
		if [[ $REPLY =~ $found ]] || ctl_wait "$name" "$found" 2; then
			e2e_fmt_us $((${EPOCHREALTIME/./} - start))
			e2e_log "found $address in round $round after ${REPLY}s"
			return 0
		fi
		ctl_cmd "$name" "scan off"
		if ((${EPOCHREALTIME/./} >= deadline)); then
			return 1
		fi
		e2e_log "round $round: $address not found: restarting discovery"
		ctl_wait "$name" "$found|$off" 15 || true
		if [[ $REPLY =~ $found ]]; then
			e2e_fmt_us $((${EPOCHREALTIME/./} - start))
			e2e_log "found $address while stopping round $round after ${REPLY}s"
			return 0
		fi
	done
}

# --- GATT through a bluetoothctl session (ctl_start) --------------------------------

# bluetoothctl prints a value as a hex dump, 16 bytes a line, after its prompt
# ("[Roller:/service0015/char0022]#    01 04 03 07 ..."): E2E_CTL_HEX matches
# where such a line starts; append the first bytes ("${E2E_CTL_HEX}01 04 ").
E2E_CTL_HEX='(^|# )[[:space:]]*'

# ctl_gatt_select NAME UUID: select the characteristic UUID in bluetoothctl
# NAME's gatt menu (the device must be connected, services resolved).
ctl_gatt_select() {
	ctl_cmd "$1" "gatt.select-attribute $2"
	ctl_wait "$1" "char[0-9a-f]{4}\]|No attribute|Attribute .* not found" 10 ||
		e2e_fail "select-attribute $2: no answer"
	[[ $REPLY == *char* ]] || e2e_fail "select-attribute $2: $REPLY"
}

# ctl_gatt_notify NAME UUID: StartNotify on UUID (notifications or indications).
ctl_gatt_notify() {
	ctl_gatt_select "$1" "$2"
	ctl_cmd "$1" "gatt.notify on"
	ctl_wait "$1" 'Notify started|Failed to start notify' 20 || e2e_fail "notify on $2: no answer"
	[[ $REPLY == *"Notify started"* ]] || e2e_fail "notify on $2: $REPLY"
}

# ctl_gatt_write NAME UUID HEXBYTES...: write the bytes ("01 03 02 08 21") to
# UUID. REPLY = bluetoothctl's first answer ("Attempting to write ..." or
# "Failed to write ..."; a write that needs pairing may answer later).
ctl_gatt_write() {
	local name=$1 uuid=$2 bytes='' b
	shift 2
	for b in "$@"; do bytes+="${bytes:+ }0x$b"; done
	ctl_gatt_select "$name" "$uuid"
	ctl_cmd "$name" "gatt.write \"$bytes\""
	ctl_wait "$name" 'Failed to write|Attempting to write|Write successful' 30 ||
		e2e_fail "write to $uuid: no answer in 30 s"
}

# ctl_hex_bytes LINE: the bytes of a bluetoothctl hex dump line, as an array in
# E2E_HEX_BYTES and as text ("01 04 03 ...") in REPLY.
ctl_hex_bytes() {
	local word
	E2E_HEX_BYTES=()
	for word in ${1##*# }; do
		[[ $word =~ ^[0-9a-f]{2}$ ]] || break
		E2E_HEX_BYTES+=("$word")
	done
	REPLY=${E2E_HEX_BYTES[*]}
}

# --- the programs under test -----------------------------------------------------

# Options that select the adapter of each program. Adjust here when the real
# command lines are known (design: both programs take an adapter option).
E2E_PERIPH_ARGS=(--adapter "${E2E_PERIPHERAL:-hci1}")
E2E_ROLLER_ARGS=(--adapter "${E2E_CENTRAL:-hci0}")

# start_periph [ARGS...]: start roller-periph on the peripheral adapter (log
# periph.log) and wait until its advertisement is registered with bluetoothd.
start_periph() {
	e2e_require_bin ROLLER_PERIPH_BIN
	start_bg periph "$ROLLER_PERIPH_BIN" "${E2E_PERIPH_ARGS[@]}" "$@"
	local start=${EPOCHREALTIME/./}
	wait_until 15 0.2 _e2e_periph_advertising || {
		bg_running periph || e2e_fail "roller-periph exited before advertising (see periph.log)"
		e2e_fail "roller-periph did not register an advertisement on $E2E_PERIPHERAL in 15 s"
	}
	e2e_fmt_us $((${EPOCHREALTIME/./} - start))
	e2e_step "roller-periph advertising after ${REPLY}s"
}
_e2e_periph_advertising() {
	bg_running periph || return 0 # stop waiting; start_periph reports it
	adapter_advertising "$E2E_PERIPHERAL"
}

# periph_drop_link: the peripheral's controller ends the link to the central
# (Device1.Disconnect on the peripheral adapter; bluetoothd answers once the
# link is down). Output in the scenario's disconnect.log.
periph_drop_link() {
	timeout 15 dbus-send --system --print-reply --dest=org.bluez \
		"/org/bluez/$E2E_PERIPHERAL/dev_${E2E_CENTRAL_ADDR//:/_}" org.bluez.Device1.Disconnect \
		>>"$E2E_SCENARIO_DIR/disconnect.log" 2>&1 ||
		e2e_fail "Device1.Disconnect on $E2E_PERIPHERAL failed (disconnect.log)"
}

# periph_power_cut: the roller dies as a laptop sees it: its radio goes (the
# link drops), then its program is gone (roller-periph killed with -9, so
# nothing it would do on the way out happens).
# Not the -9 alone: bluetoothd 5.66 aborts when a GATT application vanishes
# with one of its indications unconfirmed (the late confirmation calls Confirm
# on the freed application; a real roller is not a bluetoothd application).
# A dropped link cancels the unconfirmed indication first.
periph_power_cut() {
	periph_drop_link
	stop_bg periph KILL
}

# run_roller NAME TIMEOUT ARGS...: run `roller ARGS` on the central adapter with a
# time limit, output in NAME.log. Returns roller's status, also in E2E_STATUS
# (124: timed out).
run_roller() {
	e2e_require_bin ROLLER_BIN
	local name=$1 limit=$2
	shift 2
	e2e_log "roller $* (limit ${limit}s, log $name.log)"
	local rc=0 start=${EPOCHREALTIME/./}
	timeout -k 5 "$limit" "$ROLLER_BIN" "${E2E_ROLLER_ARGS[@]}" "$@" \
		<&"$E2E_SLEEP_FD" >>"$E2E_SCENARIO_DIR/$name.log" 2>&1 || rc=$?
	e2e_fmt_us $((${EPOCHREALTIME/./} - start))
	e2e_step "roller $1 exited with $rc after ${REPLY}s"
	E2E_STATUS=$rc
	return "$rc"
}

# roller_bg NAME ARGS...: start `roller ARGS` in the background (log NAME.log);
# stop it with stop_bg NAME, follow it with cursor_open/cursor_wait.
roller_bg() {
	e2e_require_bin ROLLER_BIN
	local name=$1
	shift
	start_bg "$name" "$ROLLER_BIN" "${E2E_ROLLER_ARGS[@]}" "$@"
}

# --- session logs written by roller ------------------------------------------------

# roller_log_samples FILE NAME: checks the Measurement samples of the session
# log FILE (a .rlog of `roller coach` or `roller sync`): every sample index
# from the first to the last must be there exactly once, live or re-sent
# (RESEND_SAMPLES frames count, they fill gaps). Keeps `roller log dump FILE`
# as NAME.dump and the verdict as NAME.samples in the scenario directory.
# 0 when whole; 1 with REPLY = what is wrong, naming the first bad index
# ("samples 1200..1263 missing (64)", "sample 1200 twice ..."). Also sets
# E2E_LOG_FIRST, E2E_LOG_END (one past the last), E2E_LOG_FRAMES,
# E2E_LOG_RESENT (re-sent samples), E2E_LOG_SESSION_START/_END (sample of the
# roller's SESSION START / END marker, "" when none). Forks twice.
roller_log_samples() {
	local file=$1 name=$2 dir=$E2E_SCENARIO_DIR
	local re_m='measurement first=([0-9]+) time=[0-9]+ n=([0-9]+) flags=0x[0-9a-f]+([a-z,]*)'
	local re_s='session (start|end) id=[0-9]+ region=[^ ]+ sample=([0-9]+)'
	local -a n_at=()
	local line first n bad='' expect='' k
	E2E_LOG_FIRST='' E2E_LOG_END='' E2E_LOG_FRAMES=0 E2E_LOG_RESENT=0
	E2E_LOG_SESSION_START='' E2E_LOG_SESSION_END=''
	if ! "$ROLLER_BIN" log dump "$file" >"$dir/$name.dump" 2>&1; then
		REPLY="roller log dump $file failed (see $name.dump)"
		printf 'BAD: %s\n' "$REPLY" >"$dir/$name.samples"
		return 1
	fi
	# Only the fields (the force lists make the lines long): one grep.
	grep -oE "$re_m|$re_s" "$dir/$name.dump" >"$dir/$name.frames" || true
	while IFS= read -r line; do
		if [[ $line =~ $re_m ]]; then
			first=${BASH_REMATCH[1]} n=${BASH_REMATCH[2]}
			E2E_LOG_FRAMES=$((E2E_LOG_FRAMES + 1))
			[[ ${BASH_REMATCH[3]} == *resent* ]] && E2E_LOG_RESENT=$((E2E_LOG_RESENT + n))
			if [[ -n ${n_at[first]:-} && -z $bad ]]; then
				bad="sample $first twice (two frames start there, $n and ${n_at[first]} samples)"
			fi
			((n > ${n_at[first]:-0})) && n_at[first]=$n
		elif [[ $line =~ $re_s ]]; then
			if [[ ${BASH_REMATCH[1]} == start ]]; then
				E2E_LOG_SESSION_START=${BASH_REMATCH[2]}
			else
				E2E_LOG_SESSION_END=${BASH_REMATCH[2]}
			fi
		fi
	done <"$dir/$name.frames"
	for k in "${!n_at[@]}"; do
		if [[ -z $expect ]]; then
			E2E_LOG_FIRST=$k
		elif ((k < expect)) && [[ -z $bad ]]; then
			bad="sample $k twice (its frame $k..$((k + n_at[k] - 1)) overlaps the one before, which ends at $((expect - 1)))"
		elif ((k > expect)) && [[ -z $bad ]]; then
			bad="samples $expect..$((k - 1)) missing ($((k - expect)))"
		fi
		((k + n_at[k] > ${expect:-0})) && expect=$((k + n_at[k]))
	done
	E2E_LOG_END=$expect
	[[ -n $expect || -n $bad ]] || bad="no Measurement samples in $file"
	printf -v line '%s: %s frames, samples %s..%s, %s re-sent, session markers start=%s end=%s' \
		"$file" "$E2E_LOG_FRAMES" "${E2E_LOG_FIRST:-?}" "$((${E2E_LOG_END:-0} - 1))" \
		"$E2E_LOG_RESENT" "${E2E_LOG_SESSION_START:--}" "${E2E_LOG_SESSION_END:--}"
	if [[ -n $bad ]]; then
		REPLY=$bad
		printf '%s\nBAD: %s\n' "$line" "$bad" >"$dir/$name.samples"
		return 1
	fi
	REPLY=$line
	printf '%s\nOK: every sample once\n' "$line" >"$dir/$name.samples"
	return 0
}

# --- registration ------------------------------------------------------------------

E2E_SCENARIOS=()
declare -gA E2E_SCENARIO_TIMEOUT=() E2E_SCENARIO_TITLE=()
# [firmware hook] btvirt options a scenario needs when they are not the
# runner's default "-L -l2" (runner.sh restarts btvirt before it).
declare -gA E2E_SCENARIO_BTVIRT=()

# e2e_scenario NAME TIMEOUT_SECONDS TITLE: register function scenario_NAME; the
# runner calls them in registration order, each in its own subshell.
e2e_scenario() {
	E2E_SCENARIOS+=("$1")
	E2E_SCENARIO_TIMEOUT[$1]=$2
	E2E_SCENARIO_TITLE[$1]=$3
}
