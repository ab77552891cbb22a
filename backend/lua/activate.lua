-- activate.lua: POST /v1/activate (node-locked).  Idempotent per hwid.
-- KEYS: license hash, activations hash
-- ARGV: hw, cert, hwid

local lic, refused = open_license(true, 'node-locked')
if not lic then
    return refused
end

local t = { hwid = ARGV[3], max_activations = num(lic.maxact) }
local n = redis.call('HLEN', KEYS[2])
local at = redis.call('HGET', KEYS[2], ARGV[3])

if at then
    t.activated_at = tonumber(at)
    t.activations = n
    return answer('OK', t)
end

if n >= num(lic.maxact) then
    t.activations = n
    return answer('MAX_ACTIVATIONS', t)
end

redis.call('HSET', KEYS[2], ARGV[3], now)
t.activated_at = now
t.activations = n + 1

return answer('OK', t)
