-- heartbeat.lua: POST /v1/lease/heartbeat (floating): extends a live lease.
-- KEYS: license hash, lease zset, lease hash
-- ARGV: hw, cert, lease_id

local lic = load(KEYS[1])
if not lic then
    return answer('UNKNOWN_LICENSE')
end

local refused = gate(lic, ARGV[1], ARGV[2], true)
if refused then
    return answer(refused)
end

if lic.type ~= 'floating' then
    return answer('WRONG_LICENSE_TYPE', { type = lic.type })
end

local s = tonumber(redis.call('ZSCORE', KEYS[2], ARGV[3]))
if not s or s <= now then
    return answer('LEASE_UNKNOWN')
end

prune(KEYS[2], KEYS[3])

local e = lease_expiry(lic)
redis.call('ZADD', KEYS[2], 'XX', e, ARGV[3])
expire_leases(KEYS[2], KEYS[3])

return answer('OK', { lease_id = ARGV[3], lease_expires = e })
