#!/usr/bin/env bash
# Entrypoint of the local postgres stand-in, with the official image's rules:
# - arguments that start with '-' are options for `postgres`;
# - `postgres ...` started as root prepares $PGDATA (which may be an empty,
#   root-owned tmpfs) and the socket folder, then drops to the postgres user;
# - on an empty $PGDATA: initdb (UTF-8), superuser $POSTGRES_USER with
#   $POSTGRES_PASSWORD, database $POSTGRES_DB, then the files in
#   /docker-entrypoint-initdb.d run once against a temporary server that
#   listens on the unix socket only;
# - finally `postgres` is exec'd in the foreground, so it gets the signals.
# Any other command is exec'd as it is.
set -Eeo pipefail

# VAR, or the content of the file named by VAR_FILE (Docker secrets).
file_env() {
	local var=$1 file_var=${1}_FILE default=${2:-}
	if [[ ${!var:-} && ${!file_var:-} ]]; then
		echo >&2 "error: both $var and $file_var are set (but are exclusive)"
		exit 1
	fi
	local value=$default
	if [[ ${!var:-} ]]; then
		value=${!var}
	elif [[ ${!file_var:-} ]]; then
		value=$(<"${!file_var}")
	fi
	export "$var=$value"
	unset "$file_var"
}

# psql as the superuser on the unix socket; used for the init files (and by
# sourced *.sh files, as in the official image).
docker_process_sql() {
	local db=()
	[[ ${POSTGRES_DB:-} ]] && db=(--dbname "$POSTGRES_DB")
	PGHOST= PGHOSTADDR= psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc "${db[@]}" "$@"
}

wants_help() {  # postgres options that print and exit: no init for them
	local arg
	for arg; do
		case $arg in
			-'?' | --help | --describe-config | -V | --version) return 0 ;;
		esac
	done
	return 1
}

