# shellcheck shell=bash
# tests/e2e/scenarios/roller.sh: the Roller end-to-end scenarios (design.md tier
# 5): roller-periph (device/linux) on hci1, the `roller` CLI on hci0, one boot,
# in this order (later ones use the bond and sessions of earlier ones):
#
#   roller_scan              roller scan finds roller-periph
#   roller_control_unbonded  encrypted but unbonded link: state-changing
#                            Control Point requests answered NOT_AUTHORIZED
#                            (bluetoothctl; before any bond exists)
#   roller_pair              the bond every later scenario uses
#   roller_coach_json        live coaching; no sequence gap in the stream or log
#   roller_reconnect         link dropped mid-hold, roller-periph alive: the
#                            session log has no hole (RESEND_SAMPLES)
#   roller_restart           the roller's power cut mid-hold (periph_power_cut),
#                            roller-periph started again
#   roller_sync              a session recorded with no laptop around, synced,
#                            the download interrupted by a power cut
#   roller_replay            replays roller_reconnect's session
#   roller_forget_pair       forget, pair again (leaves a bond, as found)
#
# Each scenario SKIPs while ROLLER_BIN / ROLLER_PERIPH_BIN are not given.

# Options added in front of every command (lib.sh defaults: --adapter hciN).
#   E2E_PERIPH_ARGS=(--adapter hci1)    E2E_ROLLER_ARGS=(--adapter hci0)
# roller-periph options that make the simulated person hold on a spot soon and
# often, so that coach scenarios see a hold within their time limit.
E2E_PERIPH_HOLD_ARGS=(--speed 4)
# What `roller coach --json` prints (one JSON object per line).
E2E_RE_JSON='^[[:space:]]*\{.*\}[[:space:]]*$'
# roller coach --json: {"event":"cue","cue":"hold-start",...} and
# {"event":"link","state":"connecting|connected|lost|ended|failed"} (host/ui/src/json.c).
E2E_RE_HOLD_START='"cue"[[:space:]]*:[[:space:]]*"hold-start"'
E2E_RE_DISCONNECTED='"event":"link","state":"lost"'
E2E_RE_RECONNECTED='"event":"link","state":"connected"'
E2E_RE_SUMMARY='"event":"summary"'
# Roller service characteristics (protocol/README.md 2.1).
E2E_UUID_CONTROL=7e3a1003-5c2b-4d8e-9f41-3b6c2a1d0e01
# Where roller keeps session logs in the guest ($HOME=/root).
E2E_SESSIONS=${XDG_DATA_HOME:-$HOME/.local/share}/roller/sessions

# --- helpers of these scenarios ------------------------------------------------------

# roller_json_int LINE KEY: REPLY = the integer KEY of a JSON line; 1 if absent.
roller_json_int() {
	local re="\"$2\":(-?[0-9]+)"
	[[ $1 =~ $re ]] || return 1
	REPLY=${BASH_REMATCH[1]}
}

# roller_session_path LOG: REPLY = the session log `roller coach` named in its
# output LOG ("Session log: /root/.../x.rlog").
roller_session_path() {
	wait_for_line "$1" '^Session log: ' 1 || return 1
	REPLY=${REPLY#Session log: }
}

# roller_new_session BEFORE...: REPLY = the session log file that is not one
# of BEFORE (the files that were there before); 1 while there is none.
roller_new_session() {
	local f old
	for f in "$E2E_SESSIONS"/*.rlog; do
		[[ -f $f ]] || continue
		for old in "$@"; do
			[[ $f == "$old" ]] && continue 2
		done
		REPLY=$f
		return 0
	done
	return 1
}

# roller_check_summary LOG: the summary line roller coach --json printed at its
# end; REPLY = it. Fails the scenario when there is none.
roller_check_summary() {
	wait_for_line "$1" "$E2E_RE_SUMMARY" 1 || e2e_fail "roller coach printed no summary (${1##*/})"
}

