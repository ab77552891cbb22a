-- release.lua: POST /admin/v1/licenses/ID/release: force-releases one
-- live lease, or every lease when no lease_id is given.
-- KEYS: license hash, lease zset, lease hash
-- ARGV: lease_id or ""

if redis.call('EXISTS', KEYS[1]) == 0 then
    return answer('UNKNOWN_LICENSE')
end

if ARGV[1] == '' then
    local n = live(KEYS[2])
    redis.call('DEL', KEYS[2], KEYS[3])
    return answer('OK', { released = n })
end

if not live_lease(KEYS[2], ARGV[1]) then
    return answer('LEASE_UNKNOWN')
end

drop_lease(KEYS[2], KEYS[3], ARGV[1])

return answer('OK', { released = 1, lease_id = ARGV[1] })
