-- checkin.lua: POST /v1/lease/checkin (floating): releases a live lease.
-- Allowed on revoked or expired licenses too.
-- KEYS: license hash, lease zset, lease hash
-- ARGV: hw, cert, lease_id

local lic = load(KEYS[1])
if not lic then
    return answer('UNKNOWN_LICENSE')
end

local refused = gate(lic, ARGV[1], ARGV[2], false)
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

redis.call('ZREM', KEYS[2], ARGV[3])
redis.call('HDEL', KEYS[3], ARGV[3])
prune(KEYS[2], KEYS[3])

return answer('OK', { lease_id = ARGV[3], seats = num(lic.seats),
                      seats_used = live(KEYS[2]) })
