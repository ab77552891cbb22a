-- import.lua: POST /admin/v1/licenses.  A newer version replaces the
-- record's fields and keeps its state (status, used, activations,
-- leases); the same or an older version is refused unchanged.
-- KEYS: license hash (the license index set is updated by index.lua
--       before this script: another slot on a Redis Cluster)
-- ARGV: version, license_id, then field/value pairs of the record
-- (backend/license.c ovsa_import_record; docs/protocol.md): a newer
-- version also replaces secret, deact and deact_s, so re-keying a leaked
-- secret is an import of the next version

local old = redis.call('HGET', KEYS[1], 'ver')

if old and tonumber(old) >= tonumber(ARGV[1]) then
    return answer('VERSION_NOT_NEWER', { stored_version = tonumber(old),
        message = 'stored version ' .. old .. ' >= imported version '
                  .. ARGV[1] })
end

redis.call('HSET', KEYS[1], unpack(ARGV, 3))

audit('import', 'admin', { 'version', ARGV[1], 'previous_version',
      old or 0 })

if old then
    redis.call('HSET', KEYS[1], 'updated_at', now)
else
    redis.call('HSET', KEYS[1], 'status', 'active', 'used', 0,
               'imported_at', now, 'updated_at', now)
end

return answer('OK', { license_id = ARGV[2], version = tonumber(ARGV[1]),
                      previous_version = old and tonumber(old) or 0 })
