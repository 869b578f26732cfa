# shellcheck shell=bash disable=SC2034  # E2E_SCENARIO_BTVIRT is read by runner.sh
# tests/e2e/scenarios/firmware.sh: the Roller firmware itself (device/zephyr
# built for Zephyr's native_sim/native/64 board: Zephyr's BLE host, the GATT
# glue and device/core in one Linux executable) on the peripheral controller,
# driven through an HCI user channel (--bt-dev=hci1), instead of roller-periph.
# Issue 8; notes/bluez-vm.md "Zephyr firmware in the same rig".
#
# ROLLER_FIRMWARE_EXE (tests/e2e/run passes it from the environment) names the
# executable; without it every scenario here is SKIPPED with the reason.
#
# Controllers: the firmware advertises extended (device/zephyr/src/adv_ext.c),
# which btvirt -L's 4.0 controllers cannot do; so these scenarios ask the
# runner for Bluetooth 5 controllers (E2E_SCENARIO_BTVIRT = "-l2", LE only
# through bluetoothd's ControllerMode = le). Only when the firmware is given.
#
# Every scenario starts the firmware on hci1 (after `btmgmt power off`: a user
# channel needs the adapter down) and stops it at its end; bluetoothd then
# takes hci1 back. The firmware's flash (--flash, on the guest's tmpfs) lives
# for the whole boot: the bond made by fw_pair and the sessions the device
# records are still there in the later scenarios, as on a roller switched off
# and on. The simulated person starts again at every start.
#
# Two layers, in this order:
#   fw_*        BlueZ's own tools (bluetoothctl, btmon): the firmware works.
#   fw_roller_* the `roller` host program against the firmware. A roller
#               command that does not exist yet (host/bluez is being written)
#               SKIPS its scenario with the reason, never passes it.

# Roller service UUIDs (protocol/README.md 2.1).
FW_UUID_SERVICE=7e3a1000-5c2b-4d8e-9f41-3b6c2a1d0e01
FW_UUID_MEASUREMENT=7e3a1001-5c2b-4d8e-9f41-3b6c2a1d0e01
FW_UUID_EVENT=7e3a1002-5c2b-4d8e-9f41-3b6c2a1d0e01
FW_UUID_CONTROL=7e3a1003-5c2b-4d8e-9f41-3b6c2a1d0e01
FW_UUID_LOG=7e3a1004-5c2b-4d8e-9f41-3b6c2a1d0e01
FW_UUID_INFO=7e3a1005-5c2b-4d8e-9f41-3b6c2a1d0e01
# The firmware's flash simulator file: bonds (settings) and the session log.
FW_FLASH=/run/e2e/firmware-flash.bin
# bluetoothctl prints values as hex dumps, 16 bytes a line, after its prompt
# ("[Roller:/service0015/char0022]#    01 06 11 01 ..."): frame starts.
FW_HEX='(^|# )[[:space:]]*'
FW_HEX_INFO="${FW_HEX}01 06 11 01 "
FW_HEX_MEASUREMENT="${FW_HEX}01 01 [0-9a-f]{2} "
FW_HEX_HOLD_START="${FW_HEX}01 02 09 01 "
FW_HEX_HOLD_END="${FW_HEX}01 02 11 02 "
# What `roller coach --json` prints (host/ui/src/json.c; as roller.sh).
FW_RE_HOLD_START='"cue":"hold-start"'
FW_RE_HOLD='"event":"hold"'
FW_RE_DISCONNECTED='"event":"link","state":"lost"'
FW_RE_RECONNECTED='"event":"link","state":"connected"'
FW_RE_SUMMARY='"event":"summary"'

# fw_scenario NAME TIMEOUT TITLE: e2e_scenario, plus the controllers the
# firmware needs when it is given (nothing changes for the rig otherwise).
fw_scenario() {
	e2e_scenario "$@"
	if [[ -n ${ROLLER_FIRMWARE_EXE:-} ]]; then
		E2E_SCENARIO_BTVIRT[$1]="-l2"
	fi
}

fw_require() {
	[[ -n ${ROLLER_FIRMWARE_EXE:-} ]] ||
		e2e_skip "ROLLER_FIRMWARE_EXE not set: no native_sim build of device/zephyr to run (it needs a Zephyr tree; device/zephyr/README.md)"
	[[ -x $ROLLER_FIRMWARE_EXE ]] || e2e_skip "ROLLER_FIRMWARE_EXE=$ROLLER_FIRMWARE_EXE is not executable in the guest"
}

