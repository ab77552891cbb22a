-- check.lua: POST /v1/check, a unique OVSA-Nonce per request.
-- OVSA_BENCH_LICENSES: license ids are picked at random among
-- string.format(OVSA_BENCH_IDFMT, 1 .. N).  OVSA_BENCH_SECRET_FILE (when
-- set and not empty): the first line is the license secret, presented as
-- "Authorization: License <secret>" (every seeded license shares it).
-- OVSA_BENCH_SPEND=1: every request carries a new request_id (a
-- usage-count check spends a use; its Content-Digest is then computed
-- per request, on the client's side of the machine).
-- A status >= 400 counts as an error (report.lua).
dofile(os.getenv("OVSA_BENCH_LUA") .. "/report.lua")
dofile(os.getenv("OVSA_BENCH_LUA") .. "/digest.lua")

local nlic = tonumber(os.getenv("OVSA_BENCH_LICENSES") or "1")
local idfmt = os.getenv("OVSA_BENCH_IDFMT") or "bench-%07d"
local threads = 0
local prefix
local seq = 0
local auth
local spend = os.getenv("OVSA_BENCH_SPEND") == "1"

function setup(thread)
    threads = threads + 1
    thread:set("tid", threads)
end

function init(args)
    math.randomseed(os.time() * 100 + tid)
    prefix = string.format("w%d-%d-%d-", os.time(), tid,
                           math.random(1, 1000000000))
    local file = os.getenv("OVSA_BENCH_SECRET_FILE") or ""
    if file ~= "" then
        local f = assert(io.open(file, "r"))
        auth = "License " .. assert(f:read("*l"))
        f:close()
    end
end

-- the Content-Digest of each license's body, computed once: the client
-- shares the machine's two cores with the server it measures
local digests = {}

function request()
    seq = seq + 1
    local n = math.random(1, nlic)
    local body, dg
    if spend then
        body = '{"license_id":"' .. string.format(idfmt, n)
            .. '","version":1,"request_id":"' .. prefix .. seq .. '"}'
        dg = content_digest(body)
    else
        body = '{"license_id":"' .. string.format(idfmt, n)
            .. '","version":1}'
        dg = digests[n]
        if not dg then
            dg = content_digest(body)
            digests[n] = dg
        end
    end
    return wrk.format("POST", "/v1/check",
                      { ["OVSA-Nonce"] = prefix .. seq,
                        ["Content-Type"] = "application/json",
                        ["Content-Digest"] = dg,
                        ["Authorization"] = auth }, body)
end