# roller_trace_lines SECONDS NEWTONS: REPLY = SECONDS of trace lines (device/
# linux/README.md "Trace files", 80 samples a second) at a steady NEWTONS. No
# fork; write the text with one printf (9p writes are slow).
roller_trace_lines() {
	printf -v REPLY '%*s' $(($1 * 80)) ''
	REPLY=${REPLY// /$2$'\n'}
}

# --- scenarios ------------------------------------------------------------------------

# The roller starts advertising while roller scan is scanning, as when a user
# wakes it up: btvirt reports an advertiser that was already there only once,
# when scanning is enabled, and that report can race the kernel's discovery
# state (see _roller_pair_new); a real controller keeps reporting.
e2e_scenario roller_scan 60 "roller scan finds roller-periph"
scenario_roller_scan() {
	e2e_require_bin ROLLER_BIN ROLLER_PERIPH_BIN
	cursor_open scan "$E2E_SCENARIO_DIR/scan.log"
	roller_bg scan scan --timeout 40
	cursor_wait scan 'Scanning for rollers' 20 || e2e_fail "roller scan did not start (scan.log)"
	start_periph
	cursor_wait scan "$E2E_PERIPHERAL_ADDR" 35 ||
		e2e_fail "roller scan did not list $E2E_PERIPHERAL_ADDR (scan.log)"
	stop_bg scan INT
}

# Model: fw_control_unbonded (firmware.sh). There the firmware answers ATT
# Insufficient Authorization; roller-periph's Control Point is encrypt-write,
# so an encrypted link gets through to the core, which answers every
# state-changing request NOT_AUTHORIZED (status 4, protocol/README.md 5.3) in
# its CONTROL_RESPONSE indication unless the link is bonded.
e2e_scenario roller_control_unbonded 120 "encrypted, unbonded central: state-changing Control Point writes answered NOT_AUTHORIZED, nothing changes"
scenario_roller_control_unbonded() {
	e2e_require_bin ROLLER_PERIPH_BIN
	local dir=$E2E_SCENARIO_DIR hex=$E2E_CTL_HEX
	if device_prop "$E2E_CENTRAL" "$E2E_PERIPHERAL_ADDR" Bonded && [[ $REPLY == true ]]; then
		e2e_fail "hci0 is bonded with roller-periph already: this scenario must run before roller_pair"
	fi
	trap '_roller_unbonded_cleanup; _e2e_stop_all' EXIT
	# No load on the roller: no automatic session, nothing changes by itself.
	roller_trace_lines 2 0
	printf 'rate 80\n%s' "$REPLY" >"$dir/empty.trace"
	cursor_open periph "$dir/periph.log"
	start_periph -v --trace "$dir/empty.trace"
	ctl_start central "$E2E_CENTRAL_ADDR"
	# Not bondable: the first write's implicit pairing (BlueZ raises the
	# security on Insufficient Encryption) gives an encrypted link, no bond.
	ctl_cmd central "pairable off"
	ctl_wait central 'Changing pairable off succeeded|Failed' 10 || e2e_fail "pairable off: no answer"
	[[ $REPLY == *succeeded* ]] || e2e_fail "pairable off: $REPLY"
	ctl_find central "$E2E_PERIPHERAL_ADDR" 30 || e2e_fail "hci0 did not find roller-periph"
	ctl_cmd central "scan off"
	ctl_cmd central "connect $E2E_PERIPHERAL_ADDR"
	ctl_wait central 'Connection successful|Failed to connect' 30 || e2e_fail "connect: no answer in 30 s"
	[[ $REPLY == *successful* ]] || e2e_fail "connect: $REPLY"
	wait_until 30 0.2 device_is "$E2E_CENTRAL" "$E2E_PERIPHERAL_ADDR" ServicesResolved true ||
		e2e_fail "services not resolved in 30 s"
	ctl_gatt_notify central "$E2E_UUID_CONTROL"
	e2e_step "connected, Control Point indications on"

	# GET_HOLD (no authorisation needed), token 0x21: what is in force.
	ctl_gatt_write central "$E2E_UUID_CONTROL" 01 03 02 08 21
	[[ $REPLY != *"Failed to write"* ]] || e2e_fail "GET_HOLD write refused: $REPLY"
	ctl_wait central "${hex}01 04 [0-9a-f]{2} 08 21 |Failed to write|Accept pairing" 30 ||
		e2e_fail "no answer to GET_HOLD in 30 s (ctl-central.log)"
	if [[ $REPLY == *"Accept pairing"* ]]; then
		ctl_cmd central "yes"
		ctl_wait central "${hex}01 04 [0-9a-f]{2} 08 21 |Failed to write" 30 ||
			e2e_fail "no answer to GET_HOLD in 30 s (ctl-central.log)"
	fi
	[[ $REPLY != *"Failed to write"* ]] || e2e_fail "GET_HOLD write refused: $REPLY"
	ctl_hex_bytes "$REPLY"
	[[ ${E2E_HEX_BYTES[5]:-} == 00 && ${#E2E_HEX_BYTES[@]} -ge 16 ]] ||
		e2e_fail "GET_HOLD answered '$REPLY', not OK with 10 bytes of parameters"
	local hold_before=${E2E_HEX_BYTES[*]:6:10}
	e2e_step "GET_HOLD: OK, in force: $hold_before"
	# The precondition, as the roller sees it.
	cursor_wait periph "link to $E2E_CENTRAL_ADDR: encrypted, not bonded" 10 ||
		e2e_fail "roller-periph did not report an encrypted, unbonded link (periph.log)"
	if device_prop "$E2E_CENTRAL" "$E2E_PERIPHERAL_ADDR" Bonded && [[ $REPLY == true ]]; then
		e2e_fail "a bond was made although hci0 was not bondable"
	fi

	# SET_HOLD, token 0x22: band 200.0-350.0 N, hold 30 s, grace 1500 ms,
	# contact 12.0 N (valid parameters: only the authorisation can refuse it).
	local hold_new='d0 07 ac 0d 1e 00 dc 05 78 00'
	[[ $hold_new != "$hold_before" ]] || e2e_fail "the new hold parameters are those in force already"
	# shellcheck disable=SC2086 # the bytes are words on purpose
	ctl_gatt_write central "$E2E_UUID_CONTROL" 01 03 0c 07 22 $hold_new
	[[ $REPLY != *"Failed to write"* ]] || e2e_fail "SET_HOLD write refused by BlueZ: $REPLY"
	ctl_wait central "${hex}01 04 [0-9a-f]{2} 07 22 " 30 || e2e_fail "no answer to SET_HOLD in 30 s"
	ctl_hex_bytes "$REPLY"
	[[ ${E2E_HEX_BYTES[5]} == 04 ]] ||
		e2e_fail "SET_HOLD from an unbonded central answered status ${E2E_HEX_BYTES[5]} ($REPLY), not 04 NOT_AUTHORIZED"
	[[ ${E2E_HEX_BYTES[2]} == 03 ]] || e2e_fail "a NOT_AUTHORIZED response with a result: $REPLY"
	e2e_step "SET_HOLD: NOT_AUTHORIZED ($REPLY)"

	# START_SESSION (region calves), token 0x23.
	ctl_gatt_write central "$E2E_UUID_CONTROL" 01 03 03 05 23 01
	ctl_wait central "${hex}01 04 [0-9a-f]{2} 05 23 " 30 || e2e_fail "no answer to START_SESSION in 30 s"
	ctl_hex_bytes "$REPLY"
	[[ ${E2E_HEX_BYTES[5]} == 04 ]] ||
		e2e_fail "START_SESSION from an unbonded central answered status ${E2E_HEX_BYTES[5]} ($REPLY), not 04 NOT_AUTHORIZED"
	e2e_step "START_SESSION: NOT_AUTHORIZED"

	# Nothing changed: the parameters in force, and no session recorded.
	ctl_gatt_write central "$E2E_UUID_CONTROL" 01 03 02 08 24
	ctl_wait central "${hex}01 04 [0-9a-f]{2} 08 24 " 30 || e2e_fail "no answer to the second GET_HOLD"
	ctl_hex_bytes "$REPLY"
	[[ ${E2E_HEX_BYTES[5]} == 00 ]] || e2e_fail "second GET_HOLD: $REPLY"
	[[ ${E2E_HEX_BYTES[*]:6:10} == "$hold_before" ]] ||
		e2e_fail "the hold parameters changed from '$hold_before' to '${E2E_HEX_BYTES[*]:6:10}' after a refused SET_HOLD"
	ctl_gatt_write central "$E2E_UUID_CONTROL" 01 03 02 09 25 # LOG_INFO
	ctl_wait central "${hex}01 04 [0-9a-f]{2} 09 25 " 30 || e2e_fail "no answer to LOG_INFO"
	ctl_hex_bytes "$REPLY"
	[[ ${E2E_HEX_BYTES[5]} == 00 ]] || e2e_fail "LOG_INFO: $REPLY"
	# sessions u16 at frame offset 14 (bluetoothctl's first line holds 16 bytes).
	[[ ${E2E_HEX_BYTES[14]}${E2E_HEX_BYTES[15]} == 0000 ]] ||
		e2e_fail "LOG_INFO counts sessions (${E2E_HEX_BYTES[14]} ${E2E_HEX_BYTES[15]}) after a refused START_SESSION: $REPLY"
	e2e_step "unchanged: hold parameters $hold_before, no session in the log"

	_roller_unbonded_cleanup
	{ adapter_prop "$E2E_CENTRAL" org.bluez.Adapter1 Pairable && [[ $REPLY == true ]]; } ||
		e2e_fail "hci0 not pairable again after the scenario"
	ctl_stop central
}
# Disconnect, forget the unbonded pairing (roller pair must pair from scratch),
# hci0 pairable again.
_roller_unbonded_cleanup() {
	local dev=/org/bluez/$E2E_CENTRAL/dev_${E2E_PERIPHERAL_ADDR//:/_}
	local peer=/org/bluez/$E2E_PERIPHERAL/dev_${E2E_CENTRAL_ADDR//:/_}
	dbus-send --system --print-reply --dest=org.bluez "$dev" org.bluez.Device1.Disconnect >/dev/null 2>&1
	# From the peripheral's side too: a link left up there keeps hci1 from
	# advertising, and the next scenario's `roller pair` finds nothing.
	dbus-send --system --print-reply --dest=org.bluez "$peer" org.bluez.Device1.Disconnect >/dev/null 2>&1
	dbus-send --system --print-reply --dest=org.bluez "/org/bluez/$E2E_CENTRAL" \
		org.bluez.Adapter1.RemoveDevice "objpath:$dev" >/dev/null 2>&1
	dbus-send --system --print-reply --dest=org.bluez "/org/bluez/$E2E_CENTRAL" \
		org.freedesktop.DBus.Properties.Set string:org.bluez.Adapter1 string:Pairable \
		variant:boolean:true >/dev/null 2>&1
	wait_until 30 0.5 _roller_link_down ||
		e2e_log "warning: the link hci0-hci1 is still up 30 s after the clean-up"
	return 0
}

# _roller_link_down: 0 when neither adapter reports the other as connected.
_roller_link_down() {
	! { device_prop "$E2E_CENTRAL" "$E2E_PERIPHERAL_ADDR" Connected && [[ $REPLY == true ]]; } &&
		! { device_prop "$E2E_PERIPHERAL" "$E2E_CENTRAL_ADDR" Connected && [[ $REPLY == true ]]; }
}

# _roller_pair_new NAME: `roller pair` of a roller hci0 does not know (log
# NAME.log), with roller-periph started only once it is looking. btvirt
# answers a scan with each advertiser once, at the moment scanning is
# enabled, which can be before the kernel counts discovery as running: that
# report is dropped and, with duplicate filtering, no other comes until the
# next restart (seen: 30 s without a find). A real controller repeats its
# reports; an advertiser that starts during the scan is reported at once.
# E2E_STATUS = roller pair's exit status.
_roller_pair_new() {
	local name=$1
	dbus-send --system --print-reply --dest=org.bluez "/org/bluez/$E2E_CENTRAL" \
		org.bluez.Adapter1.RemoveDevice \
		"objpath:/org/bluez/$E2E_CENTRAL/dev_${E2E_PERIPHERAL_ADDR//:/_}" >/dev/null 2>&1 || true
	cursor_open "$name" "$E2E_SCENARIO_DIR/$name.log"
	roller_bg "$name" pair "$E2E_PERIPHERAL_ADDR"
	cursor_wait "$name" 'Looking for' 30 || e2e_fail "roller pair did not start looking ($name.log)"
	start_periph
	wait_bg "$name" 60 || e2e_fail "roller pair did not finish within 60 s ($name.log)"
	E2E_STATUS=$REPLY
}

e2e_scenario roller_pair 90 "roller pair: LE Secure Connections, bonded, trusted, default roller"
scenario_roller_pair() {
	e2e_require_bin ROLLER_BIN ROLLER_PERIPH_BIN
	_roller_pair_new pair
	((E2E_STATUS == 0)) || e2e_fail "roller pair exited with $E2E_STATUS (pair.log)"
	device_is "$E2E_CENTRAL" "$E2E_PERIPHERAL_ADDR" Paired true || e2e_fail "not Paired after roller pair"
	device_is "$E2E_CENTRAL" "$E2E_PERIPHERAL_ADDR" Bonded true || e2e_fail "not Bonded after roller pair"
	device_is "$E2E_CENTRAL" "$E2E_PERIPHERAL_ADDR" Trusted true || e2e_fail "not Trusted after roller pair"
	# Pair on a bonded device must not call Pair again (pitfalls 14): a second
	# `roller pair` says so and succeeds or fails cleanly, never hangs.
	run_roller pair-again 30 pair "$E2E_PERIPHERAL_ADDR" || true
	[[ $E2E_STATUS != 124 ]] || e2e_fail "a second roller pair hung"
}

e2e_scenario roller_coach_json 150 "roller coach --json: samples stream and a hold starts; no sequence gap live or in the log"
scenario_roller_coach_json() {
	e2e_require_bin ROLLER_BIN ROLLER_PERIPH_BIN
	start_periph "${E2E_PERIPH_HOLD_ARGS[@]}"
	cursor_open coach "$E2E_SCENARIO_DIR/coach.log"
	roller_bg coach coach --json "$E2E_PERIPHERAL_ADDR"
	cursor_wait coach "$E2E_RE_JSON" 40 || e2e_fail "no JSON line from roller coach in 40 s (coach.log)"
	e2e_step "first JSON line"
	cursor_wait coach "$E2E_RE_HOLD_START" 90 || e2e_fail "no hold start in 90 s (coach.log)"
	e2e_step "hold started"
	bg_running coach || e2e_fail "roller coach exited early"
	stop_bg coach INT
	[[ $REPLY == 0 || $REPLY == 130 ]] || e2e_fail "roller coach exited with $REPLY on SIGINT"
	# No sequence gap in what the coach saw: its summary counts index jumps
	# (gaps, samples_lost) and repeats (duplicates); each jump is also a
	# data-gap cue.
	roller_check_summary "$E2E_SCENARIO_DIR/coach.log"
	local summary=$REPLY key
	for key in gaps samples_lost duplicates resent; do
		roller_json_int "$summary" "$key" || e2e_fail "summary without \"$key\": $summary"
		[[ $REPLY == 0 ]] || e2e_fail "the live stream had $key = $REPLY (coach.log summary)"
	done
	roller_json_int "$summary" session_ms && e2e_metric session_ms "$REPLY"
	if grep -m1 '"cue":"data-gap"' "$E2E_SCENARIO_DIR/coach.log"; then
		e2e_fail "a data-gap cue in the live output (coach.log)"
	fi
	# ... and none in the session log it wrote.
	roller_session_path "$E2E_SCENARIO_DIR/coach.log" || e2e_fail "roller coach did not name its session log"
	roller_log_samples "$REPLY" session || e2e_fail "session log: $REPLY (session.samples, session.dump)"
	e2e_step "no gap: $REPLY"
	e2e_metric log_samples $((E2E_LOG_END - E2E_LOG_FIRST))
}

# The link drops while roller-periph keeps running (its controller ends the
# connection, as a roller out of range would): the samples of the outage are
# still in the roller's history (2048 samples), and the coach asks them back
# with RESEND_SAMPLES once reconnected. Half real time (--speed 0.5, the
# history lasts 51 s) and a trace, not the simulated person at --speed 4:
# there the history lasts 6.4 s, and reconnects took 3.4 to 30 s here (roller
# gives up a reconnect whose GATT objects do not appear within 10 s and tries
# again; ROLLER_BLUEZ_DEBUG=1 puts its reasons in coach.log). The hold comes
# when the trace says (a loop of 3 s off, 57 s at 250 N: in the band at 75 kg).
e2e_scenario roller_reconnect 180 "the link drops mid-hold (roller-periph keeps running): coach reports it, reconnects; the session log has no hole (RESEND)"
scenario_roller_reconnect() {
	e2e_require_bin ROLLER_BIN ROLLER_PERIPH_BIN
	local dir=$E2E_SCENARIO_DIR f session off
	local -a before=()
	for f in "$E2E_SESSIONS"/*.rlog; do
		[[ -f $f ]] && before+=("$f")
	done
	roller_trace_lines 3 0
	off=$REPLY
	roller_trace_lines 57 250
	printf 'rate 80\n%s%s' "$off" "$REPLY" >"$dir/hold.trace"
	start_periph --trace "$dir/hold.trace" --loop --speed 0.5
	cursor_open coach "$dir/coach.log"
	export ROLLER_BLUEZ_DEBUG=1 # this scenario's subshell only
	roller_bg coach coach --json "$E2E_PERIPHERAL_ADDR"
	cursor_wait coach "$E2E_RE_HOLD_START" 90 || e2e_fail "no hold start in 90 s (coach.log)"
	roller_new_session "${before[@]}" || e2e_fail "roller coach streams but wrote no session log"
	session=$REPLY
	e2e_step "hold started: roller-periph's controller drops the link"
	local start=${EPOCHREALTIME/./}
	periph_drop_link
	cursor_wait coach "$E2E_RE_DISCONNECTED" 30 || e2e_fail "roller coach did not report the drop (coach.log)"
	bg_running coach || e2e_fail "roller coach exited on the drop instead of reconnecting"
	bg_running periph || e2e_fail "roller-periph died"
	cursor_wait coach "$E2E_RE_RECONNECTED" 60 || e2e_fail "roller coach did not reconnect in 60 s (coach.log)"
	e2e_fmt_us $((${EPOCHREALTIME/./} - start))
	local took=$REPLY
	e2e_step "reconnected ${took}s after the drop"
	e2e_metric reconnect_s "$took"
	# The gap is asked back at the first live batch after the reconnect; wait
	# until the log holds every sample, some re-sent (each poll: roller log
	# dump). A steady trace gives no JSON line to wait for.
	if ! wait_until 30 1 _roller_log_whole_resent "$session"; then
		roller_log_samples "$session" session-live || true
		local why=$REPLY
		if wait_for_line "$dir/coach.log" 'could not re-send lost samples' 0; then
			why+="; roller coach said: ${REPLY#roller: }"
		fi
		e2e_fail "30 s after the reconnect the session log still has a hole: $why (session-live.samples)"
	fi
	e2e_step "the log is whole again (${E2E_LOG_RESENT} samples re-sent)"
	stop_bg coach INT
	[[ $REPLY == 0 || $REPLY == 130 ]] || e2e_fail "roller coach exited with $REPLY on SIGINT"
	roller_session_path "$dir/coach.log" || e2e_fail "roller coach did not name its session log"
	[[ $REPLY == "$session" ]] || e2e_fail "roller coach named $REPLY, not the log it was writing ($session)"
	# The final log: every sample once across the drop, the hole filled by
	# the re-sent samples.
	roller_log_samples "$session" session || e2e_fail "session log: $REPLY (session.samples, session.dump)"
	e2e_step "session log: $REPLY"
	((E2E_LOG_RESENT > 0)) || e2e_fail "no re-sent samples in the session log: the drop left no gap to fill?"
	e2e_metric log_samples $((E2E_LOG_END - E2E_LOG_FIRST))
	e2e_metric resent_samples "$E2E_LOG_RESENT"
	# The coach saw the jump live and counted every re-sent sample it ignored.
	roller_check_summary "$dir/coach.log"
	local summary=$REPLY lost resent
	roller_json_int "$summary" samples_lost || e2e_fail "summary without samples_lost"
	lost=$REPLY
	roller_json_int "$summary" resent || e2e_fail "summary without resent"
	resent=$REPLY
	((lost > 0)) || e2e_fail "the coach saw no gap across the drop (summary: $summary)"
	((resent == lost)) || e2e_fail "the coach lost $lost samples but $resent came back (summary)"
	((resent == E2E_LOG_RESENT)) || e2e_fail "the coach counted $resent re-sent samples, the log holds $E2E_LOG_RESENT"
	{ roller_json_int "$summary" duplicates && [[ $REPLY == 0 ]]; } || e2e_fail "duplicates in the live stream: $summary"
}
_roller_log_whole_resent() {
	roller_log_samples "$1" session-live && ((E2E_LOG_RESENT > 0))
}

e2e_scenario roller_restart 180 "the roller's power cut mid-hold, roller-periph started again: coach notices, reconnects, streams again"
scenario_roller_restart() {
	e2e_require_bin ROLLER_BIN ROLLER_PERIPH_BIN
	start_periph "${E2E_PERIPH_HOLD_ARGS[@]}"
	cursor_open coach "$E2E_SCENARIO_DIR/coach.log"
	roller_bg coach coach --json "$E2E_PERIPHERAL_ADDR"
	cursor_wait coach "$E2E_RE_HOLD_START" 90 || e2e_fail "no hold start in 90 s (coach.log)"
	e2e_step "hold started: the roller's power is cut"
	periph_power_cut
	wait_until 30 0.5 device_is "$E2E_CENTRAL" "$E2E_PERIPHERAL_ADDR" Connected false ||
		e2e_fail "hci0 still connected 30 s after roller-periph died"
	cursor_wait coach "$E2E_RE_DISCONNECTED" 30 || e2e_fail "roller coach did not report the drop (coach.log)"
	bg_running coach || e2e_fail "roller coach exited on the drop instead of reconnecting"
	start_periph "${E2E_PERIPH_HOLD_ARGS[@]}"
	cursor_wait coach "$E2E_RE_RECONNECTED" 60 || e2e_fail "roller coach did not reconnect in 60 s (coach.log)"
	e2e_step "reconnected"
	cursor_wait coach "$E2E_RE_JSON" 30 || e2e_fail "no JSON line after the reconnect"
	stop_bg coach INT
	# For the record, not asserted: a restarted roller-periph numbers its
	# samples from 0 again, so its samples repeat indexes the log already has.
	if roller_session_path "$E2E_SCENARIO_DIR/coach.log"; then
		roller_log_samples "$REPLY" session || true
		e2e_log "session log (not checked, the roller restarted): $REPLY"
	fi
}

# A session the roller records on its own (auto_session: contact while no
# central is connected starts one; auto_stop_s = 60 s without contact ends it),
# then roller sync downloads it. roller-periph #1 plays the trace at --speed 40
# into a --storage file and stops; #2 serves that flash at real time, and is
# cut off (periph_power_cut: link dropped, then killed -9) once the transfer is under way; #3 takes over the same flash and
# the same roller sync run must resume and complete. Its roller commands keep
# their sessions and sync state in a data directory of their own (on the
# guest's tmpfs; the saved session is copied to the scenario directory), so
# that the other scenarios' "newest session" is never this undated one.
ROLLER_SYNC_CONTACT_S=120 # seconds of steady load (250 N) in the recorded session
ROLLER_SYNC_STORAGE=/run/e2e/roller-sync-flash.bin
ROLLER_SYNC_DATA=/run/e2e/roller-sync-data
e2e_scenario roller_sync 180 "roller sync downloads a session recorded with no laptop connected, resumes after a power cut mid-transfer, stores every sample once"
scenario_roller_sync() {
	e2e_require_bin ROLLER_BIN ROLLER_PERIPH_BIN
	local dir=$E2E_SCENARIO_DIR load
	rm -rf "$ROLLER_SYNC_STORAGE" "$ROLLER_SYNC_DATA"
	export XDG_DATA_HOME=$ROLLER_SYNC_DATA # this scenario's subshell only
	# 1 s empty, CONTACT_S at 250 N (still: only the ADC noise), 75 s empty.
	roller_trace_lines "$ROLLER_SYNC_CONTACT_S" 250
	load=$REPLY
	roller_trace_lines 1 0
	local pre=$REPLY
	roller_trace_lines 75 0
	printf 'rate 80\n%s%s%s' "$pre" "$load" "$REPLY" >"$dir/record.trace"
	printf 'rate 80\n0\n' >"$dir/empty.trace"
	e2e_step "trace: $((ROLLER_SYNC_CONTACT_S + 76)) s, contact for ${ROLLER_SYNC_CONTACT_S} s"

	# The roller alone: no central connects while it records.
	cursor_open periph "$dir/periph.log"
	start_periph -v --trace "$dir/record.trace" --speed 40 --storage "$ROLLER_SYNC_STORAGE"
	cursor_wait periph 'trace ended|central .* connected' 60 || e2e_fail "roller-periph did not finish the trace in 60 s"
	[[ $REPLY == *"trace ended"* ]] || e2e_fail "a central connected while the roller recorded alone: $REPLY"
	stop_bg periph TERM
	[[ $REPLY == 0 ]] || e2e_fail "roller-periph exited with $REPLY on SIGTERM"
	e2e_step "recorded alone: the trace ended, automatic session over"

	# The roller again, at real time, an empty roller from now on.
	start_periph -v --trace "$dir/empty.trace" --storage "$ROLLER_SYNC_STORAGE"
	cursor_open sync "$dir/sync.log"
	roller_bg sync sync --json --wait 60 "$E2E_PERIPHERAL_ADDR"
	local start=${EPOCHREALTIME/./}
	cursor_wait periph 'log transfer: first chunk' 90 || e2e_fail "no log transfer started in 90 s (periph.log, sync.log)"
	e2e_step "transfer started: $REPLY"
	cursor_wait periph 'log transfer: ([0-9]+ chunks sent|END)' 60 || e2e_fail "the transfer did not go on (periph.log)"
	[[ $REPLY != *END* ]] || e2e_fail "the whole transfer went before it could be interrupted: $REPLY (make the session longer)"
	[[ $REPLY =~ ([0-9]+)\ chunks ]] && e2e_metric killed_after_chunks "${BASH_REMATCH[1]}"
	e2e_step "the roller's power is cut mid-transfer"
	periph_power_cut
	bg_running sync || e2e_fail "roller sync ended with the roller gone instead of waiting for it"
	start_periph -v --trace "$dir/empty.trace" --storage "$ROLLER_SYNC_STORAGE"
	wait_bg sync 150 || e2e_fail "roller sync did not end within 150 s (sync.log)"
	[[ $REPLY == 0 ]] || e2e_fail "roller sync exited with $REPLY (sync.log)"
	e2e_fmt_us $((${EPOCHREALTIME/./} - start))
	e2e_step "roller sync done after ${REPLY}s"

	# What it says: one complete session saved, after a resume.
	wait_for_line "$dir/sync.log" '^\{"summary":' 1 || e2e_fail "roller sync --json printed no summary"
	local summary=$REPLY key
	[[ $summary != *'"error"'* ]] || e2e_fail "roller sync reported an error: $summary"
	{ roller_json_int "$summary" sessions_saved && [[ $REPLY == 1 ]]; } ||
		e2e_fail "roller sync saved ${REPLY:-?} sessions, not 1: $summary"
	{ roller_json_int "$summary" sessions_incomplete && [[ $REPLY == 0 ]]; } || e2e_fail "an incomplete session: $summary"
	[[ $summary == *'"recording_left":false'* ]] || e2e_fail "the roller was still recording: $summary"
	{ roller_json_int "$summary" resumes && ((REPLY >= 1)); } || e2e_fail "no resume after the kill: $summary"
	{ roller_json_int "$summary" link_losses && ((REPLY >= 1)); } || e2e_fail "no link loss seen: $summary"
	for key in records bytes resumes link_losses; do
		roller_json_int "$summary" "$key" && e2e_metric "sync_$key" "$REPLY"
	done
	[[ $summary =~ \"seconds\":([0-9.]+) ]] && e2e_metric sync_seconds "${BASH_REMATCH[1]:0:6}"
	wait_for_line "$dir/sync.log" '^\{"session":"[^"]+","first_record":[0-9]+,"end_record":[0-9]+,"complete":true\}' 1 ||
		e2e_fail "no complete saved session in sync.log"
	[[ $REPLY =~ \"session\":\"([^\"]+)\" ]]
	local file=${BASH_REMATCH[1]//\\/} # json-c writes / as \/
	[[ -f $file ]] || e2e_fail "the saved session $file is not there"
	cp "$file" "$dir/"

	# The stored session: every sample of it once, from its SESSION START to
	# its SESSION END, and as long as the trace says it was.
	roller_log_samples "$file" synced || e2e_fail "synced session: $REPLY (synced.samples, synced.dump)"
	e2e_step "synced session: $REPLY"
	[[ -n $E2E_LOG_SESSION_START && -n $E2E_LOG_SESSION_END ]] ||
		e2e_fail "the synced session lacks its SESSION START or END marker (synced.dump)"
	((E2E_LOG_FIRST == E2E_LOG_SESSION_START)) ||
		e2e_fail "the session starts at sample $E2E_LOG_SESSION_START but its samples at $E2E_LOG_FIRST"
	((E2E_LOG_END == E2E_LOG_SESSION_END)) ||
		e2e_fail "the session ends before sample $E2E_LOG_SESSION_END but its samples at $E2E_LOG_END"
	local count=$((E2E_LOG_END - E2E_LOG_FIRST)) expect=$(((ROLLER_SYNC_CONTACT_S + 60) * 80))
	e2e_metric session_samples "$count"
	# Contact for CONTACT_S, then auto_stop_s (60 s) without: the filter
	# delays contact by a few samples at either end.
	((count >= expect - 40 && count <= expect + 40)) ||
		e2e_fail "the session holds $count samples; the trace makes $expect (+-40)"

	# Nothing twice: a second sync finds nothing new.
	run_roller sync-again 90 sync --json --wait 60 "$E2E_PERIPHERAL_ADDR" ||
		e2e_fail "the second roller sync exited with $E2E_STATUS (sync-again.log)"
	wait_for_line "$dir/sync-again.log" '^\{"summary":' 1 || e2e_fail "the second sync printed no summary"
	summary=$REPLY
	{ roller_json_int "$summary" sessions_saved && [[ $REPLY == 0 ]]; } ||
		e2e_fail "the second sync saved ${REPLY:-?} sessions: $summary"
	roller_json_int "$summary" records && e2e_metric sync_again_records "$REPLY"
	local -a E2E_ROLLER_ARGS=()
	run_roller sessions 30 sessions || e2e_fail "roller sessions exited with $? (sessions.log)"
	wait_for_line "$dir/sessions.log" "${file##*/}" 1 || e2e_fail "roller sessions does not list ${file##*/}"
}

e2e_scenario roller_replay 90 "roller replay of the reconnect session gives the events seen live"
scenario_roller_replay() {
	# It replays what roller_reconnect recorded against roller-periph (a
	# session with a drop, a reconnect and a gap fill).
	e2e_require_bin ROLLER_BIN ROLLER_PERIPH_BIN
	local live=$E2E_SCENARIO_DIR/../roller_reconnect/coach.log session
	[[ -f $live ]] || e2e_fail "no live output of roller_reconnect to compare with"
	roller_session_path "$live" || e2e_fail "roller_reconnect's coach named no session log"
	session=$REPLY
	[[ -f $session ]] || e2e_fail "$session (roller_reconnect's session) is not there"
	# Replay takes no adapter: it reads the file only.
	local -a E2E_ROLLER_ARGS=()
	run_roller replay 60 replay --max --json "$session" || e2e_fail "roller replay exited with $? (replay.log)"
	# The coaching events (cues, holds, summary) must be the same, byte for byte.
	local re='^\{"t":[0-9]+,"event":"(cue|hold|summary)"'
	grep -E "$re" "$live" >"$E2E_SCENARIO_DIR/live-events.json" || true
	grep -E "$re" "$E2E_SCENARIO_DIR/replay.log" >"$E2E_SCENARIO_DIR/replay-events.json" || true
	[[ -s $E2E_SCENARIO_DIR/live-events.json ]] || e2e_fail "no coaching events in the live output"
	cmp -s "$E2E_SCENARIO_DIR/live-events.json" "$E2E_SCENARIO_DIR/replay-events.json" ||
		e2e_fail "replay events differ from live (live-events.json vs replay-events.json)"
	e2e_metric events "$(wc -l <"$E2E_SCENARIO_DIR/live-events.json")"
}

e2e_scenario roller_forget_pair 120 "roller forget, then roller pair again"
scenario_roller_forget_pair() {
	e2e_require_bin ROLLER_BIN ROLLER_PERIPH_BIN
	start_periph
	run_roller forget 30 forget "$E2E_PERIPHERAL_ADDR" || e2e_fail "roller forget exited with $? (forget.log)"
	if device_prop "$E2E_CENTRAL" "$E2E_PERIPHERAL_ADDR" Paired && [[ $REPLY == true ]]; then
		e2e_fail "still Paired after roller forget"
	fi
	stop_bg periph INT
	_roller_pair_new pair
	((E2E_STATUS == 0)) || e2e_fail "roller pair after forget exited with $E2E_STATUS (pair.log)"
	device_is "$E2E_CENTRAL" "$E2E_PERIPHERAL_ADDR" Bonded true || e2e_fail "not Bonded after pairing again"
}
