# shellcheck shell=bash
# tests/e2e/scenarios/smoke.sh: proves the rig itself, with BlueZ's own tools
# only (no Roller program needed). Sourced by the guest runner; see
# tests/e2e/guest/lib.sh for the helpers.

e2e_scenario smoke_adapters 30 "two LE-only controllers, both managed by bluetoothd"
scenario_smoke_adapters() {
	local index info
	for index in 0 1; do
		# btmgmt quits at stdin EOF before the reply: start_bg keeps stdin open.
		start_bg "btmgmt-info-$index" btmgmt --index "$index" info
		wait_bg "btmgmt-info-$index" 10 || e2e_fail "btmgmt --index $index info hangs"
		wait_for_line "$E2E_SCENARIO_DIR/btmgmt-info-$index.log" 'current settings:' 1 ||
			e2e_fail "btmgmt --index $index info: no current settings"
		info=$REPLY
		e2e_log "hci$index $info"
		[[ $info == *powered* ]] || e2e_fail "hci$index is not powered: $info"
		[[ $info == *" le"* ]] || e2e_fail "hci$index has LE off: $info"
		# BR/EDR on crashes Debian's 6.1.192 kernel after LE pairing (notes/bluez-vm.md).
		[[ $info != *br/edr* ]] || e2e_fail "hci$index has BR/EDR enabled: $info"
	done
	[[ -n ${E2E_CENTRAL_ADDR:-} && -n ${E2E_PERIPHERAL_ADDR:-} &&
		$E2E_CENTRAL_ADDR != "$E2E_PERIPHERAL_ADDR" ]] ||
		e2e_fail "adapter addresses: '${E2E_CENTRAL_ADDR:-}' '${E2E_PERIPHERAL_ADDR:-}'"
}

e2e_scenario smoke_scan 60 "bluetoothctl advertises on hci1; bluetoothctl on hci0 finds it"
scenario_smoke_scan() {
	ctl_start periph "$E2E_PERIPHERAL_ADDR"
	ctl_start central "$E2E_CENTRAL_ADDR"
	e2e_step "both bluetoothctl sessions ready"

	# bluetoothd's LEAdvertisingManager1 advertises extended: the emulator
	# reports only extended advertisers to scanners.
	ctl_cmd periph "advertise.name e2e-smoke"
	ctl_cmd periph "advertise on"
	ctl_wait periph 'Advertising object registered' 10 || e2e_fail "advertise on: not registered"
	wait_until 5 0.2 adapter_advertising "$E2E_PERIPHERAL" ||
		e2e_fail "$E2E_PERIPHERAL reports no active advertisement"
	e2e_step "hci1 advertising"

	ctl_find central "$E2E_PERIPHERAL_ADDR" 30 || e2e_fail "hci0 did not find $E2E_PERIPHERAL_ADDR in 30 s"
	e2e_metric scan_found_s "$REPLY"
	ctl_cmd central "scan off"

	ctl_cmd periph "advertise off"
	ctl_wait periph 'Advertising object unregistered' 10 || e2e_fail "advertise off: not unregistered"
	# Leave the adapters as found: later scans must really find the device.
	ctl_cmd central "remove $E2E_PERIPHERAL_ADDR"
	ctl_wait central 'Device has been removed|DEL\] Device' 10 || e2e_fail "remove: no answer"
	ctl_stop central
	ctl_stop periph
}

