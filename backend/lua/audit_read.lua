-- audit_read.lua: GET /admin/v1/licenses/ID/audit: the stored entries of
-- a license's audit trail (list indexes ARGV[1]..ARGV[2], LRANGE) and
-- every checkpoint (docs/audit.md).
-- KEYS: audit list, checkpoint list, license hash (the audit list first:
--       the store appends no audit key to a script that starts with it)
-- ARGV: start, stop

if redis.call('EXISTS', KEYS[3]) == 0 and redis.call('EXISTS', KEYS[1]) == 0
then
    return answer('UNKNOWN_LICENSE')
end

local e = redis.call('LRANGE', KEYS[1], ARGV[1], ARGV[2])
local c = redis.call('LRANGE', KEYS[2], 0, -1)

return answer('OK', { length = redis.call('LLEN', KEYS[1]),
                      entries = e, checkpoints = c })