_fw_peripheral_known() { adapter_prop "$E2E_PERIPHERAL" org.bluez.Adapter1 Address; }
_fw_unconnected() { device_is "$E2E_CENTRAL" "$E2E_PERIPHERAL_ADDR" Connected true && return 1 || return 0; }
_fw_peripheral_off() { adapter_powered "$E2E_PERIPHERAL" && return 1 || return 0; }

# fw_start: take hci1 from bluetoothd (power off), start
# the firmware on it (log firmware.log, cursor "firmware") and wait until it
# advertises.
fw_start() {
	fw_require
	# A firmware stopped while connected leaves hci0's kernel with a link
	# nobody ends (btdev drops its side silently, and a Disconnect of it gets
	# "Unknown Connection Identifier"): later connects to the address hang.
	# Only powering hci0 off clears it. fw_cleanup prevents it.
	if ! _fw_unconnected; then
		e2e_log "hci0 holds a dead link to $E2E_PERIPHERAL_ADDR: power-cycling hci0"
		local onoff
		for onoff in off on; do
			start_bg "btmgmt-hci0-$onoff" btmgmt --index "${E2E_CENTRAL#hci}" power "$onoff"
			wait_bg "btmgmt-hci0-$onoff" 10 || e2e_fail "btmgmt --index ${E2E_CENTRAL#hci} power $onoff hangs"
		done
		wait_until 10 0.2 _fw_unconnected || e2e_fail "cannot clear the dead link"
	fi
	# Whatever ends this scenario: disconnect while the firmware still runs.
	trap 'fw_cleanup; _e2e_stop_all' EXIT
	# After a previous firmware run bluetoothd may still be taking hci1 back.
	wait_until 20 0.2 _fw_peripheral_known || e2e_fail "bluetoothd does not know $E2E_PERIPHERAL"
	if adapter_powered "$E2E_PERIPHERAL"; then
		start_bg btmgmt-power-off btmgmt --index "${E2E_PERIPHERAL#hci}" power off
		wait_bg btmgmt-power-off 10 || e2e_fail "btmgmt power off hangs"
		wait_until 10 0.2 _fw_peripheral_off || e2e_fail "$E2E_PERIPHERAL still powered"
	fi
	cursor_open firmware "$E2E_SCENARIO_DIR/firmware.log"
	local start=${EPOCHREALTIME/./}
	start_bg firmware "$ROLLER_FIRMWARE_EXE" --bt-dev="$E2E_PERIPHERAL" --flash="$FW_FLASH"
	cursor_wait firmware 'advertising \(extended\)|not started|not created|HCI driver open failed' 20 || {
		bg_running firmware || e2e_fail "the firmware exited (firmware.log)"
		e2e_fail "the firmware did not advertise within 20 s (firmware.log)"
	}
	[[ $REPLY == *"advertising (extended)"* ]] || e2e_fail "firmware: $REPLY"
	e2e_fmt_us $((${EPOCHREALTIME/./} - start))
	e2e_step "firmware advertising after ${REPLY}s"
}

# fw_cleanup: the scenario's EXIT trap (set by fw_start): a link still up is
# taken down from hci0 while the firmware runs, so that no dead link is left.
fw_cleanup() {
	if ! _fw_unconnected; then
		e2e_log "cleanup: disconnecting hci0 from the firmware"
		dbus-send --system --print-reply --dest=org.bluez "/org/bluez/$E2E_CENTRAL/dev_${E2E_PERIPHERAL_ADDR//:/_}" \
			org.bluez.Device1.Disconnect >/dev/null 2>&1
		wait_until 10 0.2 _fw_unconnected || e2e_log "cleanup: still connected"
	fi
}

# fw_stop: stop the firmware; wait until bluetoothd has hci1 powered again
# (the adapters as the scenario found them). Disconnect first (fw_disconnect):
# hci0 does not see a stopped firmware's link go.
fw_stop() {
	stop_bg firmware TERM
	wait_until 20 0.2 adapter_powered "$E2E_PERIPHERAL" ||
		e2e_fail "bluetoothd did not power $E2E_PERIPHERAL again after the firmware"
}

# fw_central: bluetoothctl "central" on hci0 (log ctl-central.log).
fw_central() { ctl_start central "$E2E_CENTRAL_ADDR"; }

# fw_connect: connect hci0 to the firmware and wait for the GATT services.
fw_connect() {
	local start=${EPOCHREALTIME/./}
	ctl_cmd central "connect $E2E_PERIPHERAL_ADDR"
	ctl_wait central 'Connection successful|Failed to connect' 30 || e2e_fail "connect: no answer in 30 s"
	[[ $REPLY == *successful* ]] || e2e_fail "connect: $REPLY"
	wait_until 30 0.2 device_is "$E2E_CENTRAL" "$E2E_PERIPHERAL_ADDR" ServicesResolved true ||
		e2e_fail "services not resolved in 30 s"
	e2e_fmt_us $((${EPOCHREALTIME/./} - start))
	e2e_step "connected, services resolved after ${REPLY}s"
}

