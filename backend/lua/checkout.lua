-- checkout.lua: POST /v1/lease/checkout (floating).
-- KEYS: license hash, lease zset (lease_id -> expiry), lease hash
--       (lease_id -> "keyid client_id"), request-id key
-- ARGV: hw, cert, proof, machine keyid (open_license), then the new
--       lease_id (128-bit random from the backend), client_id, request_id
--       (required: the route refuses a checkout without one), and for
--       POST /v1/lease/borrow the seconds asked for ("" for a checkout)
-- A borrow (docs/offline.md) is a lease of up to the license's
-- max_borrow seconds, never past its expiry, that is not renewed: the
-- machine may go offline with the signed answer until lease_expires.
-- A request_id is remembered for the lease's life: a retried checkout
-- (the answer was lost) gets the lease it already holds, "replayed",
-- instead of a second seat.
-- Counting live leases and adding one happen in this one script, so no
-- interleaving of any number of backends can exceed the seats.  The
-- lease belongs to the machine key that signed the request.

local lic, refused = open_license(true, 'floating')
if not lic then
    return refused
end

local lease_id, client, rid = ARGV[5], ARGV[6], ARGV[7]
local borrow = tonumber(ARGV[8] or '')

if borrow and num(lic.borrow) == 0 then
    return answer('BORROW_NOT_ALLOWED')
end

if ARGV[4] == '' then
    return answer('MACHINE_PROOF_REQUIRED')
end

if rid ~= '' then
    local prev = redis.call('GET', KEYS[4])
    local e = prev and live_lease(KEYS[2], prev)
    local keyid, _, borrowed = lease_parse(e and
                                           redis.call('HGET', KEYS[3], prev))
    if e and keyid == ARGV[4] then
        -- rewritten unchanged: a replica acknowledgement (WAIT) of this
        -- connection's write then covers the original checkout too
        redis.call('SET', KEYS[4], prev, 'KEEPTTL')
        return answer('OK', { lease_id = prev, lease_expires = e,
                              seats = num(lic.seats),
                              seats_used = live(KEYS[2]), replayed = true,
                              borrowed = borrowed or nil,
                              machine_keyid = borrowed and keyid or nil })
    end
end

local seats = num(lic.seats)
local used = live(KEYS[2])

if used >= seats then
    return answer('NO_SEATS', { seats = seats, seats_used = used })
end

-- the new lease first, then the expired ones pruned: the keys are never
-- emptied on the way (_common.lua)
local e = lease_expiry(lic)
if borrow then
    e = now + math.min(borrow, num(lic.borrow))
    if num(lic.exp) > 0 and e > num(lic.exp) then
        e = num(lic.exp)
    end
end
if redis.call('ZADD', KEYS[2], 'NX', e, lease_id) == 0 then
    return answer('INTERNAL', { message = 'lease id collision' })
end
redis.call('HSET', KEYS[3], lease_id, lease_value(ARGV[4], client,
                                                  borrow ~= nil))
audit(borrow and 'borrow' or 'checkout', audit_actor(),
      { 'lease_id', lease_id, 'client_id', client, 'lease_expires', e,
        'seats_used', used + 1 })
prune(KEYS[2], KEYS[3])
expire_leases(KEYS[2], KEYS[3])
if rid ~= '' then
    redis.call('SET', KEYS[4], lease_id, 'EXAT', e + 1)
end

return answer('OK', { lease_id = lease_id, lease_expires = e,
                      seats = seats, seats_used = used + 1,
                      borrowed = borrow and true or nil,
                      machine_keyid = borrow and ARGV[4] or nil })
