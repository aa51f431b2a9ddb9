#!/usr/bin/env bash
# Entrypoint of berth/redis: the official redis image's argument handling on
# Debian's redis-server, plus a password from the environment.
#
#   REDIS_PASSWORD       if set, clients must AUTH with it (requirepass)
#   REDIS_PASSWORD_FILE  read the password from this file instead (Docker secrets)
#
# Like the official image: `docker run IMAGE --maxmemory 100mb` and
# `docker run IMAGE /path/redis.conf [--opt val ...]` mean redis-server with
# those arguments; started as root, it gives /data to redis and re-runs
# itself as redis through gosu; the umask becomes 0077; redis-server is
# exec'd, so it is PID 1 and saves and exits cleanly on SIGTERM. Any other
# command (bash, redis-cli, ...) runs unchanged.
#
# Without a config file, redis-server runs with
#   --dir /data --appendonly yes --bind 0.0.0.0 -::*     (+ --protected-mode no with a password)
# and the caller's options after these, so they override them. Without a
# password Redis keeps its protected mode: only clients inside the container
# (127.0.0.1) get in; add `--protected-mode no` to open it anyway.
#
# With a config file as first argument, that file rules: only requirepass
# (from REDIS_PASSWORD) and the caller's options are applied on top.
#
# The password never appears on a command line: it is given to redis-server
# as a config line on stdin (`redis-server [FILE] ... -`, read after the file
# and before the options), hex-escaped so any byte survives.
set -Eeo pipefail

# file_env VAR: set VAR from $VAR or from the file named by $VAR_FILE.
file_env() {
	local var=$1 file_var="${1}_FILE" val=
	if [ -n "${!var:-}" ] && [ -n "${!file_var:-}" ]; then
		printf >&2 'error: both %s and %s are set (they are exclusive)\n' "$var" "$file_var"
		exit 1
	fi
	if [ -n "${!var:-}" ]; then
		val=${!var}
	elif [ -n "${!file_var:-}" ]; then
		val=$(<"${!file_var}")
	fi
	export "$var"="$val"
	unset "$file_var"
}

# redis_quote STRING: STRING as a double-quoted redis.conf token, every byte
# written as \xHH.
redis_quote() {
	local hex
	hex=$(printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n')
	printf '"%s"' "$(printf '%s' "$hex" | sed 's/../\\x&/g')"
}

if [ $# -eq 0 ]; then
	set -- redis-server
fi
# First argument an option or a *.conf file: arguments for redis-server.
if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
	set -- redis-server "$@"
fi

if [ "$1" = redis-server ]; then
	file_env REDIS_PASSWORD

	if [ "$(id -u)" = 0 ]; then
		# A bind-mounted host directory usually belongs to root.
		find /data \! -user redis -exec chown redis: '{}' +
		exec gosu redis "${BASH_SOURCE[0]}" "$@"
	fi

	# The official image's default: dump.rdb and the AOF readable by redis only.
	if [ "$(umask)" = 0022 ]; then
		umask 0077
	fi

	shift # redis-server
	conf=()
	# Redis's own rule: a first argument not starting with "-" is the config file.
	if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
		conf=("$1")
		shift
	fi

	defaults=()
	if [ ${#conf[@]} -eq 0 ]; then
		defaults=(--dir /data --appendonly yes --bind 0.0.0.0 '-::*')
		if [ -n "$REDIS_PASSWORD" ]; then
			defaults+=(--protected-mode no)
		else
			echo >&2 'berth/redis: REDIS_PASSWORD is not set: unless --protected-mode no is given, Redis accepts clients from inside the container only'
		fi
	fi

	if [ -n "$REDIS_PASSWORD" ]; then
		auth="requirepass $(redis_quote "$REDIS_PASSWORD")"
		unset REDIS_PASSWORD
		# "-" (config from stdin) must be redis-server's first or last argument.
		if [ ${#conf[@]} -eq 0 ]; then
			exec redis-server - "${defaults[@]}" "$@" <<<"$auth"
		fi
		exec redis-server "${conf[@]}" "$@" - <<<"$auth"
	fi
	exec redis-server "${conf[@]}" "${defaults[@]}" "$@"
fi

exec "$@"
