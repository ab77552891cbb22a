-- checkin.lua: POST /v1/lease/checkin (floating): releases a live lease.
-- Allowed on revoked or expired licenses too.
-- KEYS: license hash, lease zset, lease hash
-- ARGV: hw, cert, lease_id

local lic, refused = open_lease(false)
if not lic then
    return refused
end

drop_lease(KEYS[2], KEYS[3], ARGV[3])

return answer('OK', { lease_id = ARGV[3], seats = num(lic.seats),
                      seats_used = live(KEYS[2]) })
