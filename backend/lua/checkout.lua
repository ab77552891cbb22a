-- checkout.lua: POST /v1/lease/checkout (floating).
-- KEYS: license hash, lease zset (lease_id -> expiry), lease hash
--       (lease_id -> "keyid client_id")
-- ARGV: hw, cert, proof, machine keyid (open_license), then the new
--       lease_id (128-bit random from the backend), client_id
-- Counting live leases and adding one happen in this one script, so no
-- interleaving of any number of backends can exceed the seats.  The
-- lease belongs to the machine key that signed the request.

local lic, refused = open_license(true, 'floating')
if not lic then
    return refused
end

local lease_id, client = ARGV[5], ARGV[6]

if ARGV[4] == '' then
    return answer('MACHINE_PROOF_REQUIRED')
end

local seats = num(lic.seats)
local used = live(KEYS[2])

if used >= seats then
    return answer('NO_SEATS', { seats = seats, seats_used = used })
end

prune(KEYS[2], KEYS[3])

local e = lease_expiry(lic)
if redis.call('ZADD', KEYS[2], 'NX', e, lease_id) == 0 then
    return answer('INTERNAL', { message = 'lease id collision' })
end
redis.call('HSET', KEYS[3], lease_id, lease_value(ARGV[4], client))
expire_leases(KEYS[2], KEYS[3])

return answer('OK', { lease_id = lease_id, lease_expires = e,
                      seats = seats, seats_used = used + 1 })
