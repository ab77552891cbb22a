-- heartbeat.lua: POST /v1/lease/heartbeat (floating): extends a live
-- lease, signed by the machine key that holds it.
-- KEYS: license hash, lease zset, lease hash
-- ARGV: hw, cert, proof, machine keyid (open_license), then lease_id

local lic, refused = open_lease(true)
if not lic then
    return refused
end

local _, _, borrowed = lease_parse(redis.call('HGET', KEYS[3], ARGV[5]))
if borrowed then
    return answer('LEASE_BORROWED', { lease_id = ARGV[5],
        lease_expires = live_lease(KEYS[2], ARGV[5]) })
end

prune(KEYS[2], KEYS[3])

local e = lease_expiry(lic)
redis.call('ZADD', KEYS[2], 'XX', e, ARGV[5])
expire_leases(KEYS[2], KEYS[3])

return answer('OK', { lease_id = ARGV[5], lease_expires = e })
