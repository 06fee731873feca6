from django.db import migrations

from core.db import postgres_only_sql

FORWARD = """
    CREATE OR REPLACE FUNCTION revrec_line_recognized_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF OLD.status = 'recognized' THEN
            RAISE EXCEPTION 'recognised revenue lines are immutable: % refused', TG_OP
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    END $$;
    CREATE TRIGGER revrec_line_recognized_immutable BEFORE UPDATE OR DELETE ON revrec_revenuescheduleline
        FOR EACH ROW EXECUTE FUNCTION revrec_line_recognized_immutable();
"""
REVERSE = """
    DROP TRIGGER IF EXISTS revrec_line_recognized_immutable ON revrec_revenuescheduleline;
    DROP FUNCTION IF EXISTS revrec_line_recognized_immutable();
"""


class Migration(migrations.Migration):
    dependencies = [("revrec", "0001_initial")]

    operations = [postgres_only_sql(FORWARD, REVERSE)]
