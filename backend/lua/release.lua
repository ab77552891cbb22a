-- release.lua: POST /admin/v1/licenses/ID/release: force-releases one
-- live lease, or every lease when no lease_id is given.
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

if ARGV[1] == '' then
    local n = live(KEYS[2])
    release_audit(redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES'))
    redis.call('DEL', KEYS[2], KEYS[3])
    return answer('OK', { released = n })
end

if not live_lease(KEYS[2], ARGV[1]) then
    return answer('LEASE_UNKNOWN')
end

release_audit({ ARGV[1], live_lease(KEYS[2], ARGV[1]) })

drop_lease(KEYS[2], KEYS[3], ARGV[1])

return answer('OK', { released = 1, lease_id = ARGV[1] })
