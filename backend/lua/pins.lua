-- pins.lua: GET /admin/v1/pins?pin=P.  Read-only.  Counts the active
-- licenses (not revoked, not expired) whose servers pin P (as current or
-- future pin) and those that do not; a key may be retired only when
-- "not_pinning" is 0.
-- KEYS: license index set
-- ARGV: key prefix, pin

local ids = redis.call('SMEMBERS', KEYS[1])
table.sort(ids)

local active, pinning, missing = 0, 0, {}
for _, id in ipairs(ids) do
    local v = redis.call('HMGET', ARGV[1] .. 'lic:' .. id, 'status', 'exp',
                         'pins')
    if v[1] == 'active' and (num(v[2]) == 0 or now < num(v[2])) then
        active = active + 1
        local found = false
        for p in string.gmatch(v[3] or '', '%S+') do
            if p == ARGV[2] then
                found = true
            end
        end
        if found then
            pinning = pinning + 1
        elseif #missing < 100 then
            missing[#missing + 1] = id
        end
    end
end

return answer('OK', { pin = ARGV[2], active = active, pinning = pinning,
                      not_pinning = active - pinning,
                      not_pinning_ids = missing })
