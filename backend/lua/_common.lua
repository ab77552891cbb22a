-- _common.lua: prepended to every script of backend/lua/ at build time.
--
-- Clock: every script reads the Redis server's TIME once and decides with
-- that one "now"; all backends sharing a Redis therefore share one clock.
-- A lease is live while its expiry (zset score) is > now.
-- Answers: one JSON string {"code": ..., "server_time": now, ...}.

-- now_s is the same second as Redis wrote it (digits): the audit trail
-- writes it without a number-to-string conversion (_audit.lua).
local now_s = redis.call('TIME')[1]
local now = tonumber(now_s)

local function answer(code, t)
    t = t or {}
    t.code = code
    t.server_time = now
    return cjson.encode(t)
end

local function num(v)
    return tonumber(v) or 0
end

-- The decimal text of a number: "%d" for an integer 0 <= n < 2^53 (n <
-- 100 by string.char, without a sprintf), else tostring ("%.14g"), as a
-- Lua conversion would.  Lua's own conversion of a number (tostring,
-- `..`, a number argument of redis.call) is a sprintf each, about 2,000
-- instructions in Redis: the audit trail and a spend's counts use this
-- (_audit.lua).
local function dec(n)
    if n >= 0 and n % 1 == 0 then
        if n < 10 then
            return string.char(48 + n)
        elseif n < 100 then
            local units = n % 10
            return string.char(48 + (n - units) / 10, 48 + units)
        elseif n < 9007199254740992 then
            return string.format('%d', n)
        end
    end
    return tostring(n)
end

-- audit_head: the head of the license's audit chain, "<seq> <hash>"
-- (_audit.lua), kept in the license hash so that the scripts that load
-- the license learn it without another command.
local FIELDS = { 'id', 'ver', 'status', 'type', 'exp', 'usage', 'maxact',
                 'seats', 'lease_s', 'hwreq', 'sync', 'cert', 'used',
                 'secret', 'borrow', 'offl', 'audit_head' }

-- The audit head load() read from KEYS[1] ('' when the hash has none),
-- nil when the script did not load KEYS[1].
local loaded_audit_head = nil

-- The license hash as a table of strings, or nil when unknown.
local function load(key)
    local v = redis.call('HMGET', key, unpack(FIELDS))
    if not v[1] then
        return nil
    end
    local lic = {}
    for i, f in ipairs(FIELDS) do
        lic[f] = v[i] or ''
    end
    if key == KEYS[1] then
        loaded_audit_head = lic.audit_head
    end
    return lic
end

