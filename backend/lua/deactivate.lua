-- deactivate.lua: POST /v1/deactivate (node-locked).  Allowed on revoked
-- or expired licenses too: it only gives a slot back.  Signed by the
-- activation's machine key, and limited by the license's deactivation
-- policy: at most lic.deact deactivations in any lic.deact_s seconds
-- (none set: not limited).  Admin deactivations (unbind.lua) do not
-- count.
-- KEYS: license hash, activations hash, deactivation log (zset, member
--       "hwid when n", score = when)
-- ARGV: hw, cert, proof, machine keyid (open_license), then hwid, and
--       for POST /v1/offline/deactivate the activated_at of the
--       activation the offline machine removed ("" online): a proof
--       carried again after a new activation of the same machine does
--       not remove the new one (docs/offline.md)

local lic, refused = open_license(false, 'node-locked')
if not lic then
    return refused
end

local hwid = ARGV[5]

if ARGV[4] == '' then
    return answer('MACHINE_PROOF_REQUIRED')
end

local cur = redis.call('HGET', KEYS[2], hwid)
if not cur then
    return answer('ACTIVATION_UNKNOWN')
end

local at, keyid = act_parse(cur)
refused = machine_refusal(keyid)
if refused then
    return refused
end

if (ARGV[6] or '') ~= '' and tonumber(ARGV[6]) ~= at then
    return answer('ACTIVATION_UNKNOWN', { activated_at = at })
end

-- the policy is read here only: every other operation's HMGET stays short
local policy = redis.call('HMGET', KEYS[1], 'deact', 'deact_s')
local limit, period = tonumber(policy[1]), tonumber(policy[2])
local since = period and now - period or now

if limit then
    local n = redis.call('ZCOUNT', KEYS[3], '(' .. since, '+inf')
    if n >= limit then
        local first = redis.call('ZRANGEBYSCORE', KEYS[3], '(' .. since,
                                 '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
        local retry = first[2] and tonumber(first[2]) + period or now
        return answer('DEACTIVATION_LIMIT', { deactivations = n,
            max_deactivations = limit, deactivation_period = period,
            retry_at = retry })
    end
end

-- the log entry is added before the old ones are trimmed and the
-- activation is removed last: nothing touches a key this may have
-- emptied (_common.lua)
if limit then
    local n = redis.call('ZCOUNT', KEYS[3], '(' .. since, '+inf')
    redis.call('ZADD', KEYS[3], now, hwid .. ' ' .. now .. ' ' .. n)
    redis.call('EXPIREAT', KEYS[3], now + period)
    redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', since)
end

local acts = redis.call('HLEN', KEYS[2]) - 1
audit('deactivate', audit_actor(), { 'hwid', hwid, 'activations', acts })
redis.call('HDEL', KEYS[2], hwid)

return answer('OK', { hwid = hwid, activations = acts,
                      max_activations = num(lic.maxact) })
