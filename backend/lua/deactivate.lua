-- deactivate.lua: POST /v1/deactivate (node-locked).  Allowed on revoked
-- or expired licenses too: it only gives a slot back.
-- KEYS: license hash, activations hash
-- ARGV: hw, cert, hwid

local lic, refused = open_license(false, 'node-locked')
if not lic then
    return refused
end

if redis.call('HDEL', KEYS[2], ARGV[3]) == 0 then
    return answer('ACTIVATION_UNKNOWN')
end

return answer('OK', { hwid = ARGV[3],
                      activations = redis.call('HLEN', KEYS[2]),
                      max_activations = num(lic.maxact) })
