# SPDX-License-Identifier: GPL-2.0-only
# The coordinator's integration tests (int_coord) again, with a real PostgreSQL server as the
# store: initdb + pg_ctl on a temp dir and a free loopback port, the test program pointed at it
# through VIGIL_MESH_TEST_DB (each test starts from empty tables). Results appear as
# int_coord_pg/<test>.
. "$VIGIL_ROOT/tests/lib.sh"

bin=$(realpath "${VIGIL_BUILD:-build}/tests/int_coord" 2>/dev/null || true)
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$bin" ] || [ ! -x "$bin" ]; then
	skip all "build/tests/int_coord is not built (make -j2)"; exit 0
fi
if [ -z "$pgbin" ] || [ ! -x "$pgbin/initdb" ]; then
	skip all "no PostgreSQL server binaries under /usr/lib/postgresql (apt-get install postgresql)"
	exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! id postgres >/dev/null 2>&1; then
	skip all "PostgreSQL refuses to run as root and this test needs root to switch to the postgres user"
	exit 0
fi

chmod 755 "$TMP"
mkdir "$TMP/pg" && chown postgres "$TMP/pg"
pg() { runuser -u postgres -- "$@"; }
if ! pg "$pgbin/initdb" -D "$TMP/pg/data" -A trust -U postgres >"$TMP/initdb.log" 2>&1; then
	fail initdb "$(tail -n 3 "$TMP/initdb.log" | tr '\n' ' ')"; exit 1
fi
port=$(free_port)
if ! pg "$pgbin/pg_ctl" -D "$TMP/pg/data" -l "$TMP/pg/server.log" -w -t 30 \
	-o "-p $port -k $TMP/pg -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null; then
	fail pg_start "$(tail -n 3 "$TMP/pg/server.log" | tr '\n' ' ')"; exit 1
fi
on_exit "runuser -u postgres -- '$pgbin/pg_ctl' -D '$TMP/pg/data' -m immediate stop"
pg "$pgbin/createdb" -h 127.0.0.1 -p "$port" mesh || { fail createdb "createdb failed"; exit 1; }

ln -s "$bin" "$TMP/int_coord_pg"
VIGIL_MESH_TEST_DB="postgresql://postgres@127.0.0.1:$port/mesh" "$TMP/int_coord_pg"
