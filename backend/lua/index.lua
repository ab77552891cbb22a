-- index.lua: adds a license id to the license index set (POST
-- /admin/v1/licenses, before import.lua).  The index is one key of its
-- own slot, so it is never touched by a script that reads or writes a
-- license's keys (each script touches one slot: Redis Cluster).  A member
-- whose record was never written (the import failed after this step) is
-- skipped by the readers (ids.lua's callers).
-- KEYS: license index set
-- ARGV: license id

redis.call('SADD', KEYS[1], ARGV[1])

return answer('OK')
