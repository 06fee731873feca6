#!/usr/bin/env bash
# Back up a Ledgerline database with pg_dump, restore it into a fresh database, and prove the copy:
# no migration pending, every invariant holds (check_invariants), and the books' fingerprint (row counts
# and totals) equals the source's.
#
#   scripts/backup_restore.sh [SOURCE_DATABASE_URL] [TARGET_DATABASE_NAME]
#
# SOURCE defaults to $DATABASE_URL; TARGET to "<source name>_restored". The target is dropped and created
# anew. The dump is kept in $BACKUP_DIR (default: a temporary folder removed at the end) as
# <source>-<UTC time>.dump (pg_dump's custom format: compressed, restorable table by table).
set -euo pipefail

cd "$(dirname "$0")/.."
PY="${PY:-.venv/bin/python}"
SOURCE_URL="${1:-${DATABASE_URL:-}}"
[[ "$SOURCE_URL" == postgres://* || "$SOURCE_URL" == postgresql://* ]] \
    || { echo "usage: $0 postgres://user@host:port/db [target_db]" >&2; exit 2; }

SOURCE_NAME="${SOURCE_URL##*/}"
SOURCE_NAME="${SOURCE_NAME%%\?*}"
SERVER_URL="${SOURCE_URL%/*}"
TARGET_NAME="${2:-${SOURCE_NAME}_restored}"
TARGET_URL="$SERVER_URL/$TARGET_NAME"
[[ "$TARGET_NAME" =~ ^[A-Za-z0-9_]+$ ]] || { echo "target name must be [A-Za-z0-9_]+" >&2; exit 2; }
[[ "$TARGET_NAME" != "$SOURCE_NAME" ]] || { echo "target must differ from the source" >&2; exit 2; }

WORK="$(mktemp -d /tmp/ledgerline-backup.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
BACKUP_DIR="${BACKUP_DIR:-$WORK}"
mkdir -p "$BACKUP_DIR"
DUMP="$BACKUP_DIR/$SOURCE_NAME-$(date -u +%Y%m%dT%H%M%SZ).dump"

step() { printf '== %s\n' "$*"; }

step "fingerprint of the source ($SOURCE_NAME)"
DATABASE_URL="$SOURCE_URL" LEDGERLINE_ENV="${LEDGERLINE_ENV:-local}" \
    "$PY" manage.py check_invariants --json >"$WORK/source.json" || true  # compared below

step "pg_dump → $DUMP"
pg_dump --format=custom --no-owner --no-privileges --file="$DUMP" "$SOURCE_URL"

step "restore into a fresh database ($TARGET_NAME)"
psql "$SERVER_URL/postgres" -v ON_ERROR_STOP=1 -qc "DROP DATABASE IF EXISTS \"$TARGET_NAME\" WITH (FORCE)"
psql "$SERVER_URL/postgres" -v ON_ERROR_STOP=1 -qc "CREATE DATABASE \"$TARGET_NAME\""
pg_restore --no-owner --no-privileges --exit-on-error --dbname="$TARGET_URL" "$DUMP"

step "the copy: no migration pending, invariants, fingerprint"
DATABASE_URL="$TARGET_URL" LEDGERLINE_ENV="${LEDGERLINE_ENV:-local}" "$PY" manage.py migrate --check --noinput
DATABASE_URL="$TARGET_URL" LEDGERLINE_ENV="${LEDGERLINE_ENV:-local}" \
    "$PY" manage.py check_invariants --json >"$WORK/target.json"
"$PY" - "$WORK/source.json" "$WORK/target.json" <<'PYEOF'
import json
import sys

source, target = (json.load(open(path)) for path in sys.argv[1:3])
assert target["ok"], f"invariants fail on the restored copy: {target['checks']}"
if source["fingerprint"] != target["fingerprint"]:
    raise SystemExit(f"the copy differs from the source:\n{source['fingerprint']}\n{target['fingerprint']}")
print(f"restored copy matches the source: {target['fingerprint']}")
PYEOF
step "backup and restore verified"
