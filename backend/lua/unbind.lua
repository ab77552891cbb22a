-- unbind.lua: POST /admin/v1/licenses/ID/deactivate: removes the
-- activation of one hwid whatever the license's state.
-- KEYS: license hash, activations hash
-- ARGV: hwid

if redis.call('EXISTS', KEYS[1]) == 0 then
    return answer('UNKNOWN_LICENSE')
end

-- counted before the removal, which may delete the hash (_common.lua)
local acts = redis.call('HLEN', KEYS[2]) - 1
local cur = redis.call('HGET', KEYS[2], ARGV[1])
if not cur then
    return answer('ACTIVATION_UNKNOWN')
end
local _, keyid = act_parse(cur)
audit('deactivate', 'admin', { 'hwid', ARGV[1], 'key', keyid or '',
      'activations', acts })
redis.call('HDEL', KEYS[2], ARGV[1])

return answer('OK', { hwid = ARGV[1], activations = acts })
