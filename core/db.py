"""Database helpers: invariants that PostgreSQL enforces itself (the embedded SQLite default skips them)."""

from django.db import connection, migrations


def postgres_only_sql(sql: str, reverse_sql: str) -> migrations.RunPython:
    """A migration operation that runs `sql` on PostgreSQL and does nothing on other databases."""

    def forwards(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)

    def backwards(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(reverse_sql, params=None)

    return migrations.RunPython(forwards, backwards, elidable=False)


def append_only_trigger_sql(table: str) -> tuple[str, str]:
    """SQL (forward, reverse) for a trigger that rejects UPDATE and DELETE on `table`."""
    function = f"{table}_append_only"
    forward = f"""
        CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '% rows are append-only: % refused', TG_TABLE_NAME, TG_OP
                USING ERRCODE = 'integrity_constraint_violation';
        END $$;
        CREATE TRIGGER {function} BEFORE UPDATE OR DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION {function}();
    """
    reverse = f"DROP TRIGGER IF EXISTS {function} ON {table}; DROP FUNCTION IF EXISTS {function}();"
    return forward, reverse


def is_postgresql() -> bool:
    return connection.vendor == "postgresql"
