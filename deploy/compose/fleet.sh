#!/usr/bin/env bash
# fleet.sh starts, watches and stops a local Zaki fleet (fleet.yml): three
# control planes, three agents, a router and a Telegram stand-in, each in its
# own container on this machine's Docker Engine. Build the images first with
# `make images`; this script builds nothing. `fleet.sh help` lists commands.
#
# Settings, all from the environment (defaults in brackets):
#   ZAKI_FLEET                fleet name [fleet]: compose project zaki-NAME,
#                             node ids NAME-agent1..3
#   ZAKI_FLEET_NET            first two octets of its three /24 networks [10.77]
#   ZAKI_FLEET_RUN            its secrets and state [deploy/compose/run/NAME]
#   ZAKI_FLEET_WEBHOOK_PORT   router webhook on 127.0.0.1 [8543]
#   ZAKI_FLEET_TELEGRAM_PORT  Telegram stand-in on 127.0.0.1 [8581]
#   ZAKI_FLEET_WAIT           seconds each wait in `up` may take [120]
#   ZAKI_FLEET_LOG_LEVEL      every part's log level [info]
#   ZAKI_FLEET_MAX_TENANTS    tenants per agent [8]; each takes one of Docker's
#                             ~30 address pools, shared by all agents here
#   ZAKI_FLEET_COMPOSE_OVERRIDE  an extra compose file merged over fleet.yml
#   ZAKI_IMAGE, ZAKI_TGSTANDIN_IMAGE, ZAKI_ECHO_IMAGE  [zaki:dev,
#                             zaki-tgstandin:dev, zaki-echo:v1]
# Two fleets can run side by side with different ZAKI_FLEET, ZAKI_FLEET_NET
# and ports.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

export ZAKI_FLEET="${ZAKI_FLEET:-fleet}"
export ZAKI_FLEET_NET="${ZAKI_FLEET_NET:-10.77}"
export ZAKI_FLEET_RUN="${ZAKI_FLEET_RUN:-$here/run/$ZAKI_FLEET}"
export ZAKI_FLEET_WEBHOOK_PORT="${ZAKI_FLEET_WEBHOOK_PORT:-8543}"
export ZAKI_FLEET_TELEGRAM_PORT="${ZAKI_FLEET_TELEGRAM_PORT:-8581}"
export ZAKI_IMAGE="${ZAKI_IMAGE:-zaki:dev}"
export ZAKI_TGSTANDIN_IMAGE="${ZAKI_TGSTANDIN_IMAGE:-zaki-tgstandin:dev}"
export ZAKI_FLEET_DOCKER_SOCKET="${ZAKI_FLEET_DOCKER_SOCKET:-/var/run/docker.sock}"
ZAKI_ECHO_IMAGE="${ZAKI_ECHO_IMAGE:-zaki-echo:v1}"
wait_secs="${ZAKI_FLEET_WAIT:-120}"
project="zaki-$ZAKI_FLEET"
agents=(agent1 agent2 agent3)
cps=(cp1 cp2 cp3)
# The bot id the sample conversation was written for.
bot_id=6100000001

say() { printf 'fleet %s: %s\n' "$ZAKI_FLEET" "$*"; }
die() {
	printf 'fleet %s: %s\n' "$ZAKI_FLEET" "$*" >&2
	exit 1
}

