-- revoke.lua: POST /admin/v1/licenses/ID/revoke.  Final: a later import
-- of a newer version keeps the license revoked.
-- KEYS: license hash

if redis.call('EXISTS', KEYS[1]) == 0 then
    return answer('UNKNOWN_LICENSE')
end

local was = redis.call('HGET', KEYS[1], 'status')
redis.call('HSET', KEYS[1], 'status', 'revoked')
audit('revoke', 'admin', { 'previous_status', was or '' })

return answer('OK', { status = 'revoked', previous_status = was })
