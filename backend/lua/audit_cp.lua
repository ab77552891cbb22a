-- audit_cp.lua: POST /admin/v1/licenses/ID/audit/checkpoint: stores a
-- signed checkpoint, then applies audit.retention_days (docs/audit.md).
-- KEYS: audit list, checkpoint list, license hash
-- ARGV: seq, hash (the head the checkpoint states; the backend checked
--       its digest against the chain), head time, the checkpoint (JSON
--       text, stored as given), retention in seconds (0: keep all)
-- Retention trims entries only up to a checkpoint older than the
-- retention whose seq is before the last entry: the chain left starts
-- right after a signed head, and the list is never emptied (the last
-- entry carries the chain on).  Older checkpoints go with the entries.

if redis.call('EXISTS', KEYS[1]) == 0 then
    return answer('UNKNOWN_LICENSE')
end

local seq = tonumber(ARGV[1])
local first = redis.call('LINDEX', KEYS[1], 0)
local first_seq = audit_seq(first)
local at = redis.call('LINDEX', KEYS[1], seq - first_seq)
if not at or string.sub(at, 1, 40) ~= ARGV[2]
   or audit_seq(at) ~= seq then
    return answer('AUDIT_CHECKPOINT_MISMATCH', {
        message = 'the chain has no entry ' .. ARGV[1] .. ' with hash '
                  .. ARGV[2] })
end

local last = redis.call('LINDEX', KEYS[2], -1)
if last and tonumber(cjson.decode(last).seq) >= seq then
    return answer('OK', { seq = seq, stored = false, trimmed = 0 })
end

redis.call('RPUSH', KEYS[2], ARGV[4])

local trimmed = 0
local keep = tonumber(ARGV[5])
if keep > 0 then
    local last_seq = audit_seq(redis.call('LINDEX', KEYS[1], -1))
    local cps = redis.call('LRANGE', KEYS[2], 0, -1)
    for i = #cps, 1, -1 do
        local cp = cjson.decode(cps[i])
        local s, t = tonumber(cp.seq), tonumber(cp.time)
        if s < last_seq and t < now - keep then
            if s >= first_seq then
                trimmed = s - first_seq + 1
                redis.call('LTRIM', KEYS[1], trimmed, -1)
            end
            redis.call('LTRIM', KEYS[2], i - 1, -1)
            break
        end
    end
end

return answer('OK', { seq = seq, stored = true, trimmed = trimmed })
