-- ids.lua: the license ids of the index set, sorted.  Read-only.  The
-- backend then reads each license with summary.lua (one slot per
-- script: Redis Cluster).  An empty list comes out as {} (cjson cannot
-- tell), the backend turns it into [].
-- KEYS: license index set

local ids = redis.call('SMEMBERS', KEYS[1])
table.sort(ids)

return answer('OK', { ids = ids })
