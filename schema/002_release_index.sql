-- 002_release_index.sql - each release's modules in one row, for planning.
--
-- `livemod plan` diffs the libdir against the whole current release. Read
-- as 10,000 release_modules rows joined with module_versions, that alone
-- costs more than `git status` on the same tree; read as one row of text,
-- a small fraction. Releases never change once recorded, so the row is
-- written with the release (lib/ledger.c, lm_ledger_release_add) from the
-- same join, through release_index_text below, and cannot drift from it.
-- release_modules and module_versions stay the truth: a release without a
-- row here is read through the join.

-- One line per module of a release:
--   name TAB file TAB oid TAB vsn TAB abi TAB deps TAB callbacks TAB purge LF
-- (module_versions' columns but exports, which planning does not need).
-- `ok` is false for a file name holding a tab or a newline: a release
-- with one gets no row (HAVING min(ok)).
CREATE VIEW release_index_lines AS
SELECT rm.release_id AS release_id, rm.name AS name,
       instr(rm.file, char(9)) + instr(rm.file, char(10)) = 0 AS ok,
       m.name || char(9) || rm.file || char(9) || rm.oid || char(9) ||
       m.vsn || char(9) || m.abi || char(9) || m.deps || char(9) ||
       m.callbacks || char(9) || m.purge || char(10) AS line
FROM release_modules rm JOIN module_versions m ON m.oid = rm.oid;

-- The lines in name order, as one text.
CREATE TABLE release_index (
	release_id INTEGER PRIMARY KEY REFERENCES releases(id),
	modules    TEXT NOT NULL
);

INSERT INTO release_index (release_id, modules)
SELECT release_id, group_concat(line, '')
FROM (SELECT * FROM release_index_lines ORDER BY release_id, name)
GROUP BY release_id HAVING min(ok);
