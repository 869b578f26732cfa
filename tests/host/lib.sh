# Shared by the shell tests of tests/host: a private HOME/XDG tree and helpers.
# Usage: source lib.sh; then $ROLLER is the binary (first argument of the test).
set -euo pipefail

ROLLER=${1:?usage: $0 path/to/roller}
[[ -x $ROLLER ]] || { echo "FAIL: $ROLLER is not executable"; exit 1; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/roller-test.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
export HOME=$WORK/home XDG_DATA_HOME=$WORK/data XDG_CONFIG_HOME=$WORK/config
mkdir -p "$HOME"
SESSIONS=$XDG_DATA_HOME/roller/sessions

failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }

# expect_status <status> <description> -- command...
expect_status() {
	local want=$1 what=$2 got=0
	shift 3
	"$@" >"$WORK/out" 2>"$WORK/err" || got=$?
	if [[ $got == "$want" ]]; then
		pass "$what (exit $got)"
	else
		fail "$what: exit $got, expected $want"
		sed 's/^/  stdout: /' "$WORK/out" | head -n 20
		sed 's/^/  stderr: /' "$WORK/err" | head -n 20
	fi
}

# expect_in <file> <text> <description>
expect_in() {
	if grep -qF -- "$2" "$1"; then pass "$3"; else fail "$3: '$2' not in $(basename "$1")"; sed 's/^/  /' "$1" | head -n 20; fi
}

finish() {
	if ((failures)); then
		echo "$failures failure(s)"
		exit 1
	fi
	echo "all passed"
}
