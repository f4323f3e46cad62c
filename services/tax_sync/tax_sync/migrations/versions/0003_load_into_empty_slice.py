"""An annual file loaded into an empty income slice builds the slice's indexes after its rows, not row by row.

Two functions, run by the importing transaction as the schema's owner (the service's role may not drop an
index): ``set_aside_income_indexes`` locks the slice and, only when it holds no figure at all, drops its three
indexes; ``restore_income_indexes`` builds them again — sorted once, cheaper than a million inserts into
them — before the transaction commits. A failed import rolls the drop back with everything else. The
definitions are those of 0001 and 0002; a test fails if the rebuilt indexes differ from the migrated ones.

Revision ID: 0003
"""

from kokunen_common.database_setup import execute_all

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_all(
        [
            """CREATE FUNCTION tax.set_aside_income_indexes() RETURNS boolean
               LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
               BEGIN
                   -- Until the caller commits: nobody reads or writes the slice while it has no index.
                   LOCK TABLE tax.income_assessment IN ACCESS EXCLUSIVE MODE;
                   IF EXISTS (SELECT 1 FROM tax.income_assessment) THEN
                       RETURN false;
                   END IF;
                   ALTER TABLE tax.income_assessment DROP CONSTRAINT income_assessment_pkey;
                   DROP INDEX tax.one_current_assessment;
                   DROP INDEX tax.income_by_file_line;
                   RETURN true;
               END $$""",
            """CREATE FUNCTION tax.restore_income_indexes() RETURNS void
               LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
               BEGIN
                   SET LOCAL maintenance_work_mem = '256MB';
                   ALTER TABLE tax.income_assessment
                       ADD CONSTRAINT income_assessment_pkey PRIMARY KEY (atena_number, income_year, correction_seq);
                   CREATE UNIQUE INDEX one_current_assessment ON tax.income_assessment (atena_number, income_year)
                       WHERE superseded_at IS NULL;
                   CREATE INDEX income_by_file_line ON tax.income_assessment (source_file, source_line)
                       WHERE source_file IS NOT NULL;
               END $$""",
            "COMMENT ON FUNCTION tax.set_aside_income_indexes() IS 'An annual file into an empty slice: lock the "
            "slice and drop its indexes until restore_income_indexes() (same transaction)'",
        ]
    )


def downgrade() -> None:
    raise NotImplementedError("forward-only: write a new migration")
