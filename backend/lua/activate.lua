-- activate.lua: POST /v1/activate (node-locked).  Binds the hwid to the
-- machine key that signed the request; idempotent for the same hwid and
-- key, refused for the same hwid and another key.
-- KEYS: license hash, activations hash
-- ARGV: hw, cert, proof, machine keyid (open_license), then hwid

local lic, refused = open_license(true, 'node-locked')
if not lic then
    return refused
end

local hwid = ARGV[5]

if ARGV[4] == '' then
    return answer('MACHINE_PROOF_REQUIRED')
end

local t = { hwid = hwid, max_activations = num(lic.maxact) }
local n = redis.call('HLEN', KEYS[2])
local cur = redis.call('HGET', KEYS[2], hwid)

if cur then
    local at, keyid = act_parse(cur)
    refused = machine_refusal(keyid)
    if refused then
        return refused
    end
    t.activated_at = at
    t.activations = n
    -- rewritten unchanged: a replica acknowledgement (WAIT) of this
    -- connection's write then covers the first activation too
    redis.call('HSET', KEYS[2], hwid, cur)
    return answer('OK', t)
end

if n >= num(lic.maxact) then
    t.activations = n
    return answer('MAX_ACTIVATIONS', t)
end

redis.call('HSET', KEYS[2], hwid, act_value(ARGV[4]))
audit('activate', audit_actor(), { 'hwid', hwid, 'activations', n + 1 })
t.activated_at = now
t.activations = n + 1

return answer('OK', t)
