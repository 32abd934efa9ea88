#!/usr/bin/env bash
# Entrypoint of the local redis stand-in, with the official image's rules:
# - arguments that start with '-', or a first argument ending in .conf, are
#   for redis-server;
# - redis-server runs as the redis user, in /data;
# - protected mode is off unless the arguments or the config file set it.
#   The official image gets that by building redis with protected-mode off by
#   default; Debian's redis keeps it on, so it is added to the command line
#   here, before the user's own options (later options win). Without a
#   `bind` option redis listens on all interfaces ("* -::*") already.
# Any other command is exec'd as it is.
set -eo pipefail

if [[ ${1#-} != "$1" || ${1%.conf} != "$1" ]]; then
	set -- redis-server "$@"
fi

if [[ $1 == redis-server ]]; then
	has_setting=0
	for arg in "${@:2}"; do
		[[ $arg == --protected-mode ]] && has_setting=1
	done
	conf=
	[[ ${2:-} && ${2:0:1} != - ]] && conf=$2
	if [[ $conf && -r $conf ]] && grep -Eq '^[[:space:]]*protected-mode[[:space:]]' "$conf"; then
		has_setting=1
	fi
	if (( ! has_setting )); then
		if [[ $conf ]]; then
			set -- "$1" "$conf" --protected-mode no "${@:3}"
		else
			set -- "$1" --protected-mode no "${@:2}"
		fi
	fi

	if [[ $(id -u) == 0 ]]; then
		find . \! -user redis -exec chown redis '{}' +
		exec setpriv --reuid=redis --regid=redis --init-groups "${BASH_SOURCE[0]}" "$@"
	fi
	# Files redis writes (dump.rdb, appendonly) are private unless a umask was set.
	[[ $(umask) == 0022 ]] && umask 0077
fi

exec "$@"
