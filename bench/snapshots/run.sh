#!/bin/sh
# Measures the ways to snapshot a Postgres database before a migration, at
# about 100 MB (BENCH_ROWS rows of ~100 bytes of text plus an index), in a
# throw-away container of the service image Berth runs (berth/postgres:17 or
# postgres:17): CREATE DATABASE ... TEMPLATE, pg_dump -Fc at three
# compression levels streamed out of the container (as Berth does), and the
# restore of the dump into a new database (the restore path). Prints one
# line per way, seconds and bytes. See docs/data-safety.md.
set -eu
IMAGE=${BENCH_IMAGE:-berth/postgres:17}
ROWS=${BENCH_ROWS:-530000}
NAME=berth-snapbench-$$
OUT=$(mktemp -d)
trap 'docker rm -f "$NAME" >/dev/null 2>&1; rm -rf "$OUT"' EXIT
docker run -d --name "$NAME" -e POSTGRES_PASSWORD=bench -e POSTGRES_DB=app "$IMAGE" >/dev/null
until docker exec "$NAME" pg_isready -h 127.0.0.1 -U postgres >/dev/null 2>&1; do sleep 0.5; done
sleep 1
psql() { docker exec -i "$NAME" psql -q -v ON_ERROR_STOP=1 -U postgres "$@"; }
psql app -c "CREATE TABLE items (id bigserial PRIMARY KEY, name text, body text, n int);
  INSERT INTO items (name, body, n) SELECT 'item ' || g, md5(g::text) || md5((g*7)::text) || md5((g*13)::text), g % 1000 FROM generate_series(1, $ROWS) g;
  CREATE INDEX items_n ON items (n);"
psql app -c "VACUUM ANALYZE items"
size=$(psql app -tAc "SELECT pg_database_size('app')")
echo "database: $size bytes ($ROWS rows)"
t() { s=$(date +%s.%N); "$@"; e=$(date +%s.%N); echo "$e - $s" | bc; }
secs=$(t psql postgres -c "CREATE DATABASE copy1 TEMPLATE app")
echo "CREATE DATABASE TEMPLATE (no other session on app): ${secs}s"
for z in 0 1 6; do
  secs=$(t sh -c "docker exec $NAME pg_dump -Fc -Z$z -U postgres app > $OUT/dump$z")
  echo "pg_dump -Fc -Z$z streamed out: ${secs}s, $(stat -c %s "$OUT/dump$z") bytes"
done
secs=$(t docker exec "$NAME" pg_dump -Fc -Z1 -U postgres -f /tmp/dump1 app)
echo "pg_dump -Fc -Z1 to a file in the container: ${secs}s"
psql postgres -c "CREATE DATABASE r1 TEMPLATE template0"
secs=$(t sh -c "docker exec -i $NAME pg_restore -U postgres -d r1 --no-owner --no-acl --single-transaction < $OUT/dump1")
echo "pg_restore of the -Z1 dump into a new database: ${secs}s"
psql postgres -c "CREATE DATABASE r2 TEMPLATE template0"
secs=$(t sh -c "docker exec -i $NAME pg_restore -U postgres -d r2 --no-owner --no-acl --single-transaction < $OUT/dump0")
echo "pg_restore of the -Z0 dump into a new database: ${secs}s"
# A session on app (a running web container) makes TEMPLATE fail:
docker exec -d "$NAME" psql -U postgres app -c "SELECT pg_sleep(30)"
sleep 1
if psql postgres -c "CREATE DATABASE copy2 TEMPLATE app" 2>"$OUT/err"; then echo "TEMPLATE with a session open: worked"; else echo "TEMPLATE with a session open: $(head -1 "$OUT/err")"; fi
