-- seed.lua: creates bench records in the backend's Redis data model
-- (docs/protocol.md, backend/lua/): the license hash <prefix>lic:{<id>}
-- and the index set <prefix>licenses, activations in the hash
-- <prefix>act:{<id>} (hwid -> activated_at), leases in the zset
-- <prefix>lz:{<id>} (lease_id -> expiry) and the hash <prefix>lh:{<id>}
-- (lease_id -> client_id); "{<id>}" is the Redis Cluster hash tag
-- (backend/store.c ovsa_store_key).  Run by bench/lib/scale.sh with EVAL
-- on a single Redis (not a cluster: it writes many slots), a batch of at
-- most 100k items per call.
--
-- ARGV: kind, prefix, idfmt, first, last, then
--   license:    the key of a template license hash (one the backend's
--               import made), then field/value pairs that override it;
--               the copy's "id" is the new license id
--   activation: per (items per license), value
--   lease:      per, expiry, client_id; like the backend's scripts, the
--               lease keys expire one second after their last lease
-- Item i of an activation or lease goes to license floor((i-1)/per)+1.

local kind, prefix, idfmt = ARGV[1], ARGV[2], ARGV[3]
local first, last = tonumber(ARGV[4]), tonumber(ARGV[5])

local function key(kind, id)
    return prefix .. kind .. ':{' .. id .. '}'
end

if kind == 'license' then
    local fields = redis.call('HGETALL', ARGV[6])
    if #fields == 0 then
        return redis.error_reply('seed.lua: no template ' .. ARGV[6])
    end
    local pos = {}
    for j = 1, #fields, 2 do
        pos[fields[j]] = j + 1
    end
    for j = 7, #ARGV - 1, 2 do
        if pos[ARGV[j]] then
            fields[pos[ARGV[j]]] = ARGV[j + 1]
        else
            fields[#fields + 1] = ARGV[j]
            fields[#fields + 1] = ARGV[j + 1]
            pos[ARGV[j]] = #fields
        end
    end
    for i = first, last do
        local id = string.format(idfmt, i)
        fields[pos['id']] = id
        redis.call('HSET', key('lic', id), unpack(fields))
        redis.call('SADD', prefix .. 'licenses', id)
    end
elseif kind == 'activation' then
    local per, value = tonumber(ARGV[6]), ARGV[7]
    for i = first, last do
        local id = string.format(idfmt, math.floor((i - 1) / per) + 1)
        redis.call('HSET', key('act', id),
                   string.format('%064x', i), value)
    end
elseif kind == 'lease' then
    local per, expiry, client = tonumber(ARGV[6]), ARGV[7], ARGV[8]
    for i = first, last do
        local id = string.format(idfmt, math.floor((i - 1) / per) + 1)
        local lease = string.format('%032x', i)
        redis.call('ZADD', key('lz', id), expiry, lease)
        redis.call('HSET', key('lh', id), lease, client)
        if i % per == 0 or i == last then
            redis.call('EXPIREAT', key('lz', id), expiry + 1)
            redis.call('EXPIREAT', key('lh', id), expiry + 1)
        end
    end
else
    return redis.error_reply('seed.lua: unknown kind ' .. tostring(kind))
end

return last - first + 1
