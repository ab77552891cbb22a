-- _audit.lua: the usage audit trail (docs/audit.md), prepended to every
-- script after _common.lua.  A script that changes a license's state
-- appends what it did, in the same script, to the license's audit list
-- "<prefix>audit:{<id>}", so an entry exists exactly when the change
-- does (a refused or replayed request appends nothing).  The store
-- (store.c) passes that key as the last of KEYS when audit.enabled is
-- on; without it audit() does nothing.
--
-- An entry is one list element: "<hash> <canonical>", where canonical is
-- a sequence of netstrings ("<len>:<bytes>,"): "v1", seq, time, license
-- id, op, actor, prev, then the op's detail as name/value pairs, and hash
-- is redis.sha1hex(canonical).  prev is the hash of the entry before
-- (40 zeros for seq 1): the link chain.  The signed checkpoints commit to
-- a SHA-256 chain over the same canonical entries, computed in C by the
-- backend and the verifier (lib/ovsa_audit.c; docs/audit.md says why).

local audit_state = nil    -- { key, id, seq, prev }, false: audit off

local function audit_open()
    if audit_state ~= nil then
        return audit_state
    end
    audit_state = false
    local key, lic = KEYS[#KEYS], KEYS[1] or ''
    local at = string.find(lic, 'lic:{', 1, true)
    if not at or #KEYS < 2 or string.sub(lic, -1) ~= '}'
       or key ~= string.sub(lic, 1, at - 1) .. 'audit:' .. string.sub(lic, at + 4)
    then
        return false
    end
    local id = string.sub(lic, at + 5, -2)
    local seq, prev = 0, string.rep('0', 40)
    local last = redis.call('LINDEX', key, -1)
    if last then
        prev = string.sub(last, 1, 40)
        seq = tonumber(string.match(last, '^%x+ 2:v1,%d+:(%d+),')) or 0
    end
    audit_state = { key = key, id = id, seq = seq, prev = prev }
    return audit_state
end

-- The actor of a public operation: the machine key that signed the
-- request, else the client certificate, else the license's secret.
local function audit_actor()
    if ARGV[4] and ARGV[4] ~= '' then
        return 'machine:' .. ARGV[4]
    end
    if ARGV[2] and ARGV[2] ~= '' then
        return 'cert:' .. ARGV[2]
    end
    return 'license'
end

-- Appends one entry: op, actor, then detail, a flat list of name, value
-- (declared in _common.lua).
audit = function(op, actor, detail)
    local a = audit_open()
    if not a then
        return
    end
    -- one string.format for every netstring: no intermediate strings
    local f = { a.seq + 1, now, a.id, op, actor, a.prev }
    for i = 1, #(detail or {}) do
        f[#f + 1] = detail[i]
    end
    local args = {}
    for i = 1, #f do
        local v = tostring(f[i])
        args[2 * i - 1] = #v
        args[2 * i] = v
    end
    local c = '2:v1,' .. string.format(string.rep('%d:%s,', #f),
                                       unpack(args))
    local h = redis.sha1hex(c)
    redis.call('RPUSH', a.key, h .. ' ' .. c)
    a.seq = a.seq + 1
    a.prev = h
end

