-- show.lua: GET /admin/v1/licenses/ID.  Read-only.  Empty lists come out
-- as {} (cjson cannot tell), the backend turns them into [].
-- KEYS: license hash, activations hash, lease zset, lease hash

local h = redis.call('HGETALL', KEYS[1])
if #h == 0 then
    return answer('UNKNOWN_LICENSE')
end

local r = {}
for i = 1, #h, 2 do
    r[h[i]] = h[i + 1]
end

local pins = {}
for p in string.gmatch(r.pins or '', '%S+') do
    pins[#pins + 1] = p
end

local acts = {}
local a = redis.call('HGETALL', KEYS[2])
for i = 1, #a, 2 do
    local at, keyid = act_parse(a[i + 1])
    acts[#acts + 1] = { hwid = a[i], activated_at = at,
                        machine_key = keyid or '' }
end

local leases = {}
local z = redis.call('ZRANGEBYSCORE', KEYS[3], '(' .. now, '+inf',
                     'WITHSCORES')
for i = 1, #z, 2 do
    local keyid, client, borrowed, released =
        lease_parse(redis.call('HGET', KEYS[4], z[i]))
    leases[#leases + 1] = { lease_id = z[i], expires = tonumber(z[i + 1]),
        client_id = client or '', machine_key = keyid or '',
        borrowed = borrowed, release_asked = released }
end

local usage = num(r.usage)

-- a limit that may be null: "" (or absent, in a record imported before
-- the field existed) is null
local function opt(v)
    if v == nil or v == '' then
        return cjson.null
    end
    return tonumber(v)
end

return answer('OK', {
    record = {
        license_id = r.id, version = num(r.ver), status = r.status,
        type = r.type, product = r.product, customer = r.customer,
        issued_at = num(r.issued), expires_at = num(r.exp),
        usage = usage, used = num(r.used),
        usage_remaining = math.max(usage - num(r.used), 0),
        max_activations = num(r.maxact), seats = num(r.seats),
        lease_seconds = num(r.lease_s),
        require_hardware_key = (r.hwreq == '1'),
        sync_interval = num(r.sync), cert_sha256 = r.cert or '',
        secret_sha256 = r.secret or '',
        deactivations = opt(r.deact),
        deactivation_period = opt(r.deact_s),
        max_borrow = opt(r.borrow ~= '0' and r.borrow or nil),
        max_offline = opt(r.offl ~= '0' and r.offl or nil),
        pins = pins, imported_at = num(r.imported_at),
        updated_at = num(r.updated_at)
    },
    activations = acts,
    leases = leases,
    license = r.jws
})
