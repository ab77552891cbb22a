-- release.lua: POST /admin/v1/licenses/ID/release: force-releases one
-- live lease, or every lease when no lease_id is given.  A borrowed lease
-- (docs/offline.md) is held by a machine that may be offline with its
-- signed grant: its release is recorded ("borrowed released ...", audit
-- "release_asked") and the seat stays taken until the borrow ends
-- (answered as deferred).
-- KEYS: license hash, lease zset, lease hash
-- ARGV: lease_id or ""

if redis.call('EXISTS', KEYS[1]) == 0 then
    return answer('UNKNOWN_LICENSE')
end

-- One entry per lease given: release for a live one, lease_expired for
-- one whose expiry had passed (noticed here).  all: ZRANGE WITHSCORES.
local function release_audit(all)
    for k = 1, #all, 2000 do
        local ids = {}
        for j = k, math.min(k + 1999, #all), 2 do
            ids[#ids + 1] = all[j]
        end
        local held = redis.call('HMGET', KEYS[3], unpack(ids))
        for j = 1, #ids do
            local keyid, client = lease_parse(held[j])
            local e = tonumber(all[k + 2 * j - 1])
            if e > now then
                audit('release', 'admin', { 'lease_id', ids[j],
                      'key', keyid or '', 'client_id', client or '' })
            else
                audit('lease_expired', 'server', { 'lease_id', ids[j],
                      'expired_at', e, 'key', keyid or '',
                      'client_id', client or '' })
            end
        end
    end
end

-- marks a live borrowed lease released (once); its expiry
local function defer(id, v)
    local keyid, client, _, released = lease_parse(v)
    local e = live_lease(KEYS[2], id)
    if not released then
        redis.call('HSET', KEYS[3], id,
                   'borrowed released ' .. keyid .. ' ' .. client)
        audit('release_asked', 'admin', { 'lease_id', id, 'key', keyid,
              'client_id', client, 'takes_effect', e })
    end
    return e
end

if ARGV[1] == '' then
    local all = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
    local gone, deferred, n = {}, {}, 0
    for k = 1, #all, 2 do
        local id, e = all[k], tonumber(all[k + 1])
        local v = redis.call('HGET', KEYS[3], id)
        local _, _, borrowed = lease_parse(v)
        if borrowed and e > now then
            deferred[#deferred + 1] = { lease_id = id,
                                        takes_effect = defer(id, v) }
        else
            gone[#gone + 1] = id
            gone[#gone + 1] = all[k + 1]
            if e > now then
                n = n + 1
            end
        end
    end
    release_audit(gone)
    if #deferred == 0 then
        redis.call('DEL', KEYS[2], KEYS[3])
        return answer('OK', { released = n })
    end
    -- a borrowed lease stays in both keys: removing the others never
    -- empties them (_common.lua)
    for k = 1, #gone, 2 do
        redis.call('ZREM', KEYS[2], gone[k])
        redis.call('HDEL', KEYS[3], gone[k])
    end
    return answer('OK', { released = n, deferred = deferred })
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

release_audit({ ARGV[1], live_lease(KEYS[2], ARGV[1]) })

drop_lease(KEYS[2], KEYS[3], ARGV[1])

return answer('OK', { released = 1, lease_id = ARGV[1] })
