-- unbind.lua: POST /admin/v1/licenses/ID/deactivate: removes the
-- activation of one hwid whatever the license's state.
-- KEYS: license hash, activations hash
-- ARGV: hwid

if redis.call('EXISTS', KEYS[1]) == 0 then
    return answer('UNKNOWN_LICENSE')
end

-- counted before the removal, which may delete the hash (_common.lua)
local acts = redis.call('HLEN', KEYS[2]) - 1
if redis.call('HDEL', KEYS[2], ARGV[1]) == 0 then
    return answer('ACTIVATION_UNKNOWN')
end

return answer('OK', { hwid = ARGV[1], activations = acts })