fw_disconnect() {
	ctl_cmd central "disconnect $E2E_PERIPHERAL_ADDR"
	wait_until 15 0.2 device_is "$E2E_CENTRAL" "$E2E_PERIPHERAL_ADDR" Connected false ||
		e2e_fail "still connected 15 s after disconnect"
}

# The bluetoothctl helpers of lib.sh (ctl_gatt_*), on the central's session.
# fw_select UUID: select the characteristic in bluetoothctl's gatt menu.
fw_select() { ctl_gatt_select central "$1"; }

# fw_subscribe UUID: StartNotify on it (notifications or indications).
fw_subscribe() { ctl_gatt_notify central "$1"; }

# fw_unsubscribe UUID: StopNotify (Measurement floods bluetoothctl's log:
# ~10 notifications a second, 3 lines each).
fw_unsubscribe() {
	fw_select "$1"
	ctl_cmd central "gatt.notify off"
	ctl_wait central 'Notify stopped|Failed to stop notify' 20 || e2e_fail "notify off $1: no answer"
}

# fw_write UUID HEXBYTES...: write one frame ("01 03 02 01 07") to UUID.
# REPLY = bluetoothctl's answer (write errors come back as "Failed to write").
fw_write() { ctl_gatt_write central "$@"; }

# fw_hex_bytes LINE: the hex dump bytes of a bluetoothctl value line, as an
# array in FW_BYTES and as text ("01 04 05 ...") in FW_HEX_TEXT.
fw_hex_bytes() {
	ctl_hex_bytes "$1"
	FW_BYTES=("${E2E_HEX_BYTES[@]}")
	FW_HEX_TEXT=$REPLY
}

