-- seed.lua: creates bench records in the backend's Redis data model
-- (docs/protocol.md, backend/lua/): the license hash <prefix>lic:<id>
-- and the index set <prefix>licenses, activations in the hash
-- <prefix>act:<id> (hwid -> activated_at), leases in the zset
-- <prefix>lz:<id> (lease_id -> expiry) and the hash <prefix>lh:<id>
-- (lease_id -> client_id).  Run by bench/lib/scale.sh with EVAL, a
-- batch of at most 100k items per call.
--
-- ARGV: kind, prefix, idfmt, first, last, then
--   license:    field/value pairs of the hash ("<ID>" is replaced by
--               the license id)
--   activation: per (items per license), value
--   lease:      per, expiry, client_id
-- Item i of an activation or lease goes to license floor((i-1)/per)+1.

local kind, prefix, idfmt = ARGV[1], ARGV[2], ARGV[3]
local first, last = tonumber(ARGV[4]), tonumber(ARGV[5])

if kind == 'license' then
    local fields = {}
    for j = 6, #ARGV do
        fields[#fields + 1] = ARGV[j]
    end
    local idpos = {}
    for j = 2, #fields, 2 do
        if fields[j] == '<ID>' then
            idpos[#idpos + 1] = j
        end
    end
    for i = first, last do
        local id = string.format(idfmt, i)
        for _, j in ipairs(idpos) do
            fields[j] = id
        end
        redis.call('HSET', prefix .. 'lic:' .. id, unpack(fields))
        redis.call('SADD', prefix .. 'licenses', id)
    end
elseif kind == 'activation' then
    local per, value = tonumber(ARGV[6]), ARGV[7]
    for i = first, last do
        local id = string.format(idfmt, math.floor((i - 1) / per) + 1)
        redis.call('HSET', prefix .. 'act:' .. id,
                   string.format('%064x', i), value)
    end
elseif kind == 'lease' then
    local per, expiry, client = tonumber(ARGV[6]), ARGV[7], ARGV[8]
    for i = first, last do
        local id = string.format(idfmt, math.floor((i - 1) / per) + 1)
        local lease = string.format('%032x', i)
        redis.call('ZADD', prefix .. 'lz:' .. id, expiry, lease)
        redis.call('HSET', prefix .. 'lh:' .. id, lease, client)
    end
else
    return redis.error_reply('seed.lua: unknown kind ' .. tostring(kind))
end

return last - first + 1
