-- 0017: a virtual number its supplier withdrew stays retired while the config still
-- lists it (until the supplier restores it); one the config dropped comes back when
-- the config lists it again.
ALTER TABLE virtual_numbers ADD COLUMN withdrawn_at INTEGER;
