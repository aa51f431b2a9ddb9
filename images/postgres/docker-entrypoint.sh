#!/usr/bin/env bash
# Entrypoint of berth/postgres: the environment interface of the official
# postgres image, on Debian's postgresql-$PG_MAJOR (15 and 17: one script for both).
#
#   POSTGRES_PASSWORD          superuser password; required to initialise a
#                              database unless POSTGRES_HOST_AUTH_METHOD=trust
#   POSTGRES_USER              superuser name (default postgres)
#   POSTGRES_DB                database created on first start (default: the user)
#   POSTGRES_INITDB_ARGS       extra initdb arguments, e.g. "--data-checksums"
#   POSTGRES_INITDB_WALDIR     separate WAL directory
#   POSTGRES_HOST_AUTH_METHOD  pg_hba method for TCP connections
#                              (default: password_encryption, scram-sha-256)
#   PGDATA                     data directory (default /var/lib/postgresql/data)
#   *_FILE                     POSTGRES_PASSWORD_FILE, POSTGRES_USER_FILE,
#                              POSTGRES_DB_FILE, POSTGRES_INITDB_ARGS_FILE:
#                              read the value from a file (Docker secrets)
#
# On an empty PGDATA: initdb, a pg_hba line for all TCP clients, a temporary
# socket-only server to create POSTGRES_DB and run
# /docker-entrypoint-initdb.d/*.sh|*.sql|*.sql.gz|*.sql.xz|*.sql.zst in sorted
# order, then stop. Finally exec's postgres in the foreground as the postgres
# user, so it is PID 1 and gets the stop signal itself (SIGTERM: smart
# shutdown, SIGINT: fast, SIGQUIT: immediate).
#
# Started as root (the default) it fixes the ownership of PGDATA and
# /var/run/postgresql, then re-runs itself as postgres through gosu. Any
# command other than postgres (bash, psql, pg_dump, ...) runs unchanged.
# Not -u: init scripts are sourced into this shell and, written for the
# official image, may read unset variables.
set -Eeo pipefail

# file_env VAR [DEFAULT]: set VAR from $VAR, or from the file named by
# $VAR_FILE, or to DEFAULT; the two forms are exclusive.
file_env() {
	local var=$1 file_var="${1}_FILE" def=${2:-} val
	if [ -n "${!var:-}" ] && [ -n "${!file_var:-}" ]; then
		printf >&2 'error: both %s and %s are set (they are exclusive)\n' "$var" "$file_var"
		exit 1
	fi
	val=$def
	if [ -n "${!var:-}" ]; then
		val=${!var}
	elif [ -n "${!file_var:-}" ]; then
		val=$(<"${!file_var}")
	fi
	export "$var"="$val"
	unset "$file_var"
}

# True when this file is sourced (by a derived image's own entrypoint) rather
# than run; then only the functions are defined.
_is_sourced() {
	[ "${#FUNCNAME[@]}" -ge 2 ] &&
		[ "${FUNCNAME[0]}" = _is_sourced ] &&
		[ "${FUNCNAME[1]}" = source ]
}

docker_setup_env() {
	file_env POSTGRES_PASSWORD
	file_env POSTGRES_USER postgres
	file_env POSTGRES_DB "$POSTGRES_USER"
	file_env POSTGRES_INITDB_ARGS
	: "${POSTGRES_HOST_AUTH_METHOD:=}"
	: "${POSTGRES_INITDB_WALDIR:=}"
	export PGDATA=${PGDATA:-/var/lib/postgresql/data}

	declare -g DATABASE_ALREADY_EXISTS=
	# PG_VERSION is the file initdb writes first; its presence means "initialised".
	if [ -s "$PGDATA/PG_VERSION" ]; then
		DATABASE_ALREADY_EXISTS=true
	fi
}

# Create PGDATA, the socket directory and the WAL directory; as root, give
# them to postgres (a bind-mounted host directory usually belongs to root).
docker_create_db_directories() {
	local uid
	uid=$(id -u)
	mkdir -p "$PGDATA"
	# PostgreSQL refuses a group/world-accessible data directory; this can
	# fail on some mounts, and postgres then says why.
	chmod 0700 "$PGDATA" || :
	mkdir -p /var/run/postgresql || :
	chmod 3775 /var/run/postgresql || :
	if [ -n "$POSTGRES_INITDB_WALDIR" ]; then
		mkdir -p "$POSTGRES_INITDB_WALDIR"
		if [ "$uid" = 0 ]; then
			find "$POSTGRES_INITDB_WALDIR" \! -user postgres -exec chown postgres: '{}' +
		fi
		chmod 0700 "$POSTGRES_INITDB_WALDIR"
	fi
	if [ "$uid" = 0 ]; then
		find "$PGDATA" \! -user postgres -exec chown postgres: '{}' +
		find /var/run/postgresql \! -user postgres -exec chown postgres: '{}' +
	fi
}

