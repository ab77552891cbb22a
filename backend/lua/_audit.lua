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
--
-- The chain head (the last entry's seq and hash) is also kept in the
-- license hash, field audit_head "<seq> <hash>", written in the same
-- script as each entry: a script that loaded the license (load()) knows
-- it without reading the list, and a spend writes it with its own update
-- of the license (audit_spend).  A license whose hash has no head (its
-- list written before the head was kept there) reads the list's last
-- entry once.

local audit_state = nil    -- { key, id, seq, prev }, false: audit off

-- The seq of a stored entry "<hash> 2:v1,<n>:<seq>,...", nil when it is
-- not one (also audit_cp.lua's).
local function audit_seq(entry)
    return tonumber(string.match(entry or '', '^%x+ 2:v1,%d+:(%d+),'))
end

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
    local head = loaded_audit_head
    if head == nil then
        head = redis.call('HGET', KEYS[1], 'audit_head') or ''
    end
    if head ~= '' then
        local s, h = string.match(head, '^(%d+) (%x+)$')
        seq, prev = tonumber(s) or 0, h or prev
    else
        local last = redis.call('LINDEX', key, -1)
        if last then
            prev = string.sub(last, 1, 40)
            seq = audit_seq(last) or 0
        end
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

-- The netstrings of a detail pair: name (a string) and value.  An
-- integer value 0 <= v < 1e10 (the fast path) is formatted with its
-- length counted, not converted to a string first: a number to string
-- conversion in Lua (tostring, ..) is a "%.14g" sprintf each, and they
-- were most of an entry's cost (docs/performance.md "Cost of the audit
-- trail").  Anything else (a string, a negative, fractional or larger
-- number) is tostring'd, as before: the canonical bytes are the same.
local function audit_digits(v)
    return v < 10 and 1 or v < 100 and 2 or v < 1e3 and 3 or v < 1e4 and 4
           or v < 1e5 and 5 or v < 1e6 and 6 or v < 1e7 and 7
           or v < 1e8 and 8 or v < 1e9 and 9 or 10
end

local function audit_pair(k, v)
    if type(v) == 'number' and v >= 0 and v < 1e10 and v % 1 == 0 then
        return string.format('%d:%s,%d:%d,', #k, k, audit_digits(v), v)
    end
    v = tostring(v)
    return string.format('%d:%s,%d:%s,', #k, k, #v, v)
end

-- Appends one entry and returns the new head "<seq> <hash>" (nil when
-- audit is off) without writing it to the license hash: the caller
-- must.  seq and time are integers below 1e10 (Redis TIME until the year
-- 2286), counted the same way.
local function audit_append(op, actor, detail)
    local a = audit_open()
    if not a then
        return nil
    end
    local seq, id = a.seq + 1, a.id
    local p = { string.format('2:v1,%d:%d,%d:%d,%d:%s,%d:%s,%d:%s,40:%s,',
                              audit_digits(seq), seq, audit_digits(now), now,
                              #id, id, #op, op, #actor, actor, a.prev) }
    if detail then
        for i = 1, #detail, 2 do
            p[#p + 1] = audit_pair(detail[i], detail[i + 1])
        end
    end
    local c = table.concat(p)
    local h = redis.sha1hex(c)
    redis.call('RPUSH', a.key, h .. ' ' .. c)
    a.seq = seq
    a.prev = h
    return seq .. ' ' .. h
end

-- Appends one entry: op, actor, then detail, a flat list of name, value
-- (declared in _common.lua), and keeps the head in the license hash.
audit = function(op, actor, detail)
    local head = audit_append(op, actor, detail)
    if head then
        redis.call('HSET', KEYS[1], 'audit_head', head)
    end
end

-- A spend of a usage-count license (check.lua): its entry, and the
-- license's "used" set to used with the head in one HSET.  used is
-- written as an integer string ("%d"), as HINCRBY wrote it: a Lua number
-- argument is converted as a float (limits go up to 2^53 - 1).
local function audit_spend(used, actor, detail)
    local head = audit_append('spend', actor, detail)
    used = string.format('%d', used)
    if head then
        redis.call('HSET', KEYS[1], 'used', used, 'audit_head', head)
    else
        redis.call('HSET', KEYS[1], 'used', used)
    end
end
