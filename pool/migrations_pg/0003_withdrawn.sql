-- 0003: a virtual number its supplier withdrew stays retired while the config still
-- lists it (until the supplier restores it), as SQLite's 0017.
ALTER TABLE virtual_numbers ADD COLUMN withdrawn_at BIGINT;