docker_verify_minimum_env() {
	if [ "${#POSTGRES_PASSWORD}" -ge 100 ]; then
		echo >&2 'WARNING: POSTGRES_PASSWORD is 100 or more characters; psql cannot read such a password from PGPASSWORD.'
	fi
	if [ -z "$POSTGRES_PASSWORD" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != trust ]; then
		cat >&2 <<-'EOE'
			Error: Database is uninitialized and superuser password is not specified.
			       You must specify POSTGRES_PASSWORD to a non-empty value for the
			       superuser. For example, "-e POSTGRES_PASSWORD=password" on "docker run".

			       You may also use "POSTGRES_HOST_AUTH_METHOD=trust" to allow all
			       connections without a password. This is *not* recommended.
		EOE
		exit 1
	fi
	if [ "$POSTGRES_HOST_AUTH_METHOD" = trust ]; then
		echo >&2 'WARNING: POSTGRES_HOST_AUTH_METHOD=trust: every client that reaches port 5432 gets in without a password.'
	fi
}

# initdb refuses a uid without a passwd entry (docker run --user 1234); fake
# one with nss_wrapper for the duration of initdb, as the official image does.
docker_init_database_dir() {
	local uid gid wrapper
	uid=$(id -u)
	gid=$(id -g)
	if ! getent passwd "$uid" >/dev/null 2>&1; then
		for wrapper in /usr/lib/*/libnss_wrapper.so /usr/lib/libnss_wrapper.so; do
			if [ -s "$wrapper" ]; then
				NSS_WRAPPER_PASSWD=$(mktemp)
				NSS_WRAPPER_GROUP=$(mktemp)
				export LD_PRELOAD=$wrapper NSS_WRAPPER_PASSWD NSS_WRAPPER_GROUP
				printf 'postgres:x:%s:%s:PostgreSQL:%s:/bin/false\n' "$uid" "$gid" "$PGDATA" >"$NSS_WRAPPER_PASSWD"
				printf 'postgres:x:%s:\n' "$gid" >"$NSS_WRAPPER_GROUP"
				break
			fi
		done
	fi

	local args=(--username="$POSTGRES_USER")
	if [ -n "$POSTGRES_INITDB_WALDIR" ]; then
		args+=(--waldir "$POSTGRES_INITDB_WALDIR")
	fi
	# The password reaches initdb through a pipe, never the command line;
	# initdb stores it hashed with password_encryption (scram-sha-256).
	# POSTGRES_INITDB_ARGS is word-split with shell quoting, like the official image.
	if [ -n "$POSTGRES_PASSWORD" ]; then
		eval 'initdb "${args[@]}" --pwfile=<(printf "%s\n" "$POSTGRES_PASSWORD") '"$POSTGRES_INITDB_ARGS"' "$@"'
	else
		eval 'initdb "${args[@]}" '"$POSTGRES_INITDB_ARGS"' "$@"'
	fi

	if [[ ${LD_PRELOAD:-} == */libnss_wrapper.so ]]; then
		rm -f "$NSS_WRAPPER_PASSWD" "$NSS_WRAPPER_GROUP"
		unset LD_PRELOAD NSS_WRAPPER_PASSWD NSS_WRAPPER_GROUP
	fi
}

# pg_setup_hba_conf [postgres ARGS...]: let every TCP client in with
# POSTGRES_HOST_AUTH_METHOD, by default the method matching how passwords are
# stored (password_encryption, scram-sha-256 since PostgreSQL 14). initdb's own
# lines (trust over the unix socket and from localhost) stay first, so
# `docker exec ... psql` and pg_isready need no password.
pg_setup_hba_conf() {
	if [ "${1:-}" = postgres ]; then
		shift
	fi
	local auth
	auth=$(postgres -C password_encryption "$@")
	: "${POSTGRES_HOST_AUTH_METHOD:=$auth}"
	{
		printf '\n'
		if [ "$POSTGRES_HOST_AUTH_METHOD" = trust ]; then
			printf '# warning: trust is enabled for all connections\n'
		fi
		printf 'host all all all %s\n' "$POSTGRES_HOST_AUTH_METHOD"
	} >>"$PGDATA/pg_hba.conf"
}

# docker_process_sql [psql ARGS...]: run SQL (stdin or -f FILE) as
# POSTGRES_USER against POSTGRES_DB over the unix socket.
docker_process_sql() {
	local query_runner=(psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc)
	if [ -n "$POSTGRES_DB" ]; then
		query_runner+=(--dbname "$POSTGRES_DB")
	fi
	PGHOST='' PGHOSTADDR='' "${query_runner[@]}" "$@"
}