# fw_u32 INDEX: REPLY = the little-endian u32 at FW_BYTES[INDEX..INDEX+3].
fw_u32() {
	local i=$1
	REPLY=$((16#${FW_BYTES[i + 3]}${FW_BYTES[i + 2]}${FW_BYTES[i + 1]}${FW_BYTES[i]}))
}

# fw_le BYTES VALUE: REPLY = VALUE as BYTES little-endian hex bytes ("2a 00 00 00").
fw_le() {
	local n=$1 v=$2 out='' i
	for ((i = 0; i < n; i++)); do
		printf -v out '%s%s%02x' "$out" "${out:+ }" $((v & 255))
		v=$((v >> 8))
	done
	REPLY=$out
}

# --- BlueZ's own tools against the firmware --------------------------------------

fw_scenario fw_scan 90 "firmware on hci1 (native_sim, HCI user channel): bluetoothctl on hci0 finds it"
scenario_fw_scan() {
	fw_start
	fw_central
	# A device object left by earlier scenarios (same address as roller-periph)
	# would count as found: start from none.
	if device_prop "$E2E_CENTRAL" "$E2E_PERIPHERAL_ADDR" Address; then
		ctl_cmd central "remove $E2E_PERIPHERAL_ADDR"
		ctl_wait central 'Device has been removed|DEL\] Device' 10 || e2e_fail "remove: no answer"
	fi
	ctl_find central "$E2E_PERIPHERAL_ADDR" 30 || e2e_fail "hci0 did not find the firmware in 30 s"
	e2e_metric scan_found_s "$REPLY"
	ctl_cmd central "scan off"
	ctl_cmd central "info $E2E_PERIPHERAL_ADDR"
	ctl_wait central "UUID: .*\($FW_UUID_SERVICE\)" 10 || e2e_fail "the Roller service UUID is not advertised"
	device_is "$E2E_CENTRAL" "$E2E_PERIPHERAL_ADDR" Name Roller || e2e_fail "advertised name '$REPLY', not Roller"
	e2e_step "found: name Roller, service $FW_UUID_SERVICE"
	ctl_cmd central "remove $E2E_PERIPHERAL_ADDR"
	ctl_wait central 'Device has been removed|DEL\] Device' 10 || e2e_fail "remove: no answer"
	ctl_stop central
	fw_stop
}

fw_scenario fw_control_unbonded 120 "a Control Point write without a bond is refused (ATT errors, nothing executed)"
scenario_fw_control_unbonded() {
	fw_start
	fw_central
	# Not bondable: the write's implicit pairing (BlueZ raises the security
	# on Insufficient Encryption) then gives an encrypted link with no bond.
	ctl_cmd central "pairable off"
	ctl_wait central 'Changing pairable off succeeded|Failed' 10 || e2e_fail "pairable off: no answer"
	ctl_find central "$E2E_PERIPHERAL_ADDR" 30 || e2e_fail "hci0 did not find the firmware"
	ctl_cmd central "scan off"
	fw_connect
	cursor_open btmon "$E2E_LOGS/btmon.txt"
	fw_write "$FW_UUID_CONTROL" 01 03 02 01 05 # VERSION, token 5
	if [[ $REPLY != *"Failed to write"* ]]; then
		# BlueZ pairs by itself and asks the agent to authorize that.
		ctl_wait central 'Failed to write|Accept pairing' 20 || e2e_fail "the control write was not refused (ctl-central.log)"
		if [[ $REPLY == *"Accept pairing"* ]]; then
			ctl_cmd central "yes"
			ctl_wait central 'Failed to write' 30 || e2e_fail "the control write was not refused (ctl-central.log)"
		fi
	fi
	e2e_step "refused: $REPLY"
	# Zephyr answers an unencrypted link with no key Insufficient
	# Authentication (protocol/README.md 2.1 allows either).
	cursor_wait btmon 'Insufficient (Encryption \(0x0f\)|Authentication \(0x05\))' 30 ||
		e2e_fail "btmon: no ATT Insufficient Encryption/Authentication for the unencrypted write"
	cursor_wait btmon 'Insufficient Authorization \(0x08\)' 30 ||
		e2e_fail "btmon: no ATT Insufficient Authorization for the encrypted, unbonded write"
	e2e_step "btmon: Insufficient Authentication (no key), then (encrypted, no bond) Insufficient Authorization"
	if device_prop "$E2E_CENTRAL" "$E2E_PERIPHERAL_ADDR" Bonded && [[ $REPLY == true ]]; then
		e2e_fail "a bond was made although hci0 was not bondable"
	fi
	fw_disconnect
	ctl_cmd central "remove $E2E_PERIPHERAL_ADDR"
	ctl_wait central 'Device has been removed|DEL\] Device' 10 || e2e_fail "remove: no answer"
	ctl_cmd central "pairable on"
	ctl_wait central 'Changing pairable on succeeded' 10 || e2e_fail "pairable on: no answer"
	ctl_stop central
	fw_stop
}

fw_scenario fw_pair 120 "bluetoothctl pairs with the firmware: LE Secure Connections, Just Works, bonded"
scenario_fw_pair() {
	fw_start
	fw_central
	ctl_find central "$E2E_PERIPHERAL_ADDR" 30 || e2e_fail "hci0 did not find the firmware"
	ctl_cmd central "scan off"
	cursor_open btmon "$E2E_LOGS/btmon.txt"
	local start=${EPOCHREALTIME/./}
	ctl_cmd central "pair $E2E_PERIPHERAL_ADDR"
	ctl_wait central 'Pairing successful|Failed to pair' 45 || e2e_fail "pair: no answer in 45 s"
	[[ $REPLY == *successful* ]] || e2e_fail "pair: $REPLY"
	e2e_fmt_us $((${EPOCHREALTIME/./} - start))
	e2e_metric pair_s "$REPLY"
	device_is "$E2E_CENTRAL" "$E2E_PERIPHERAL_ADDR" Paired true || e2e_fail "not Paired"
	device_is "$E2E_CENTRAL" "$E2E_PERIPHERAL_ADDR" Bonded true || e2e_fail "not Bonded"
	cursor_wait btmon 'SMP: Pairing Response' 30 || e2e_fail "btmon: no SMP Pairing Response from the firmware"
	cursor_wait btmon 'Authentication requirement: ' 10 || e2e_fail "btmon: Pairing Response without requirements"
	[[ $REPLY == *Bonding*", SC"* && $REPLY != *Legacy* ]] || e2e_fail "firmware's pairing response: $REPLY"
	e2e_step "firmware's SMP Pairing Response: ${REPLY##*requirement: }"
	cursor_wait firmware 'paired \(bonded\)' 10 || e2e_fail "the firmware did not report a bond (firmware.log)"
	ctl_cmd central "trust $E2E_PERIPHERAL_ADDR"
	ctl_wait central 'trust succeeded' 10 || e2e_fail "trust failed"
	fw_disconnect
	ctl_stop central
	fw_stop
}

fw_scenario fw_gatt 120 "bonded: read Info, Measurement notifications, a Control Point request answered"
scenario_fw_gatt() {
	fw_start
	fw_central
	device_is "$E2E_CENTRAL" "$E2E_PERIPHERAL_ADDR" Bonded true || e2e_fail "no bond with the firmware (fw_pair)"
	fw_connect
	cursor_wait firmware 'connected \(bonded peer\)' 10 || e2e_fail "the firmware did not see a bonded peer"
	fw_select "$FW_UUID_INFO"
	ctl_cmd central "gatt.read"
	ctl_wait central "$FW_HEX_INFO" 15 || e2e_fail "Info: no INFO frame read"
	fw_hex_bytes "$REPLY"
	e2e_step "Info: ${FW_BYTES[*]}"
	((${#FW_BYTES[@]} >= 16)) || e2e_fail "Info: short line"
	# capabilities (offset 8, u16): IMU 0x01, LOG 0x02, RESEND 0x04, BATTERY 0x08.
	local caps=$((16#${FW_BYTES[9]}${FW_BYTES[8]}))
	(((caps & 0x0f) == 0x0f)) || e2e_fail "Info capabilities $caps: not IMU + LOG + RESEND + BATTERY"
	e2e_metric info_capabilities "$caps"
	fw_subscribe "$FW_UUID_MEASUREMENT"
	ctl_wait central "$FW_HEX_MEASUREMENT" 15 || e2e_fail "no MEASUREMENT notification in 15 s"
	fw_hex_bytes "$REPLY"
	e2e_step "Measurement notification: $FW_HEX_TEXT"
	fw_unsubscribe "$FW_UUID_MEASUREMENT"
	fw_subscribe "$FW_UUID_CONTROL"
	fw_write "$FW_UUID_CONTROL" 01 03 02 01 07 # VERSION, token 7
	[[ $REPLY != *"Failed to write"* ]] || e2e_fail "bonded control write refused: $REPLY"
	ctl_wait central "${FW_HEX}01 04 0b 01 07 00 " 15 || e2e_fail "no VERSION response (token 7, OK) in 15 s"
	fw_hex_bytes "$REPLY"
	e2e_step "Control Point: VERSION answered: $FW_HEX_TEXT"
	fw_disconnect
	ctl_stop central
	fw_stop
}

fw_scenario fw_hold 180 "the simulated person holds: HOLD_START and HOLD_END indicated on Event"
scenario_fw_hold() {
	fw_start
	fw_central
	device_is "$E2E_CENTRAL" "$E2E_PERIPHERAL_ADDR" Bonded true || e2e_fail "no bond with the firmware (fw_pair)"
	fw_connect
	fw_subscribe "$FW_UUID_EVENT"
	ctl_wait central "$FW_HEX_HOLD_START" 100 || e2e_fail "no HOLD_START event in 100 s"
	fw_hex_bytes "$REPLY"
	fw_u32 6
	e2e_step "HOLD_START at sample $REPLY: ${FW_BYTES[*]}"
	ctl_wait central "$FW_HEX_HOLD_END" 90 || e2e_fail "no HOLD_END event in 90 s after the start"
	fw_hex_bytes "$REPLY"
	e2e_step "HOLD_END: ${FW_BYTES[*]}"
	local duration=$((16#${FW_BYTES[11]}${FW_BYTES[10]}))
	e2e_metric hold_samples "$duration"
	((duration > 80)) || e2e_fail "a hold of $duration samples (the person holds ~30 s)"
	fw_disconnect
	ctl_stop central
	fw_stop
}

fw_scenario fw_reconnect 240 "disconnect and reconnect on the stored bond, also after a firmware restart"
scenario_fw_reconnect() {
	fw_start
	fw_central
	device_is "$E2E_CENTRAL" "$E2E_PERIPHERAL_ADDR" Bonded true || e2e_fail "no bond with the firmware (fw_pair)"
	local round
	for round in 1 2 3; do
		if ((round == 3)); then
			# Power cycle: the bond comes back from the firmware's flash.
			stop_bg firmware TERM
			fw_start
		fi
		fw_connect
		cursor_wait firmware 'connected \(bonded peer\)' 10 || e2e_fail "round $round: the firmware did not see a bonded peer"
		# Encrypted with the stored key, no new pairing; only then does the
		# core send anything (bonded reconnect rule).
		fw_subscribe "$FW_UUID_MEASUREMENT"
		ctl_wait central "$FW_HEX_MEASUREMENT" 15 || e2e_fail "round $round: no MEASUREMENT after reconnecting"
		fw_unsubscribe "$FW_UUID_MEASUREMENT"
		if cursor_wait firmware 'paired \(' 0.1; then
			e2e_fail "round $round: the firmware paired again instead of using the bond: $REPLY"
		fi
		e2e_step "round $round: bonded reconnect, measurements flowing"
		fw_disconnect
		cursor_wait firmware 'advertising \(extended\)' 15 || e2e_fail "round $round: no advertising after the disconnect"
	done
	ctl_stop central
	fw_stop
}

fw_scenario fw_log 180 "the device side of gap fill and sync: RESEND_SAMPLES and LOG_INFO + LOG_READ"
scenario_fw_log() {
	fw_start
	# The simulated person steps on the roller before the host connects: the
	# core records that session by itself (auto_session), so the log has one.
	fw_central
	device_is "$E2E_CENTRAL" "$E2E_PERIPHERAL_ADDR" Bonded true || e2e_fail "no bond with the firmware (fw_pair)"
	fw_connect
	# bluetoothctl prints the values of its selected attribute only: a second
	# session watches Measurement (then Log) while "central" writes requests
	# to the Control Point and reads their responses.
	ctl_start watch "$E2E_CENTRAL_ADDR"
	ctl_cmd watch "gatt.select-attribute $FW_UUID_MEASUREMENT"
	ctl_wait watch "char[0-9a-f]{4}\]" 10 || e2e_fail "watch: cannot select Measurement"
	fw_subscribe "$FW_UUID_CONTROL"
	fw_subscribe "$FW_UUID_MEASUREMENT"
	fw_select "$FW_UUID_CONTROL"
	ctl_wait watch "$FW_HEX_MEASUREMENT" 15 || e2e_fail "no MEASUREMENT notification (ctl-watch.log)"
	fw_hex_bytes "$REPLY"
	fw_u32 3
	local first=$REPLY
	e2e_step "live batch from sample $first"
	# Gap fill: RESEND_SAMPLES(first - 100, 20) from the RAM history.
	local from=$((first > 100 ? first - 100 : 0))
	fw_le 4 "$from"
	local from_le=$REPLY
	# shellcheck disable=SC2086  # one word per byte
	fw_write "$FW_UUID_CONTROL" 01 03 08 0e 21 $from_le 14 00
	ctl_wait central "${FW_HEX}01 04 (05 0e 21 00|03 0e 21 )" 15 || e2e_fail "no RESEND_SAMPLES response"
	fw_hex_bytes "$REPLY"
	[[ $REPLY =~ 01\ 04\ 05\ 0e\ 21\ 00 ]] || e2e_fail "RESEND_SAMPLES refused: $FW_HEX_TEXT"
	e2e_step "RESEND_SAMPLES($from, 20): $FW_HEX_TEXT"
	# A re-sent batch: first_sample = from, flags (offset 11) with RESENT 0x08.
	ctl_wait watch "${FW_HEX}01 01 [0-9a-f]{2} ${from_le} ([0-9a-f]{2} ){4}0[89a-f] " 20 ||
		e2e_fail "no re-sent MEASUREMENT from sample $from (ctl-watch.log)"
	fw_hex_bytes "$REPLY"
	e2e_step "re-sent batch: $FW_HEX_TEXT"
	fw_unsubscribe "$FW_UUID_MEASUREMENT"
	# Sync: LOG_INFO, then LOG_READ(first_record, 2, 0) on the Log characteristic.
	fw_subscribe "$FW_UUID_LOG"
	ctl_cmd watch "gatt.select-attribute $FW_UUID_LOG"
	ctl_wait watch "char[0-9a-f]{4}\]" 10 || e2e_fail "watch: cannot select Log"
	fw_write "$FW_UUID_CONTROL" 01 03 02 09 22
	ctl_wait central "${FW_HEX}01 04 (0d 09 22 00|03 09 22 )" 15 || e2e_fail "no LOG_INFO response"
	fw_hex_bytes "$REPLY"
	((${#FW_BYTES[@]} >= 16)) || e2e_fail "LOG_INFO refused: $FW_HEX_TEXT"
	fw_u32 6
	local first_record=$REPLY
	fw_u32 10
	local end_record=$REPLY sessions=$((16#${FW_BYTES[15]}${FW_BYTES[14]}))
	e2e_step "LOG_INFO: records $first_record..$end_record, $sessions sessions"
	e2e_metric log_records $((end_record - first_record))
	fw_le 4 "$first_record"
	# shellcheck disable=SC2086  # one word per byte
	fw_write "$FW_UUID_CONTROL" 01 03 0a 0a 23 $REPLY 02 00 00 00
	ctl_wait central "${FW_HEX}01 04 (07 0a 23 00|03 0a 23 )" 15 || e2e_fail "no LOG_READ response"
	fw_hex_bytes "$REPLY"
	[[ $REPLY =~ 01\ 04\ 07\ 0a\ 23\ 00 ]] || e2e_fail "LOG_READ refused: $FW_HEX_TEXT"
	e2e_step "LOG_READ: $FW_HEX_TEXT"
	# The transfer ends with a LOG_CHUNK carrying END (flags 0x02 or 0x03).
	ctl_wait watch "${FW_HEX}01 05 [0-9a-f]{2} ([0-9a-f]{2} ){6}0[23] " 30 ||
		e2e_fail "no LOG_CHUNK with END in 30 s (ctl-watch.log)"
	fw_hex_bytes "$REPLY"
	e2e_step "last LOG_CHUNK: $FW_HEX_TEXT"
	ctl_stop watch
	fw_disconnect
	ctl_stop central
	fw_stop
}

# --- the roller host program against the firmware ---------------------------------

# fw_roller_cmd CMD: SKIP unless ROLLER_BIN has the command CMD. REPLY = the
# adapter options to put in front of it (`roller --adapter hci0 CMD ...`,
# which roller's main.c accepts for every command that takes --adapter).
fw_roller_cmd() {
	fw_require
	e2e_require_bin ROLLER_BIN
	local help
	help=$("$ROLLER_BIN" "$1" --help 2>&1) || e2e_skip "roller has no '$1' command yet (host/bluez in progress)"
	REPLY=
	[[ $help == *--adapter* ]] && REPLY="--adapter $E2E_CENTRAL"
}

# fw_roller NAME TIMEOUT CMD ARGS...: run `roller CMD ARGS [--adapter hci0]`
# (log NAME.log); SKIP when roller says its Bluetooth transport is missing.
fw_roller() {
	local name=$1 limit=$2 cmd=$3
	shift 3
	fw_roller_cmd "$cmd"
	local adapter=$REPLY rc=0
	# shellcheck disable=SC2086  # adapter options
	timeout -k 5 "$limit" "$ROLLER_BIN" $adapter "$cmd" "$@" \
		<&"$E2E_SLEEP_FD" >>"$E2E_SCENARIO_DIR/$name.log" 2>&1 || rc=$?
	if wait_for_line "$E2E_SCENARIO_DIR/$name.log" 'not available in this build' 0; then
		e2e_skip "roller $cmd: $REPLY"
	fi
	E2E_STATUS=$rc
	e2e_step "roller $cmd exited with $rc"
	return "$rc"
}

fw_scenario fw_roller_scan 90 "roller scan finds the firmware"
# roller scan runs before the firmware starts advertising, as in roller_scan
# (roller.sh): btvirt reports an advertiser that is already there only once,
# and that report can race the kernel's discovery state.
scenario_fw_roller_scan() {
	fw_roller_cmd scan
	cursor_open scan "$E2E_SCENARIO_DIR/scan.log"
	roller_bg scan scan --timeout 40
	cursor_wait scan 'Scanning for rollers' 20 || e2e_fail "roller scan did not start (scan.log)"
	fw_start
	cursor_wait scan "$E2E_PERIPHERAL_ADDR" 35 ||
		e2e_fail "roller scan did not list $E2E_PERIPHERAL_ADDR (scan.log)"
	e2e_step "listed: $REPLY"
	stop_bg scan INT
	[[ $REPLY == 0 ]] || e2e_fail "roller scan exited with $REPLY on Ctrl-C (scan.log)"
	fw_stop
}

fw_scenario fw_roller_pair 120 "roller pair with the firmware (bonded by fw_pair already: no second Pair), default roller"
scenario_fw_roller_pair() {
	fw_roller_cmd pair
	fw_start
	# Exit status 4: already paired, nothing to do (BLUEZ_EXIT_ALREADY_PAIRED).
	fw_roller pair 60 pair "$E2E_PERIPHERAL_ADDR" || [[ $E2E_STATUS == 4 ]] ||
		e2e_fail "roller pair exited with $E2E_STATUS (pair.log)"
	device_is "$E2E_CENTRAL" "$E2E_PERIPHERAL_ADDR" Bonded true || e2e_fail "not Bonded after roller pair"
	device_is "$E2E_CENTRAL" "$E2E_PERIPHERAL_ADDR" Trusted true || e2e_fail "not Trusted after roller pair"
	fw_cleanup
	fw_stop
}

# fw_coach_start: `roller coach <addr> --json --adapter hci0` in the
# background (log coach.log, cursor "coach"); SKIP when roller says its
# Bluetooth transport is missing.
fw_coach_start() {
	fw_roller_cmd coach
	local adapter=$REPLY
	cursor_open coach "$E2E_SCENARIO_DIR/coach.log"
	# shellcheck disable=SC2086  # adapter options
	start_bg coach "$ROLLER_BIN" $adapter coach --json "$E2E_PERIPHERAL_ADDR"
	cursor_wait coach "$FW_RE_HOLD_START|not available in this build" 150 ||
		e2e_fail "no hold-start cue from roller coach in 150 s (coach.log)"
	[[ $REPLY != *"not available in this build"* ]] || e2e_skip "roller coach <addr>: $REPLY"
	e2e_step "hold started"
}

fw_scenario fw_roller_coach 240 "roller coach <addr> --json against the firmware: a hold starts and ends"
scenario_fw_roller_coach() {
	fw_roller_cmd coach
	fw_start
	fw_coach_start
	cursor_wait coach "$FW_RE_HOLD" 120 || e2e_fail "no hold result from roller coach in 120 s (coach.log)"
	e2e_step "hold: $REPLY"
	stop_bg coach INT
	[[ $REPLY == 0 || $REPLY == 130 ]] || e2e_fail "roller coach exited with $REPLY on SIGINT"
	fw_cleanup
	fw_stop
}

fw_scenario fw_roller_reconnect 300 "roller coach: link dropped mid-session, reconnect on the bond, gap filled from the device"
scenario_fw_roller_reconnect() {
	fw_roller_cmd coach
	fw_start
	fw_coach_start
	# The firmware goes on sampling (and recording); only the link drops.
	# (A firmware stopped while connected would leave hci0 a dead link, see
	# fw_start.)
	dbus-send --system --print-reply --dest=org.bluez "/org/bluez/$E2E_CENTRAL/dev_${E2E_PERIPHERAL_ADDR//:/_}" \
		org.bluez.Device1.Disconnect >/dev/null 2>&1
	e2e_step "link dropped from hci0"
	cursor_wait coach "$FW_RE_DISCONNECTED" 30 || e2e_fail "roller coach did not report the drop (coach.log)"
	bg_running coach || e2e_fail "roller coach exited on the drop instead of reconnecting"
	cursor_wait coach "$FW_RE_RECONNECTED" 90 || e2e_fail "roller coach did not reconnect in 90 s (coach.log)"
	e2e_step "reconnected"
	cursor_wait firmware 'connected \(bonded peer\)' 10 || e2e_fail "the firmware did not see the bonded peer again"
	# (The gap may be noticed just before or after the "connected" line.)
	wait_for_line "$E2E_SCENARIO_DIR/coach.log" '"cue":"data-gap"' 30 ||
		e2e_fail "roller coach saw no gap after the drop (coach.log)"
	e2e_step "gap noticed: $REPLY"
	# Let the refill run until the hold ends, then end the session: the
	# summary counts the gaps and the samples re-sent.
	cursor_wait coach "$FW_RE_HOLD" 120 || e2e_fail "the hold did not end in 120 s (coach.log)"
	stop_bg coach INT
	wait_for_line "$E2E_SCENARIO_DIR/coach.log" "$FW_RE_SUMMARY" 0 || e2e_fail "no summary from roller coach"
	local summary=$REPLY
	e2e_step "summary: $summary"
	[[ $summary =~ \"gaps\":([0-9]+) ]] && e2e_metric gaps "${BASH_REMATCH[1]}"
	[[ $summary =~ \"resent\":([0-9]+) ]] && e2e_metric resent "${BASH_REMATCH[1]}"
	[[ $summary =~ \"samples_lost\":([0-9]+) ]] && e2e_metric samples_lost "${BASH_REMATCH[1]}"
	[[ $summary =~ \"resent\":[1-9] ]] || e2e_fail "no sample re-sent after the drop: $summary"
	fw_cleanup
	fw_stop
}

fw_scenario fw_roller_sync 180 "roller sync downloads the sessions the firmware recorded (from its log)"
scenario_fw_roller_sync() {
	fw_roller_cmd sync
	fw_start
	fw_roller sync 150 sync "$E2E_PERIPHERAL_ADDR" --json || e2e_fail "roller sync exited with $E2E_STATUS (sync.log)"
	# The sessions the firmware recorded by itself (auto_session) in the
	# earlier scenarios: at least one saved, no error.
	wait_for_line "$E2E_SCENARIO_DIR/sync.log" '"summary":' 0 || e2e_fail "no summary line from roller sync"
	local summary=$REPLY
	[[ $summary =~ \"sessions_saved\":([0-9]+) ]] && e2e_metric sessions_saved "${BASH_REMATCH[1]}"
	[[ $summary =~ \"records\":([0-9]+) ]] && e2e_metric records "${BASH_REMATCH[1]}"
	[[ $summary != *'"error"'* && $summary =~ \"sessions_saved\":[1-9] ]] || e2e_fail "roller sync: $summary"
	"$ROLLER_BIN" sessions >"$E2E_SCENARIO_DIR/sessions.log" 2>&1 || e2e_fail "roller sessions failed"
	wait_for_line "$E2E_SCENARIO_DIR/sessions.log" '[[:alnum:]]' 0 || e2e_fail "roller sessions lists nothing after sync"
	fw_cleanup
	fw_stop
}
