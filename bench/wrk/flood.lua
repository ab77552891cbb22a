-- flood.lua: POST /v1/check without credentials; every other request
-- without an OVSA-Nonce either (the flood of docs/performance.md,
-- "Hardware key at token speed").  Every answer is refused: a signed
-- 400 NONCE_REQUIRED or 401 LICENSE_PROOF_REQUIRED, or an unsigned 503
-- SIGNER_BUSY; report.lua counts them all as errors, which is the point.
dofile(os.getenv("OVSA_BENCH_LUA") .. "/report.lua")
dofile(os.getenv("OVSA_BENCH_LUA") .. "/digest.lua")

local seq = 0
local body = '{"license_id":"bench-0000001","version":1}'
local digest

function init(args)
    digest = content_digest(body)
end

function request()
    seq = seq + 1
    local h = { ["Content-Type"] = "application/json" }
    if seq % 2 == 0 then
        h["OVSA-Nonce"] = "flood-" .. seq
    end
    h["Content-Digest"] = digest
    return wrk.format("POST", "/v1/check", h, body)
end