# Server on the unix socket only, for the first-start setup.
docker_temp_server_start() {
	if [ "${1:-}" = postgres ]; then
		shift
	fi
	set -- "$@" -c listen_addresses='' -p "${PGPORT:-5432}"
	PGUSER=${PGUSER:-$POSTGRES_USER} \
		pg_ctl -D "$PGDATA" -o "$(printf '%q ' "$@")" -w start
}

docker_temp_server_stop() {
	PGUSER=${PGUSER:-postgres} \
		pg_ctl -D "$PGDATA" -m fast -w stop
}

# Create POSTGRES_DB unless it exists (POSTGRES_DB=postgres does).
# (POSTGRES_DB='' below only drops the --dbname default of docker_process_sql.)
# shellcheck disable=SC2097,SC2098
docker_setup_db() {
	local exists
	exists=$(POSTGRES_DB='' docker_process_sql --dbname postgres --set db="$POSTGRES_DB" --tuples-only <<-'EOSQL'
		SELECT 1 FROM pg_database WHERE datname = :'db' ;
	EOSQL
	)
	if [ -z "$exists" ]; then
		POSTGRES_DB='' docker_process_sql --dbname postgres --set db="$POSTGRES_DB" <<-'EOSQL'
			CREATE DATABASE :"db" ;
		EOSQL
		printf '\n'
	fi
}

# docker_process_init_files FILE...: run the init scripts. An executable *.sh
# is run, a non-executable one sourced (it sees these functions and
# variables); SQL goes through psql with ON_ERROR_STOP.
docker_process_init_files() {
	# `"${psql[@]}"` is what older init scripts call.
	# shellcheck disable=SC2034
	psql=(docker_process_sql)
	local f
	printf '\n'
	for f; do
		case $f in
		*.sh)
			if [ -x "$f" ]; then
				printf '%s: running %s\n' "$0" "$f"
				"$f"
			else
				printf '%s: sourcing %s\n' "$0" "$f"
				# shellcheck disable=SC1090
				. "$f"
			fi
			;;
		*.sql) printf '%s: running %s\n' "$0" "$f"; docker_process_sql -f "$f"; printf '\n' ;;
		*.sql.gz) printf '%s: running %s\n' "$0" "$f"; gunzip -c "$f" | docker_process_sql; printf '\n' ;;
		*.sql.xz) printf '%s: running %s\n' "$0" "$f"; xzcat "$f" | docker_process_sql; printf '\n' ;;
		*.sql.zst) printf '%s: running %s\n' "$0" "$f"; zstd -dc "$f" | docker_process_sql; printf '\n' ;;
		*) printf '%s: ignoring %s\n' "$0" "$f" ;;
		esac
		printf '\n'
	done
}

# Options that make postgres print something and exit: no setup for those.
_pg_want_help() {
	local arg
	for arg; do
		case $arg in
		-'?' | --help | --describe-config | -V | --version) return 0 ;;
		esac
	done
	return 1
}

_main() {
	if [ $# -eq 0 ]; then
		set -- postgres
	fi
	# `docker run IMAGE -c max_connections=200` means postgres with that option.
	if [ "${1:0:1}" = - ]; then
		set -- postgres "$@"
	fi

	if [ "$1" = postgres ] && ! _pg_want_help "$@"; then
		docker_setup_env
		docker_create_db_directories
		if [ "$(id -u)" = 0 ]; then
			# Run this script again, as postgres, with the environment above.
			exec gosu postgres "${BASH_SOURCE[0]}" "$@"
		fi

		if [ -z "$DATABASE_ALREADY_EXISTS" ]; then
			docker_verify_minimum_env
			# Fail before initdb (not halfway) when the scripts are unreadable.
			ls /docker-entrypoint-initdb.d/ >/dev/null

			docker_init_database_dir
			pg_setup_hba_conf "$@"

			# For psql if POSTGRES_INITDB_ARGS made local connections ask
			# for a password; harmless otherwise.
			export PGPASSWORD=${PGPASSWORD:-$POSTGRES_PASSWORD}
			docker_temp_server_start "$@"
			docker_setup_db
			shopt -s nullglob
			docker_process_init_files /docker-entrypoint-initdb.d/*
			shopt -u nullglob
			docker_temp_server_stop
			unset PGPASSWORD

			printf '\nPostgreSQL init process complete; ready for start up.\n\n'
		else
			printf '\nPostgreSQL Database directory appears to contain a database; Skipping initialization\n\n'
		fi
	fi

	exec "$@"
}

if ! _is_sourced; then
	_main "$@"
fi
