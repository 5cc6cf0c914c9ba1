#!/usr/bin/env bash
# Install one Zaki role on this host as a systemd service.
#
#   deploy/install.sh --join ADDR --token T              # an agent (the default role)
#   deploy/install.sh --role router --join ADDR --token T
#   deploy/install.sh --role controlplane
#
# It takes the arguments of the join command that `zaki ctl token create`
# prints. The token may come from ZAKI_JOIN_TOKEN instead of --token, to keep
# it out of shell history. Steps: install the binary as /usr/local/bin/zaki and
# the role's unit from deploy/systemd/, write /etc/zaki/<role>.env (mode 0600),
# start the service, wait for the join, then delete the token from the env
# file (a joined host never needs it again). It prints every step it takes;
# --dry-run prints them without doing anything.
set -euo pipefail

role=agent join="" token="${ZAKI_JOIN_TOKEN:-}" node_id="" address="" dry_run=0
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
binary="$here/../bin/zaki"

usage() {
	sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
	echo
	echo "Flags: --role agent|router|controlplane  --join ADDR  --token T  --node-id ID (agent)"
	echo "       --address IP (agent: this host's private address)  --binary PATH (default: bin/zaki)  --dry-run"
	exit "${1:-0}"
}

die() { echo "install.sh: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
	case "$1" in
	--role) role="${2:?--role needs a value}"; shift 2 ;;
	--join) join="${2:?--join needs an address}"; shift 2 ;;
	--token) token="${2:?--token needs a value}"; shift 2 ;;
	--node-id) node_id="${2:?--node-id needs a value}"; shift 2 ;;
	--address) address="${2:?--address needs a value}"; shift 2 ;;
	--binary) binary="${2:?--binary needs a path}"; shift 2 ;;
	--dry-run) dry_run=1; shift ;;
	-h | --help) usage 0 ;;
	*) echo "install.sh: unknown argument $1" >&2; usage 2 ;;
	esac
done

case "$role" in agent | router | controlplane) ;; *) die "--role must be agent, router or controlplane" ;; esac
unit="zaki-$role.service"
unit_src="$here/systemd/$unit"
env_file="/etc/zaki/$role.env"
state_dir="/var/lib/zaki/$role"
[ -f "$unit_src" ] || die "no unit file $unit_src: run this script from a Zaki checkout or release"
[ -x "$binary" ] || die "no zaki binary at $binary: run 'make build' or pass --binary PATH"
if [ "$role" != controlplane ] && [ ! -f "$state_dir/cert.pem" ]; then
	[ -n "$join" ] && [ -n "$token" ] ||
		die "a new $role needs --join ADDR and --token T (make a token on the control plane: zaki ctl token create --role $role)"
fi
[ "$dry_run" = 1 ] || [ "$(id -u)" = 0 ] || die "run as root (or with --dry-run to see the steps)"

# step prints a command (with the token hidden) and runs it unless --dry-run.
step() {
	local shown="$*"
	[ -z "$token" ] || shown="${shown//"$token"/<token>}"
	echo "+ $shown"
	[ "$dry_run" = 1 ] || "$@"
}

# set_env sets KEY=VALUE in the env file, replacing an earlier line.
set_env() {
	local key="$1" value="$2"
	[ -n "$value" ] || return 0
	if [ "$key" = ZAKI_JOIN_TOKEN ]; then echo "+ set $key=<token> in $env_file"; else echo "+ set $key=$value in $env_file"; fi
	[ "$dry_run" = 1 ] && return 0
	touch "$env_file" && chmod 0600 "$env_file"
	grep -v "^$key=" "$env_file" >"$env_file.tmp" || true
	printf '%s=%s\n' "$key" "$value" >>"$env_file.tmp"
	mv "$env_file.tmp" "$env_file"
}

step install -m 0755 "$binary" /usr/local/bin/zaki
step install -m 0644 "$unit_src" "/etc/systemd/system/$unit"
step install -d -m 0700 /etc/zaki
set_env ZAKI_JOIN "$join"
set_env ZAKI_JOIN_TOKEN "$token"
set_env ZAKI_NODE_ID "$node_id"
set_env ZAKI_ADDRESS "$address"
step systemctl daemon-reload

if [ "$role" = router ] && { [ "$dry_run" = 1 ] || ! grep -q '^ZAKI_BOT_TOKEN=' "$env_file"; }; then
	echo "The router needs ZAKI_BOT_TOKEN and ZAKI_WEBHOOK_SECRET in $env_file; add them, then:"
	echo "  systemctl enable --now $unit"
	[ "$dry_run" = 1 ] || exit 0
fi
step systemctl enable --now "$unit"

if [ "$role" = controlplane ]; then
	echo "The control plane writes the operator's credentials to $state_dir/admin on its first start:"
	echo "  export ZAKI_CREDENTIALS=$state_dir/admin; zaki ctl token create"
	echo "Copy $state_dir/ca-kek off this host and keep it apart from etcd backups."
	exit 0
fi
if [ "$dry_run" = 0 ]; then
	for _ in $(seq 60); do
		[ -f "$state_dir/cert.pem" ] && break
		sleep 1
	done
	[ -f "$state_dir/cert.pem" ] || die "$role has not joined after 60s: journalctl -u $unit"
	if grep -q '^ZAKI_JOIN_TOKEN=' "$env_file"; then
		grep -v '^ZAKI_JOIN_TOKEN=' "$env_file" >"$env_file.tmp" || true
		mv "$env_file.tmp" "$env_file"
		echo "+ removed the join token from $env_file: joined, it is not needed any more"
	fi
fi
if [ "$dry_run" = 1 ]; then
	echo "dry run: nothing was changed"
else
	echo "$role installed and joined; its credentials are in $state_dir. Logs: journalctl -u $unit -f"
fi
