-- deactivate.lua: POST /v1/deactivate (node-locked).  Allowed on revoked
-- or expired licenses too: it only gives a slot back.
-- KEYS: license hash, activations hash
-- ARGV: hw, cert, hwid

local lic = load(KEYS[1])
if not lic then
    return answer('UNKNOWN_LICENSE')
end

local refused = gate(lic, ARGV[1], ARGV[2], false)
if refused then
    return answer(refused)
end

if lic.type ~= 'node-locked' then
    return answer('WRONG_LICENSE_TYPE', { type = lic.type })
end

if redis.call('HDEL', KEYS[2], ARGV[3]) == 0 then
    return answer('ACTIVATION_UNKNOWN')
end

return answer('OK', { hwid = ARGV[3],
                      activations = redis.call('HLEN', KEYS[2]),
                      max_activations = num(lic.maxact) })
