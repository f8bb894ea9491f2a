"""The database: tables, the store and its repositories, rollup tables kept in step, migrations."""
