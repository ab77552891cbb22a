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

-- What it costs: a spend is the hottest path that writes, and every
-- string operation there is paid on each check (docs/performance.md
-- "Cost of the audit trail and the metrics together").  Counted with
-- callgrind in a redis-server built with symbols: a Lua number-to-
-- string conversion (tostring, `..` on a number, a number argument of
-- redis.call) is a "%.14g" or "%.17g" sprintf, about 2,000
-- instructions; string.format is one sprintf per item, "%s" included
-- (about 650 each); matching the head with a pattern about 9,000;
-- Redis's Lua hashes every byte of each new string (about 8
-- instructions a byte), and every allocation is paid again by the
-- garbage collector.  So an entry is one `..` expression over strings
-- (one buffer, one new string), numbers become text through dec(),
-- constant netstrings are written as literals, and the head is split
-- with string.sub.

-- The seq of a stored entry "<hash> 2:v1,<n>:<seq>,...", nil when it is
-- not one (also audit_cp.lua's).
local function audit_seq(entry)
    return tonumber(string.match(entry or '', '^%x+ 2:v1,%d+:(%d+),'))
end

-- The open trail: nil until audit_open(), false when audit is off, else
-- { key, license id, seq and hash of the last entry } (an array: cheaper
-- to make than a record, and made on every script that writes).
local audit_state = nil

local function audit_open()
    if audit_state ~= nil then
        return audit_state
    end
    audit_state = false
    -- store.c appends "<prefix>audit:{<id>}", made from KEYS[1] =
    -- "<prefix>lic:{<id>}": two bytes longer, with "audit:{" where
    -- KEYS[1] has "lic:{"; no other key a script takes is both
    local key, lic = KEYS[#KEYS], KEYS[1] or ''
    local at = string.find(lic, 'lic:{', 1, true)
    if not at or #KEYS < 2 or #key ~= #lic + 2
       or string.find(key, 'audit:{', at, true) ~= at
    then
        return false
    end
    local head = loaded_audit_head
                 or redis.call('HGET', KEYS[1], 'audit_head') or ''
    -- "<seq> <40 hex>"
    local n, seq, prev = #head
    if n > 41 and string.byte(head, n - 40) == 32 then
        seq = tonumber(string.sub(head, 1, n - 41))
        prev = string.sub(head, n - 39)
    end
    if not seq then
        seq, prev = 0, '0000000000000000000000000000000000000000'
        local last = redis.call('LINDEX', key, -1)
        if last then
            prev = string.sub(last, 1, 40)
            seq = audit_seq(last) or 0
        end
    end
    audit_state = { key, string.sub(lic, at + 5, -2), seq, prev }
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

-- The netstrings of a detail list (name, value, name, value, ...): a
-- number through dec(), anything else not a string through tostring.
local function audit_detail(detail)
    local p = {}
    for i = 1, #detail do
        local v = detail[i]
        if type(v) == 'number' then
            v = dec(v)
        elseif type(v) ~= 'string' then
            v = tostring(v)
        end
        p[#p + 1] = dec(#v) .. ':' .. v .. ','
    end
    return table.concat(p)
end

-- Appends the entry whose canonical bytes are c to the open trail a and
-- makes it the last: returns its hash.
local function audit_push(a, c)
    local h = redis.sha1hex(c)
    redis.call('RPUSH', a[1], h .. ' ' .. c)
    a[3], a[4] = a[3] + 1, h
    return h
end

-- Appends one entry and returns the new head "<seq> <hash>" (nil when
-- audit is off) without writing it to the license hash: the caller
-- must.  who: the netstrings of op and actor; tail: the detail's.
local function audit_append(who, tail)
    local a = audit_open()
    if not a then
        return nil
    end
    local seq, id = dec(a[3] + 1), a[2]
    local c = '2:v1,' .. dec(#seq) .. ':' .. seq .. ','
              .. (#now_s == 10 and '10:' or dec(#now_s) .. ':') .. now_s
              .. ',' .. dec(#id) .. ':' .. id .. ',' .. who .. '40:' .. a[4]
              .. ',' .. tail
    return seq .. ' ' .. audit_push(a, c)
end

-- Appends one entry: op, actor, then detail, a flat list of name, value
-- (declared in _common.lua), and keeps the head in the license hash.
audit = function(op, actor, detail)
    if not audit_open() then
        return
    end
    local head = audit_append(dec(#op) .. ':' .. op .. ',' .. dec(#actor)
                              .. ':' .. actor .. ',',
                              detail and audit_detail(detail) or '')
    redis.call('HSET', KEYS[1], 'audit_head', head)
end

-- A spend of a usage-count license (check.lua): its entry (request_id,
-- used, remaining), and the license's "used" set to used with the head
-- in one HSET.  used and remaining are strings of digits (dec()): "used"
-- stays an integer string, as HINCRBY wrote it, however large (limits
-- go up to 2^53 - 1; a number argument of redis.call would be "%.17g").
-- The hottest path that writes, so the entry is audit_append()'s layout
-- written out in one expression, its detail included: a separate detail
-- string, the op and actor passed in and the call cost about 6,000 of
-- the 50,000 instructions a spend's entry adds (docs/performance.md).
local function audit_spend(used, remaining, rid)
    local a = audit_open()
    if not a then
        redis.call('HSET', KEYS[1], 'used', used)
        return
    end
    local actor = audit_actor()
    local seq, id = dec(a[3] + 1), a[2]
    local c = '2:v1,' .. dec(#seq) .. ':' .. seq .. ','
              .. (#now_s == 10 and '10:' or dec(#now_s) .. ':') .. now_s
              .. ',' .. dec(#id) .. ':' .. id .. ',5:spend,'
              .. (actor == 'license' and '7:license'
                  or dec(#actor) .. ':' .. actor) .. ',40:' .. a[4]
              .. ',10:request_id,' .. dec(#rid) .. ':' .. rid .. ',4:used,'
              .. dec(#used) .. ':' .. used .. ',9:remaining,'
              .. dec(#remaining) .. ':' .. remaining .. ','
    redis.call('HSET', KEYS[1], 'used', used, 'audit_head',
               seq .. ' ' .. audit_push(a, c))
end