e2e_scenario smoke_connect 90 "hci0 connects to hci1 over LE, resolves GATT services, disconnects"
scenario_smoke_connect() {
	ctl_start periph "$E2E_PERIPHERAL_ADDR"
	ctl_start central "$E2E_CENTRAL_ADDR"
	# Scan first, then advertise: btdev reports the advertiser when advertising
	# is enabled, and discovery is already running then (no scan race).
	ctl_cmd central "scan on"
	ctl_wait central "Controller $E2E_CENTRAL_ADDR Discovering: yes" 10 || e2e_fail "scan on: not discovering"
	ctl_cmd periph "advertise on"
	ctl_wait periph 'Advertising object registered' 10 || e2e_fail "advertise on: not registered"
	ctl_wait central "(NEW|CHG)\] Device $E2E_PERIPHERAL_ADDR" 10 ||
		ctl_find central "$E2E_PERIPHERAL_ADDR" 20 || e2e_fail "hci0 did not find $E2E_PERIPHERAL_ADDR"
	ctl_cmd central "scan off"
	ctl_wait central "Discovering: no" 10 || e2e_fail "scan off: still discovering"

	local start=${EPOCHREALTIME/./}
	ctl_cmd central "connect $E2E_PERIPHERAL_ADDR"
	ctl_wait central 'Connection successful|Failed to connect' 30 || e2e_fail "connect: no answer in 30 s"
	[[ $REPLY == *successful* ]] || e2e_fail "connect: $REPLY"
	e2e_fmt_us $((${EPOCHREALTIME/./} - start))
	e2e_metric connect_s "$REPLY"
	ctl_wait central 'ServicesResolved: yes' 30 || e2e_fail "services not resolved in 30 s"
	e2e_fmt_us $((${EPOCHREALTIME/./} - start))
	e2e_metric services_resolved_s "$REPLY"

	ctl_cmd central "disconnect $E2E_PERIPHERAL_ADDR"
	ctl_wait central 'Successful disconnected|Connected: no' 15 || e2e_fail "disconnect: no answer in 15 s"
	ctl_cmd periph "advertise off"
	ctl_wait periph 'Advertising object unregistered' 10 || e2e_fail "advertise off: not unregistered"
	ctl_cmd central "remove $E2E_PERIPHERAL_ADDR"
	ctl_wait central 'Device has been removed|DEL\] Device' 10 || e2e_fail "remove: no answer"
	ctl_stop central
	ctl_stop periph
}

e2e_scenario smoke_pair 90 "LE Secure Connections Just Works pairing + bond between hci0 and hci1"
scenario_smoke_pair() {
	ctl_start central "$E2E_CENTRAL_ADDR"
	# The responder side asks bluetoothd's *default* agent (one bluetoothd
	# serves both adapters); its capability also sets both adapters' IO
	# capability: NoInputNoOutput gives Just Works.
	ctl_start periph "$E2E_PERIPHERAL_ADDR" --agent NoInputNoOutput
	ctl_cmd periph "default-agent"
	ctl_wait periph 'Default agent request successful' 10 || e2e_fail "default-agent failed"
	ctl_cmd periph "advertise on"
	ctl_wait periph 'Advertising object registered' 10 || e2e_fail "advertise on: not registered"
	ctl_find central "$E2E_PERIPHERAL_ADDR" 30 || e2e_fail "hci0 did not find $E2E_PERIPHERAL_ADDR"
	ctl_cmd central "scan off"

	local start=${EPOCHREALTIME/./}
	ctl_cmd central "pair $E2E_PERIPHERAL_ADDR"
	# Just Works on the responder: bluetoothctl's agent asks; accept.
	if ctl_wait periph 'Accept pairing|Authorize|Confirm passkey' 20; then
		ctl_cmd periph "yes"
	fi
	ctl_wait central 'Pairing successful|Failed to pair' 30 || e2e_fail "pair: no answer in 30 s"
	[[ $REPLY == *successful* ]] || e2e_fail "pair: $REPLY"
	e2e_fmt_us $((${EPOCHREALTIME/./} - start))
	e2e_metric pair_s "$REPLY"
	device_is "$E2E_CENTRAL" "$E2E_PERIPHERAL_ADDR" Paired true ||
		e2e_fail "hci0: $E2E_PERIPHERAL_ADDR not Paired after pairing"
	device_is "$E2E_CENTRAL" "$E2E_PERIPHERAL_ADDR" Bonded true ||
		e2e_fail "hci0: $E2E_PERIPHERAL_ADDR not Bonded after pairing"

	ctl_cmd central "disconnect $E2E_PERIPHERAL_ADDR"
	ctl_wait central 'Successful disconnected|Connected: no' 15 || e2e_fail "disconnect: no answer in 15 s"
	# Leave no bond behind for later scenarios.
	ctl_cmd central "remove $E2E_PERIPHERAL_ADDR"
	ctl_wait central 'Device has been removed|DEL\] Device' 10 || e2e_fail "remove: no answer"
	ctl_cmd periph "remove $E2E_CENTRAL_ADDR"
	ctl_cmd periph "advertise off"
	ctl_wait periph 'Advertising object unregistered' 10 || e2e_fail "advertise off: not unregistered"
	ctl_stop central
	ctl_stop periph
}
