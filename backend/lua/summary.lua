-- summary.lua: one row of GET /admin/v1/licenses and of /admin/v1/pins.
-- Read-only.
-- KEYS: license hash, activations hash, lease zset

local v = redis.call('HMGET', KEYS[1], 'id', 'ver', 'status', 'type', 'exp',
                     'customer', 'product', 'usage', 'used', 'seats',
                     'maxact', 'pins')
if not v[1] then
    return answer('UNKNOWN_LICENSE')
end

return answer('OK', {
    license_id = v[1], version = num(v[2]), status = v[3], type = v[4],
    expires_at = num(v[5]), expired = (num(v[5]) > 0 and now >= num(v[5])),
    customer = v[6] or '', product = v[7] or '',
    usage = num(v[8]), used = num(v[9]), seats = num(v[10]),
    max_activations = num(v[11]), pins = v[12] or '',
    activations = redis.call('HLEN', KEYS[2]),
    leases = live(KEYS[3])
})
