-- check.lua: POST /v1/check.
-- KEYS: license hash, activations hash, lease zset, lease hash,
--       request-id key (usage-count idempotency)
-- ARGV: hw, cert, proof, machine keyid (open_license), then version,
--       hwid, lease_id, request_id, request-id ttl, and last (added by
--       store.c, OVSA_STORE_SPEND) "1" when writes are allowed
-- Writes only for usage-count: "used" + 1 (with the audit entry) and the
-- request-id key, both or neither, inside this one script.  A usage-count check
-- needs a request_id: a retry with it learns the outcome of a spend whose
-- answer was lost (replayed), instead of spending again.  While Redis is
-- not durable (ARGV[10] is not "1") a spend is refused, changing
-- nothing; a replay, which only reads, is still answered (it rewrites
-- the request-id key unchanged, so a replica acknowledgement (WAIT) of
-- this connection's write covers the original spend too).

local lic, refused = open_license(true, nil)
if not lic then
    return refused
end

local version, hwid, lease_id, rid, ttl, writable =
    ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10]

local t = { version = num(lic.ver), type = lic.type,
            sync_interval = num(lic.sync), expires_at = num(lic.exp) }

if lic.type == 'usage-count' then
    if rid == '' then
        return answer('BAD_FIELD', { field = 'request_id',
            message = 'request_id: required for a usage-count check '
                      .. '(it spends a use)' })
    end
    local prev = redis.call('GET', KEYS[5])
    if prev then
        -- rewritten unchanged: a replica acknowledgement (WAIT) of this
        -- connection's write then covers the original spend too
        redis.call('SET', KEYS[5], prev, 'KEEPTTL')
        t.usage_remaining = tonumber(prev)
        t.replayed = true
    else
        local used, limit = num(lic.used), num(lic.usage)
        if used >= limit then
            t.usage_remaining = 0
            return answer('USAGE_EXHAUSTED', t)
        end
        if writable ~= '1' then
            return answer('STORE_NOT_DURABLE')
        end
        t.usage_remaining = limit - used - 1
        local remaining = dec(t.usage_remaining)
        redis.call('SET', KEYS[5], remaining, 'EX', ttl)
        -- "used" + 1 and the audit entry (with the head) together
        audit_spend(dec(used + 1), remaining, rid)
    end

elseif lic.type == 'node-locked' then
    if hwid == '' then
        return answer('BAD_FIELD', { field = 'hwid',
            message = 'hwid: required for a node-locked license' })
    end
    if ARGV[4] == '' then
        return answer('MACHINE_PROOF_REQUIRED')
    end
    local act = redis.call('HGET', KEYS[2], hwid)
    if not act then
        return answer('HWID_NOT_ACTIVATED')
    end
    local _, keyid = act_parse(act)
    refused = machine_refusal(keyid)
    if refused then
        return refused
    end

elseif lic.type == 'floating' then
    if lease_id == '' then
        return answer('BAD_FIELD', { field = 'lease_id',
            message = 'lease_id: required for a floating license' })
    end
    if ARGV[4] == '' then
        return answer('MACHINE_PROOF_REQUIRED')
    end
    t.lease_expires = live_lease(KEYS[3], lease_id)
    if not t.lease_expires then
        return answer('LEASE_UNKNOWN')
    end
    refused = machine_refusal(lease_parse(redis.call('HGET', KEYS[4],
                                                     lease_id)))
    if refused then
        return refused
    end
end

if num(lic.ver) > tonumber(version) then
    t.license = redis.call('HGET', KEYS[1], 'jws')
end

return answer('OK', t)
