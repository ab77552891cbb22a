-- checkout.lua: POST /v1/lease/checkout (floating).
-- KEYS: license hash, lease zset (lease_id -> expiry), lease hash
--       (lease_id -> client_id)
-- ARGV: hw, cert, new lease_id (128-bit random from the backend), client_id
-- Counting live leases and adding one happen in this one script, so no
-- interleaving of any number of backends can exceed the seats.

local lic, refused = open_license(true, 'floating')
if not lic then
    return refused
end

local seats = num(lic.seats)
local used = live(KEYS[2])

if used >= seats then
    return answer('NO_SEATS', { seats = seats, seats_used = used })
end

prune(KEYS[2], KEYS[3])

local e = lease_expiry(lic)
if redis.call('ZADD', KEYS[2], 'NX', e, ARGV[3]) == 0 then
    return answer('INTERNAL', { message = 'lease id collision' })
end
redis.call('HSET', KEYS[3], ARGV[3], ARGV[4])
expire_leases(KEYS[2], KEYS[3])

return answer('OK', { lease_id = ARGV[3], lease_expires = e,
                      seats = seats, seats_used = used + 1 })