init_database() {
	file_env POSTGRES_PASSWORD
	file_env POSTGRES_USER postgres
	file_env POSTGRES_DB "$POSTGRES_USER"
	file_env POSTGRES_INITDB_ARGS
	: "${POSTGRES_HOST_AUTH_METHOD:=}"

	if [[ -z $POSTGRES_PASSWORD && $POSTGRES_HOST_AUTH_METHOD != trust ]]; then
		cat >&2 <<-'EOE'
			Error: Database is uninitialized and superuser password is not specified.
			       You must specify POSTGRES_PASSWORD to a non-empty value for the
			       superuser. For example, "-e POSTGRES_PASSWORD=password" on "docker run".

			       You may also use "POSTGRES_HOST_AUTH_METHOD=trust" to allow all
			       connections without a password. This is *not* recommended.
		EOE
		exit 1
	fi
	: "${POSTGRES_HOST_AUTH_METHOD:=scram-sha-256}"

	# The image holds a cluster made at build time by exactly this initdb
	# (superuser "postgres", no password, TZ unset): copy it when nothing asks
	# for another one, and fix user and password on the temporary server.
	# --no-sync: a container's database need not survive a power cut of the
	# machine before its first checkpoint.
	local from_template=0
	if [[ -z $POSTGRES_INITDB_ARGS && -z ${POSTGRES_INITDB_WALDIR:-} && -z ${TZ:-} \
		&& -f ${EPH_TEMPLATE_CLUSTER:-} && -z $(ls -A "$PGDATA") ]]; then
		tar -C "$PGDATA" -xf "$EPH_TEMPLATE_CLUSTER"
		echo "initdb: copied $EPH_TEMPLATE_CLUSTER (initdb --encoding=UTF8 --locale=C.UTF-8, made at image build) to $PGDATA"
		from_template=1
	else
		# The password file ends in a newline: initdb refuses an empty file.
		eval 'initdb --username="$POSTGRES_USER" --pwfile=<(printf "%s\n" "$POSTGRES_PASSWORD") --encoding=UTF8 --locale=C.UTF-8 --no-sync '"$POSTGRES_INITDB_ARGS"
	fi

	{
		echo
		[[ $POSTGRES_HOST_AUTH_METHOD == trust ]] && echo '# warning: trust is enabled for all connections'
		echo "host all all all $POSTGRES_HOST_AUTH_METHOD"
	} >>"$PGDATA/pg_hba.conf"

	# Temporary server: unix socket only, no fsync (it only runs the set-up).
	export PGPASSWORD=${PGPASSWORD:-$POSTGRES_PASSWORD}
	PGUSER=${PGUSER:-$POSTGRES_USER} pg_ctl -D "$PGDATA" -w start \
		-o "-c listen_addresses='' -p ${PGPORT:-5432} -c fsync=off -c synchronous_commit=off -c full_page_writes=off"

	if (( from_template )); then
		# Password first, then the name: initdb --username names the bootstrap
		# superuser (oid 10), and a session cannot ALTER its own role's name.
		PGHOST= PGHOSTADDR= psql -v ON_ERROR_STOP=1 --username postgres --no-password --no-psqlrc \
			--dbname postgres --quiet --set user="$POSTGRES_USER" --set password="$POSTGRES_PASSWORD" <<-'EOSQL'
			SELECT :'password' <> '' AS set_password, :'user' <> 'postgres' AS rename \gset
			\if :set_password
			ALTER ROLE postgres PASSWORD :'password';
			\endif
			\if :rename
			UPDATE pg_authid SET rolname = :'user' WHERE oid = 10;
			\endif
		EOSQL
	fi

	if [[ $POSTGRES_DB != postgres ]]; then
		local exists
		exists=$(POSTGRES_DB= docker_process_sql --dbname postgres --tuples-only --set db="$POSTGRES_DB" \
			<<<"SELECT 1 FROM pg_database WHERE datname = :'db' ;")
		if [[ -z ${exists//[[:space:]]/} ]]; then
			POSTGRES_DB= docker_process_sql --dbname postgres --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db" ;'
		fi
	fi

	local f
	shopt -s nullglob
	for f in /docker-entrypoint-initdb.d/*; do
		case $f in
			*.sh)
				if [[ -x $f ]]; then
					echo "$0: running $f"
					"$f"
				else
					echo "$0: sourcing $f"
					# shellcheck disable=SC1090
					. "$f"
				fi
				;;
			*.sql) echo "$0: running $f"; docker_process_sql -f "$f"; echo ;;
			*.sql.gz) echo "$0: running $f"; gunzip -c "$f" | docker_process_sql; echo ;;
			*.sql.xz) echo "$0: running $f"; xz -dc "$f" | docker_process_sql; echo ;;
			*) echo "$0: ignoring $f" ;;
		esac
	done
	shopt -u nullglob

	PGUSER=${PGUSER:-$POSTGRES_USER} pg_ctl -D "$PGDATA" -m fast -w stop
	unset PGPASSWORD
	echo
	echo 'PostgreSQL init process complete; ready for start up.'
	echo
}

if [[ ${1:0:1} == - ]]; then
	set -- postgres "$@"
fi

if [[ $1 != postgres ]] || wants_help "$@"; then
	exec "$@"
fi

: "${PGDATA:=/var/lib/postgresql/data}"
export PGDATA

if [[ $(id -u) == 0 ]]; then
	# A fresh tmpfs or volume is root's: hand it to postgres, then drop root.
	mkdir -p "$PGDATA"
	find "$PGDATA" \! -user postgres -exec chown postgres:postgres '{}' +
	chmod 700 "$PGDATA"
	install -d -o postgres -g postgres -m 3777 /var/run/postgresql
	exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
fi

# Started with --user: do what that user may.
mkdir -p "$PGDATA"
chmod 700 "$PGDATA" 2>/dev/null || :

if [[ -s $PGDATA/PG_VERSION ]]; then
	echo
	echo 'PostgreSQL Database directory appears to contain a database; Skipping initialization'
	echo
else
	init_database
fi

exec "$@"
