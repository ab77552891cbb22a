-- list.lua: GET /admin/v1/licenses.  Read-only.  Builds the per-license
-- key names from the prefix (single Redis, not Redis Cluster).
-- KEYS: license index set
-- ARGV: key prefix

local ids = redis.call('SMEMBERS', KEYS[1])
table.sort(ids)

local out = {}
for _, id in ipairs(ids) do
    local v = redis.call('HMGET', ARGV[1] .. 'lic:' .. id, 'ver', 'status',
                         'type', 'exp', 'customer', 'product', 'usage',
                         'used', 'seats', 'maxact')
    if v[1] then
        out[#out + 1] = {
            license_id = id, version = num(v[1]), status = v[2],
            type = v[3], expires_at = num(v[4]),
            expired = (num(v[4]) > 0 and now >= num(v[4])),
            customer = v[5], product = v[6],
            usage = num(v[7]), used = num(v[8]),
            seats = num(v[9]), max_activations = num(v[10]),
            activations = redis.call('HLEN', ARGV[1] .. 'act:' .. id),
            leases = live(ARGV[1] .. 'lz:' .. id)
        }
    end
end

return answer('OK', { licenses = out, count = #out })