-- Equality of the presented secret's hash with the stored one, in a time
-- that tells an attacker nothing: both sides are hashed again (SHA-1, in
-- Redis's C code) before the comparison, so where a difference would stop
-- a byte-wise comparison depends on SHA-1 outputs the caller cannot
-- steer, not on how many leading characters of the stored hash it
-- guessed (the double-hashing way to compare; a byte-wise Lua loop did
-- the same at 8 us per check, docs/performance.md).
local function ct_eq(a, b)
    return redis.sha1hex(a) == redis.sha1hex(b)
end

-- Proof that the caller holds the license, checked before anything else
-- about the license is told: proof is the hex SHA-256 of the secret the
-- request presented ("" when none), cert the client certificate's
-- SHA-256 nginx passed ("" when none).  Every protection the license has
-- must be satisfied; a record with none (imported before licenses had to
-- carry one) serves nobody.
local function proven(lic, proof, cert)
    if lic.secret == '' and lic.cert == '' then
        return 'LICENSE_UNPROTECTED'
    end
    if lic.secret ~= '' then
        if proof == '' then
            return 'LICENSE_PROOF_REQUIRED'
        end
        if not ct_eq(lic.secret, proof) then
            return 'LICENSE_PROOF_INVALID'
        end
    end
    if lic.cert ~= '' and cert ~= lic.cert then
        return 'CUSTOMER_CERT_MISMATCH'
    end
    return nil
end

-- Refusals shared by the public operations, in this order.  hw: "1" when
-- the server runs in hardware-key mode; full: also status and expiry.
local function gate(lic, hw, full)
    if hw == '1' and lic.hwreq ~= '1' then
        return 'HARDWARE_KEY_REQUIRED'
    end
    if full then
        if lic.status ~= 'active' then
            return 'LICENSE_REVOKED'
        end
        if num(lic.exp) > 0 and now >= num(lic.exp) then
            return 'LICENSE_EXPIRED'
        end
    end
    return nil
end

-- What every public operation starts with.  ARGV[1] hw, ARGV[2] cert,
-- ARGV[3] proof (see proven()), ARGV[4] the keyid of the machine key
-- whose request signature the backend verified ("" when none); the
-- operation's own arguments follow from ARGV[5].  Loads the license of
-- KEYS[1], checks the proof, then gate(); want: the license type the
-- operation applies to, or nil for any.  Returns the license, or nil and
-- the refusal to return.
local function open_license(full, want)
    local lic = load(KEYS[1])
    if not lic then
        return nil, answer('UNKNOWN_LICENSE')
    end
    local refused = proven(lic, ARGV[3], ARGV[2]) or gate(lic, ARGV[1], full)
    if refused then
        return nil, answer(refused)
    end
    if want and lic.type ~= want then
        return nil, answer('WRONG_LICENSE_TYPE', { type = lic.type })
    end
    return lic
end

-- Machine keys.  An activation is stored as "activated_at keyid" under
-- its hwid, a lease as "keyid client_id" under its lease id: the key a
-- later operation on it must be signed with.  keyids have no spaces (and
-- are never the words "borrowed" or "released").  A borrowed lease is
-- "borrowed keyid client_id", and "borrowed released keyid client_id"
-- once an admin asked for its release (docs/offline.md).
local function act_value(keyid)
    return now .. ' ' .. keyid
end

local function act_parse(v)
    local at, keyid = string.match(v or '', '^(%d+) (%S+)$')
    return tonumber(at), keyid
end

local function lease_value(keyid, client, borrowed)
    return (borrowed and 'borrowed ' or '') .. keyid .. ' ' .. client
end

-- keyid, client_id, borrowed, release asked
local function lease_parse(v)
    local borrowed, released = false, false
    v = v or ''
    local rest = string.match(v, '^borrowed (.*)$')
    if rest then
        borrowed, v = true, rest
        rest = string.match(v, '^released (.*)$')
        if rest then
            released, v = true, rest
        end
    end
    local keyid, client = string.match(v, '^(%S+) (.*)$')
    return keyid, client, borrowed, released
end

-- The refusal for an operation on an activation or a lease held by the
-- machine key stored_keyid, when the request is not signed by it.
local function machine_refusal(stored_keyid)
    if ARGV[4] == '' then
        return answer('MACHINE_PROOF_REQUIRED')
    end
    if stored_keyid ~= ARGV[4] then
        return answer('MACHINE_KEY_MISMATCH')
    end
    return nil
end

-- The expiry of lease id in zset zkey when the lease is live, else nil.
local function live_lease(zkey, id)
    local s = tonumber(redis.call('ZSCORE', zkey, id))
    if not s or s <= now then
        return nil
    end
    return s
end

-- open_license() of the lease operations: a floating license, a request
-- signed with a machine key, the lease ARGV[5] live in zset KEYS[2] (else
-- LEASE_UNKNOWN) and held by that key (hash KEYS[3]).
local function open_lease(full)
    local lic, refused = open_license(full, 'floating')
    if not lic then
        return nil, refused
    end
    if ARGV[4] == '' then
        return nil, answer('MACHINE_PROOF_REQUIRED')
    end
    if not live_lease(KEYS[2], ARGV[5]) then
        return nil, answer('LEASE_UNKNOWN')
    end
    refused = machine_refusal(lease_parse(redis.call('HGET', KEYS[3],
                                                     ARGV[5])))
    if refused then
        return nil, refused
    end
    return lic
end

-- Number of live leases.
local function live(zkey)
    return redis.call('ZCOUNT', zkey, '(' .. now, '+inf')
end

-- Redis Cluster: a command that removes the last element of a hash or
-- zset deletes the key, and on a node whose slot is being migrated a
-- later command on the now missing key fails the script midway (after
-- its earlier writes: "attempted to access a non local key").  So no
-- script touches a key after a command that may have emptied it: live
-- leases are added or counted before expired ones are pruned, and
-- removals come last (docs/protocol.md, "Keys").

-- audit(op, actor, detail): appends to the license's audit trail; set
-- by _audit.lua (which follows this file), declared here for prune().
local audit

-- Drops expired leases.  Called only on paths that write anyway, so a
-- refused request leaves Redis unchanged; never empties the keys when a
-- live lease remains.  Each expiry noticed here is an audit entry
-- (lease_expired, with the expiry time and the holder).
local function prune(zkey, hkey)
    local dead = redis.call('ZRANGEBYSCORE', zkey, '-inf', now,
                            'WITHSCORES')
    if #dead > 0 then
        local ids = {}
        for j = 1, #dead, 2 do
            ids[#ids + 1] = dead[j]
        end
        for k = 1, #ids, 1000 do
            local held = redis.call('HMGET', hkey,
                                    unpack(ids, k, math.min(k + 999, #ids)))
            for j = 1, #held do
                local keyid, client = lease_parse(held[j])
                audit('lease_expired', 'server', { 'lease_id',
                      ids[k + j - 1], 'expired_at', dead[2 * (k + j - 1)],
                      'key', keyid or '', 'client_id', client or '' })
            end
        end
        dead = ids
    end
    local i = 1
    while i <= #dead do
        redis.call('HDEL', hkey, unpack(dead, i, math.min(i + 999, #dead)))
        i = i + 1000
    end
    if #dead > 0 then
        redis.call('ZREMRANGEBYSCORE', zkey, '-inf', now)
    end
end

-- Removes the live lease id from the zset and hash, and the expired
-- ones with it: pruned first (the live lease keeps both keys), removed
-- last, so nothing touches a key this may delete.
local function drop_lease(zkey, hkey, id)
    prune(zkey, hkey)
    redis.call('ZREM', zkey, id)
    redis.call('HDEL', hkey, id)
end

-- Lets Redis drop the lease keys by itself once the last lease has
-- expired (a license nobody uses any more keeps no lease memory).
local function expire_leases(zkey, hkey)
    local last = redis.call('ZRANGE', zkey, -1, -1, 'WITHSCORES')
    if last[2] then
        redis.call('EXPIREAT', zkey, tonumber(last[2]) + 1)
        redis.call('EXPIREAT', hkey, tonumber(last[2]) + 1)
    end
end

-- Lease expiry for a checkout or heartbeat: now + lease_seconds, never
-- past the license's expiry.
local function lease_expiry(lic)
    local e = now + num(lic.lease_s)
    if num(lic.exp) > 0 and e > num(lic.exp) then
        e = num(lic.exp)
    end
    return e
end

