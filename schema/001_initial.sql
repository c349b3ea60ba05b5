-- 001_initial.sql - the first ledger schema: the node, releases, module
-- versions, plans, apply runs and the libdir stat cache.
--
-- Applied by lib/ledger.c inside one transaction that also sets
-- PRAGMA user_version = 1; later changes go in 002_*.sql and so on, never
-- into this file (a ledger at version 1 already ran it).
--
-- Conventions:
--   * timestamps are ISO 8601 UTC text with milliseconds, so that they sort
--     as text and read at sight in `sqlite3 ledger.db`;
--   * object and commit ids are 40-char lowercase hex (git SHA-1), checked
--     here so that a bad id is refused by the ledger, not found later by
--     the store;
--   * releases, module versions and plans are history: nothing deletes
--     them, so foreign keys use the default NO ACTION (refuse), except the
--     stat cache, which is only a cache.

-- The running server this state dir belongs to. One row per ledger today
-- (lib/ledger.c inserts only into an empty table); a table rather than
-- settings so that nodes can later share a store and fetch/push releases.
CREATE TABLE nodes (
	id                INTEGER PRIMARY KEY,
	name              TEXT NOT NULL CHECK (name <> ''),
	app               TEXT,
	libdir            TEXT NOT NULL CHECK (libdir <> ''),
	-- The release the node runs: the last one whose eval succeeded. The
	-- baseline of every plan, and what a node boots on after a crash.
	current_release   INTEGER REFERENCES releases(id),
	-- The release an operator made permanent (OTP's make_permanent).
	permanent_release INTEGER REFERENCES releases(id),
	created_at        TEXT NOT NULL
		DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- One complete set of module versions; a commit in store.git.
CREATE TABLE releases (
	id         INTEGER PRIMARY KEY,
	-- The release this one was planned from; NULL for `livemod init`'s.
	parent     INTEGER REFERENCES releases(id),
	-- "commit" is an SQL keyword, hence commit_oid. UNIQUE: one tree, one
	-- release; planning the same libdir twice must find the existing one.
	commit_oid TEXT NOT NULL UNIQUE
		CHECK (length(commit_oid) = 40
		       AND commit_oid NOT GLOB '*[^0-9a-f]*'),
	created_at TEXT NOT NULL
		DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
	note       TEXT
);

-- One module object, keyed by its content hash: the same bytes in many
-- releases are one row, and its descriptor is read from the ELF file once.
-- The descriptor is stored in columns (not JSON) so that the stat cache
-- load is one JOIN with no parsing beyond two short texts.
CREATE TABLE module_versions (
	oid        TEXT PRIMARY KEY
		CHECK (length(oid) = 40 AND oid NOT GLOB '*[^0-9a-f]*'),
	name       TEXT NOT NULL CHECK (name <> ''),
	vsn        TEXT NOT NULL CHECK (vsn <> ''),
	abi        INTEGER NOT NULL CHECK (abi >= 1),
	-- Dependency names separated by one space, "" when none.
	deps       TEXT NOT NULL DEFAULT '',
	-- One "name\tsignature" a line, sorted by name, "" when none.
	exports    TEXT NOT NULL DEFAULT '',
	-- LM_CB_INIT | LM_CB_CODE_CHANGE | LM_CB_TERMINATE.
	callbacks  INTEGER NOT NULL DEFAULT 0 CHECK (callbacks BETWEEN 0 AND 7),
	-- lm_purge_mode: 0 default, 1 soft_purge, 2 brutal_purge.
	purge      INTEGER NOT NULL DEFAULT 0 CHECK (purge IN (0, 1, 2)),
	created_at TEXT NOT NULL
		DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- The contents of a release: module name -> file -> object. A module name
-- and a file name each appear once per release (two files declaring the
-- same module is refused by the planner before it gets here). WITHOUT
-- ROWID: the primary key is the only access path, and the rows are small.
CREATE TABLE release_modules (
	release_id INTEGER NOT NULL REFERENCES releases(id),
	name       TEXT NOT NULL,
	file       TEXT NOT NULL CHECK (file <> '' AND instr(file, '/') = 0),
	oid        TEXT NOT NULL REFERENCES module_versions(oid),
	PRIMARY KEY (release_id, name),
	UNIQUE (release_id, file)
) WITHOUT ROWID;
-- Which releases hold an object; also the child index of the foreign key.
CREATE INDEX release_modules_oid ON release_modules(oid);

-- Upgrade plans, from one release to another. The row is inserted first
-- (the plan names its own id), the JSON and its path once written.
CREATE TABLE plans (
	id           INTEGER PRIMARY KEY,
	node         INTEGER NOT NULL REFERENCES nodes(id),
	from_release INTEGER NOT NULL REFERENCES releases(id),
	to_release   INTEGER NOT NULL REFERENCES releases(id),
	status       TEXT NOT NULL DEFAULT 'planned'
		CHECK (status IN ('planned', 'superseded', 'applying',
				  'applied', 'failed')),
	-- plans/<id>.json, relative to the state dir.
	path         TEXT,
	json         TEXT CHECK (json IS NULL OR json_valid(json)),
	created_at   TEXT NOT NULL
		DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
-- DESIGN.md: planning again before applying supersedes the earlier plan,
-- so a node has at most one plan waiting. The ledger enforces it; the
-- index also finds that plan without a scan.
CREATE UNIQUE INDEX plans_one_planned ON plans(node) WHERE status = 'planned';

-- Each attempt to apply a plan, with check and eval results as the agent
-- reported them. A run is 'running' exactly while it has no finished_at;
-- the agent marks runs left 'running' by a crash 'interrupted' at boot.
CREATE TABLE apply_runs (
	id           INTEGER PRIMARY KEY,
	plan_id      INTEGER NOT NULL REFERENCES plans(id),
	from_release INTEGER NOT NULL REFERENCES releases(id),
	to_release   INTEGER NOT NULL REFERENCES releases(id),
	-- How far it got; after point_of_no_return a failure is an eval
	-- failure and the old code may no longer be published.
	phase        TEXT NOT NULL DEFAULT 'started'
		CHECK (phase IN ('started', 'checked', 'point_of_no_return',
				 'done')),
	status       TEXT NOT NULL DEFAULT 'running'
		CHECK (status IN ('running', 'ok', 'check_failed',
				  'eval_failed', 'interrupted')),
	-- {"ok": [warnings]} or {"error": "reason"}, as returned to callers.
	check_json   TEXT CHECK (check_json IS NULL OR json_valid(check_json)),
	eval_json    TEXT CHECK (eval_json IS NULL OR json_valid(eval_json)),
	-- {"step": microseconds, ...}
	timings_json TEXT
		CHECK (timings_json IS NULL OR json_valid(timings_json)),
	started_at   TEXT NOT NULL
		DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
	finished_at  TEXT,
	CHECK ((status = 'running') = (finished_at IS NULL))
);
CREATE INDEX apply_runs_plan ON apply_runs(plan_id);
-- The boot-time "mark interrupted" touches only these.
CREATE INDEX apply_runs_running ON apply_runs(id) WHERE status = 'running';

-- git's index, for the libdir: a file whose size, mtime, ctime and inode
-- are unchanged is not hashed (nor its ELF read) again. Loaded whole by
-- every `livemod plan`, replaced whole after it. WITHOUT ROWID: read in
-- file order, which is the primary key order.
CREATE TABLE stat_cache (
	file         TEXT PRIMARY KEY
		CHECK (file <> '' AND instr(file, '/') = 0),
	size         INTEGER NOT NULL CHECK (size >= 0),
	mtime_ns     INTEGER NOT NULL,
	ctime_ns     INTEGER NOT NULL,
	-- st_ino is unsigned 64-bit; stored as its two's complement int64.
	ino          INTEGER NOT NULL,
	-- A cached file must point at a known descriptor (that is the point
	-- of the cache); CASCADE because dropping cache rows is always safe.
	oid          TEXT NOT NULL
		REFERENCES module_versions(oid) ON DELETE CASCADE,
	-- Wall clock of the write: an entry whose mtime is not older than
	-- this is "racily clean" and must be hashed again (git's rule).
	cached_at_ns INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX stat_cache_oid ON stat_cache(oid);
