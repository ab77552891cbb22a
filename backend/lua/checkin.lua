-- checkin.lua: POST /v1/lease/checkin (floating): releases a live lease,
-- signed by the machine key that holds it.  Allowed on revoked or
-- expired licenses too.
-- KEYS: license hash, lease zset, lease hash
-- ARGV: hw, cert, proof, machine keyid (open_license), then lease_id

local lic, refused = open_lease(false)
if not lic then
    return refused
end

-- counted before the lease goes: the keys may go with it
local used = live(KEYS[2]) - 1
audit('checkin', audit_actor(), { 'lease_id', ARGV[5], 'seats_used', used })
drop_lease(KEYS[2], KEYS[3], ARGV[5])

return answer('OK', { lease_id = ARGV[5], seats = num(lic.seats),
                      seats_used = used })
