-- 005_stat_cache_tick.sql - the stat cache's racy window became a clock
-- tick (lib/scan.c, lm_scan_racy): an entry is now trusted when its
-- file's stamps are older than cached_at_ns by one granule, which holds
-- only of cached_at_ns read from the coarse clock before the entry's stat
-- was taken. Entries written before dated it after the stats, within a
-- second's window that no longer applies; a cache is only a cache, so
-- they go, and the next scan reads those files once.
DELETE FROM stat_cache;
