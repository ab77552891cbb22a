-- release.lua: POST /admin/v1/licenses/ID/release: force-releases one
-- live lease, or every lease when no lease_id is given.  A borrowed lease
-- (docs/offline.md) is held by a machine that may be offline with its
-- signed grant: its release is recorded ("borrowed released ...") and
-- the seat stays taken until the borrow ends (answered as deferred).
-- KEYS: license hash, lease zset, lease hash
-- ARGV: lease_id or ""

if redis.call('EXISTS', KEYS[1]) == 0 then
    return answer('UNKNOWN_LICENSE')
end

-- marks a live borrowed lease released; its expiry
local function defer(id, v)
    local keyid, client, _, released = lease_parse(v)
    if not released then
        redis.call('HSET', KEYS[3], id,
                   'borrowed released ' .. keyid .. ' ' .. client)
    end
    return live_lease(KEYS[2], id)
end

if ARGV[1] == '' then
    local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. now, '+inf')
    local gone, deferred = {}, {}
    for _, id in ipairs(ids) do
        local v = redis.call('HGET', KEYS[3], id)
        local _, _, borrowed = lease_parse(v)
        if borrowed then
            deferred[#deferred + 1] = { lease_id = id,
                                        takes_effect = defer(id, v) }
        else
            gone[#gone + 1] = id
        end
    end
    if #deferred == 0 then
        redis.call('DEL', KEYS[2], KEYS[3])
        return answer('OK', { released = #ids })
    end
    -- a borrowed lease stays in both keys: removing the others never
    -- empties them (_common.lua)
    prune(KEYS[2], KEYS[3])
    for _, id in ipairs(gone) do
        redis.call('ZREM', KEYS[2], id)
        redis.call('HDEL', KEYS[3], id)
    end
    return answer('OK', { released = #gone, deferred = deferred })
end

if not live_lease(KEYS[2], ARGV[1]) then
    return answer('LEASE_UNKNOWN')
end

local v = redis.call('HGET', KEYS[3], ARGV[1])
local _, _, borrowed = lease_parse(v)
if borrowed then
    return answer('OK', { released = 0, lease_id = ARGV[1],
                          deferred = { { lease_id = ARGV[1],
                                         takes_effect = defer(ARGV[1], v) } } })
end

drop_lease(KEYS[2], KEYS[3], ARGV[1])

return answer('OK', { released = 1, lease_id = ARGV[1] })
