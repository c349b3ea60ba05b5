-- 004_change_callbacks.sql - module ABI 2 (issue 16): a module may move
-- its state into the next version's instead of copying it, with two more
-- optional callbacks, change_commit and change_abort. They get their own
-- column: `callbacks` keeps its CHECK (0..7, the ABI 1 bits), and this one
-- holds LM_CB_CHANGE_COMMIT | LM_CB_CHANGE_ABORT shifted down by 3 (both
-- or neither: 0 or 3). Rows of modules recorded before are ABI 1: 0.
ALTER TABLE module_versions ADD COLUMN change_callbacks INTEGER NOT NULL
	DEFAULT 0 CHECK (change_callbacks IN (0, 3));

-- The planning index carries every callback bit in its callbacks field.
DROP VIEW release_index_lines;
CREATE VIEW release_index_lines AS
SELECT rm.release_id AS release_id, rm.name AS name,
       instr(rm.file, char(9)) + instr(rm.file, char(10)) = 0 AS ok,
       m.name || char(9) || rm.file || char(9) || rm.oid || char(9) ||
       m.vsn || char(9) || m.abi || char(9) || m.deps || char(9) ||
       (m.callbacks | (m.change_callbacks << 3)) || char(9) || m.purge ||
       char(10) AS line
FROM release_modules rm JOIN module_versions m ON m.oid = rm.oid;