usage() {
	cat <<EOF
usage: deploy/compose/fleet.sh COMMAND [ARGS]

  up              start the fleet (run \`make images\` first) and wait until every agent is a node
  play [FLAGS]    send the sample conversation to the router; print the replies per chat
  status          containers, nodes, tenants and control planes
  logs [SERVICE]  follow the logs (services: cp1-3, agent1-3, router, telegram)
  token [ROLE] [FLAGS]  print a new join token (agent, router or admin; zaki ctl token create flags)
  ctl ARGS        run zaki ctl against the fleet's control planes
  compose ARGS    run docker-compose on the fleet (kill agent2, start agent2, ...)
  down            stop the fleet; remove its containers, tenants' containers, networks, volumes and state
EOF
}

# The fleet's name becomes node ids and Docker names; its net, addresses.
check_settings() {
	[[ $ZAKI_FLEET =~ ^[a-z0-9][a-z0-9-]{0,30}$ ]] ||
		die "ZAKI_FLEET=$ZAKI_FLEET: use up to 31 of a-z 0-9 and -, starting with a letter or digit"
	[[ $ZAKI_FLEET_NET =~ ^[0-9]{1,3}\.[0-9]{1,3}$ ]] ||
		die "ZAKI_FLEET_NET=$ZAKI_FLEET_NET: give the first two octets of a private range, such as 10.77"
	command -v docker >/dev/null || die "docker is not installed"
	command -v docker-compose >/dev/null || die "docker-compose is not installed (Debian: apt-get install docker-compose)"
	[[ -S $ZAKI_FLEET_DOCKER_SOCKET ]] ||
		die "no Docker socket at $ZAKI_FLEET_DOCKER_SOCKET: start Docker, or set ZAKI_FLEET_DOCKER_SOCKET"
	export ZAKI_FLEET_UID ZAKI_FLEET_GID ZAKI_FLEET_DOCKER_GID
	ZAKI_FLEET_UID=$(id -u)
	ZAKI_FLEET_GID=$(id -g)
	ZAKI_FLEET_DOCKER_GID=$(stat -c %g "$ZAKI_FLEET_DOCKER_SOCKET")
}

# prepare_run makes the run directory and the files fleet.yml mounts or
# reads, so that every docker-compose command can load the file. Secrets are
# mode 0600, made once per fleet and kept until `down`.
prepare_run() {
	umask 077
	mkdir -p "$ZAKI_FLEET_RUN/secrets" "$ZAKI_FLEET_RUN/router"
	for d in "${cps[@]}" "${agents[@]}"; do mkdir -p "$ZAKI_FLEET_RUN/$d"; done
	for f in agent.env router.env telegram.env; do touch "$ZAKI_FLEET_RUN/$f"; done
	local kek="$ZAKI_FLEET_RUN/secrets/ca-kek"
	if [[ ! -s $kek ]]; then
		head -c 32 /dev/urandom >"$kek.new" && mv "$kek.new" "$kek"
	fi
	if [[ ! -s $ZAKI_FLEET_RUN/telegram.env ]]; then
		local token secret
		token="$bot_id:AA$(random_hex 17)"
		secret=$(random_hex 24)
		printf 'ZAKI_BOT_TOKEN=%s\nZAKI_WEBHOOK_SECRET=%s\n' "$token" "$secret" >"$ZAKI_FLEET_RUN/telegram.env"
		cp "$ZAKI_FLEET_RUN/telegram.env" "$ZAKI_FLEET_RUN/router.env"
	fi
}

random_hex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }

compose() {
	local files=(-f "$here/fleet.yml")
	if [[ -n ${ZAKI_FLEET_COMPOSE_OVERRIDE:-} ]]; then files+=(-f "$ZAKI_FLEET_COMPOSE_OVERRIDE"); fi
	docker-compose -p "$project" --project-directory "$here" "${files[@]}" "$@"
}

# ctl runs zaki ctl in a throwaway container on the control network. It
# needs the operator credentials cp1 writes at its first start.
ctl() {
	[[ -s $ZAKI_FLEET_RUN/cp1/admin/cert.pem ]] ||
		die "no operator credentials in $ZAKI_FLEET_RUN/cp1/admin yet: is the fleet up? (fleet.sh up)"
	compose run --rm -T ctl "$@" 2> >(grep -v -e '^Creating ' -e '^Starting ' >&2)
}

require_images() {
	local missing=()
	for img in "$ZAKI_IMAGE" "$ZAKI_TGSTANDIN_IMAGE" "$ZAKI_ECHO_IMAGE"; do
		docker image inspect "$img" >/dev/null 2>&1 || missing+=("$img")
	done
	((${#missing[@]} == 0)) || die "image ${missing[*]} not built on this machine: run \`make images\` first"
}

# exited fails with the container's last log lines when one of the services
# named is not running.
exited() {
	local states svc state unknown
	states=$(docker ps -a --filter "label=com.docker.compose.project=$project" \
		--format '{{.Label "com.docker.compose.service"}} {{.State}}')
	for svc in "$@"; do
		state=$(awk -v s="$svc" '$1 == s {print $2}' <<<"$states")
		[[ $state == running ]] && continue
		printf '\n' >&2
		compose logs --no-color --tail 15 "$svc" >&2 || true
		unknown=$(compose logs --no-color "$svc" 2>/dev/null | grep -o 'unknown flag [^ ]*' | head -1 || true)
		if [[ -n $unknown ]]; then
			die "$svc stopped: its image does not know a flag fleet.yml gives ($unknown); rebuild the images" \
				"with \`make images\` from a checkout that has it"
		fi
		die "$svc is ${state:-missing}; its last log lines are above"
	done
}

# wait_for WHAT CHECK SERVICES... polls CHECK every 2s, for at most
# ZAKI_FLEET_WAIT seconds, and fails early when one of SERVICES stopped.
wait_for() {
	local what=$1 check=$2 start=$SECONDS
	shift 2
	printf 'fleet %s: waiting for %s ' "$ZAKI_FLEET" "$what"
	until "$check" >/dev/null 2>&1; do
		exited "$@"
		if ((SECONDS - start >= wait_secs)); then
			printf '\n'
			"$check" || true
			die "$what not ready after ${wait_secs}s; see \`fleet.sh logs\`"
		fi
		printf '.'
		sleep 2
	done
	printf ' ready (%ds)\n' $((SECONDS - start))
}

cps_serve() {
	local cp
	for cp in "${cps[@]}"; do ctl --controlplane="$cp:7400" nodes || return 1; done
}

nodes_active() {
	local out
	out=$(ctl nodes)
	echo "$out"
	[[ $(awk -v p="$ZAKI_FLEET-agent" 'index($1, p) == 1 && $3 == "active" && $4 == "connected"' <<<"$out" |
		wc -l) -ge ${#agents[@]} ]]
}

admin_ready() { [[ -s $ZAKI_FLEET_RUN/cp1/admin/cert.pem ]]; }

# make_tokens gives the agents and the router their join tokens, once.
make_tokens() {
	if ! grep -q '^ZAKI_JOIN_TOKEN=' "$ZAKI_FLEET_RUN/agent.env"; then
		printf 'ZAKI_JOIN_TOKEN=%s\n' "$(ctl token create --role agent --ttl 1h --description "fleet.sh agents" -q)" \
			>"$ZAKI_FLEET_RUN/agent.env"
	fi
	if ! grep -q '^ZAKI_JOIN_TOKEN=' "$ZAKI_FLEET_RUN/router.env"; then
		printf 'ZAKI_JOIN_TOKEN=%s\n' "$(ctl token create --role router --ttl 1h --description "fleet.sh router" -q)" \
			>>"$ZAKI_FLEET_RUN/router.env"
	fi
}

cmd_up() {
	require_images
	say "starting control planes ${cps[*]} (state and secrets in $ZAKI_FLEET_RUN)"
	compose up -d "${cps[@]}"
	wait_for "cp1's operator credentials" admin_ready "${cps[@]}"
	wait_for "control planes to serve" cps_serve "${cps[@]}"
	make_tokens
	say "starting the Telegram stand-in, the router and agents ${agents[*]}"
	compose up -d telegram router "${agents[@]}"
	wait_for "every agent to be an active node" nodes_active "${cps[@]}" telegram router "${agents[@]}"
	ctl nodes
	cat <<EOF

fleet $ZAKI_FLEET is up: 3 control planes, 3 agents, a router and a Telegram stand-in.
  webhook   http://127.0.0.1:$ZAKI_FLEET_WEBHOOK_PORT/telegram/webhook (secret: ZAKI_WEBHOOK_SECRET in $ZAKI_FLEET_RUN/router.env)
  replies   http://127.0.0.1:$ZAKI_FLEET_TELEGRAM_PORT/standin/calls
  next      $0 play | status | logs | ctl tenants | down
EOF
}

cmd_status() {
	compose ps
	echo
	ctl nodes
	echo
	ctl tenants
	echo
	ctl controlplanes
}

cmd_down() {
	say "stopping and removing the fleet's containers, networks and volumes"
	compose down --volumes --remove-orphans --timeout 10
	remove_tenants
	rm -rf "$ZAKI_FLEET_RUN"
	rmdir "$here/run" 2>/dev/null || true # the default parent, once no fleet is left
	say "removed $ZAKI_FLEET_RUN"
}

# remove_tenants removes what the fleet's agents made on the host's engine:
# the containers, networks and volumes labelled with one of its node ids.
remove_tenants() {
	local node_re="^$ZAKI_FLEET-agent[0-9]+\$" filter=(--filter label=zaki.managed-by=zaki)
	mapfile -t ids < <(docker ps -a "${filter[@]}" --format '{{.ID}} {{.Label "zaki.node"}}' | awk -v re="$node_re" '$2 ~ re {print $1}')
	if ((${#ids[@]})); then docker rm -f "${ids[@]}" >/dev/null; fi
	mapfile -t nets < <(docker network ls "${filter[@]}" --format '{{.ID}} {{.Label "zaki.node"}}' | awk -v re="$node_re" '$2 ~ re {print $1}')
	if ((${#nets[@]})); then docker network rm "${nets[@]}" >/dev/null; fi
	mapfile -t vols < <(docker volume ls "${filter[@]}" --format '{{.Name}} {{.Label "zaki.node"}}' | awk -v re="$node_re" '$2 ~ re {print $1}')
	if ((${#vols[@]})); then docker volume rm "${vols[@]}" >/dev/null; fi
	say "removed ${#ids[@]} tenant containers, ${#nets[@]} networks and ${#vols[@]} volumes"
}

main() {
	local cmd=${1:-help}
	shift || true
	case $cmd in
	help | -h | --help)
		usage
		return
		;;
	esac
	check_settings
	prepare_run
	case $cmd in
	up) cmd_up ;;
	down) cmd_down ;;
	status) cmd_status ;;
	play) compose exec -T telegram /zaki-tgstandin play "$@" ;;
	logs) compose logs -f --tail 100 "$@" ;;
	token)
		local role=${1:-agent}
		shift || true
		ctl token create --role "$role" -q "$@"
		;;
	ctl) ctl "$@" ;;
	compose) compose "$@" ;;
	*)
		usage >&2
		exit 2
		;;
	esac
}

main "$@"
