-- 003_recovery.sql - what a node needs to always come back (issue 11):
-- the last release that booted on it, the releases that failed to boot,
-- and the exports its host declared it looks up.

-- The last release that booted on this node: where a node falls back
-- when its permanent release cannot boot. NULL until a node booted under
-- this schema.
ALTER TABLE nodes ADD COLUMN booted_release INTEGER REFERENCES releases(id);

-- A release that failed to boot on this node: never booted again by
-- itself, refused by the check of any plan that goes to it. `fallback`
-- is the release the node booted instead.
CREATE TABLE boot_failures (
	release_id INTEGER PRIMARY KEY REFERENCES releases(id),
	reason     TEXT NOT NULL CHECK (reason <> ''),
	fallback   INTEGER NOT NULL REFERENCES releases(id),
	failed_at  TEXT NOT NULL
		DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- The exports the host declared at its last start (lm_node_options
-- imports): boot validates them, and every plan is checked against them,
-- by the node and, offline, by the planner. Replaced whole at each start.
CREATE TABLE host_imports (
	module    TEXT NOT NULL CHECK (module <> ''),
	name      TEXT NOT NULL CHECK (name <> ''),
	signature TEXT NOT NULL CHECK (signature <> ''),
	PRIMARY KEY (module, name)
) WITHOUT ROWID;
