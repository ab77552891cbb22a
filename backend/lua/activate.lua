-- activate.lua: POST /v1/activate (node-locked).  Binds the hwid to the
-- machine key that signed the request; idempotent for the same hwid and
-- key, refused for the same hwid and another key.
-- KEYS: license hash, activations hash; POST /v1/offline/activate also
--       the offline nonce key of the request
-- ARGV: hw, cert, proof, machine keyid (open_license), then hwid, and
--       "1" for an offline activation (docs/offline.md)
-- An offline activation is the same activation, asked by a request the
-- offline machine signed earlier (the backend allowed its age) and a
-- connected machine carried; its answer also says until when the
-- offline machine may rely on it (max_offline) and which machine key it
-- is for.  Its nonce is remembered as long as such a request may travel:
-- carried again, it is answered again while the activation it made
-- stands, and refused once that was deactivated.

local lic, refused = open_license(true, 'node-locked')
if not lic then
    return refused
end

local hwid = ARGV[5]

if ARGV[4] == '' then
    return answer('MACHINE_PROOF_REQUIRED')
end

local offline = ARGV[6] == '1'
local t = { hwid = hwid, max_activations = num(lic.maxact) }

if offline then
    if num(lic.offl) == 0 then
        return answer('OFFLINE_NOT_ALLOWED')
    end
    local seen = redis.call('GET', KEYS[3])
    local cur = redis.call('HGET', KEYS[2], hwid)
    local _, keyid = act_parse(cur)
    if seen and (seen ~= hwid .. ' ' .. ARGV[4] or keyid ~= ARGV[4]) then
        return answer('OFFLINE_REQUEST_REPLAYED')
    end
    t.offline = true
    t.machine_keyid = ARGV[4]
    t.valid_until = now + num(lic.offl)
    if num(lic.exp) > 0 and t.valid_until > num(lic.exp) then
        t.valid_until = num(lic.exp)
    end
end

-- an offline request's nonce, kept while such a request may travel
local function remember()
    if offline then
        redis.call('SET', KEYS[3], hwid .. ' ' .. ARGV[4], 'EX',
                   ARGV[7])
    end
end
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
    remember()
    return answer('OK', t)
end

if n >= num(lic.maxact) then
    t.activations = n
    return answer('MAX_ACTIVATIONS', t)
end

redis.call('HSET', KEYS[2], hwid, act_value(ARGV[4]))
remember()
local detail = { 'hwid', hwid, 'activations', n + 1 }
if offline then
    detail[#detail + 1] = 'offline'
    detail[#detail + 1] = 1
end
audit('activate', audit_actor(), detail)
t.activated_at = now
t.activations = n + 1

return answer('OK', t)
