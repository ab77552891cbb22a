-- heartbeat.lua: POST /v1/lease/heartbeat (floating): extends a live lease.
-- KEYS: license hash, lease zset, lease hash
-- ARGV: hw, cert, lease_id

local lic, refused = open_lease(true)
if not lic then
    return refused
end

prune(KEYS[2], KEYS[3])

local e = lease_expiry(lic)
redis.call('ZADD', KEYS[2], 'XX', e, ARGV[3])
expire_leases(KEYS[2], KEYS[3])

return answer('OK', { lease_id = ARGV[3], lease_expires = e })
