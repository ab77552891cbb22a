-- lease.lua: the floating-seat mix on one license (OVSA_BENCH_LEASE_ID):
-- every lease is checked out, renewed twice with heartbeat, checked in
-- (25% checkout, 50% heartbeat, 25% checkin).  Answers carry lease_id;
-- a lease id not seen before is a new checkout.  Any connection may
-- renew any lease: the lease lives on the server, not the connection.
dofile(os.getenv("OVSA_BENCH_LUA") .. "/report.lua")
dofile(os.getenv("OVSA_BENCH_LUA") .. "/digest.lua")

local lic = os.getenv("OVSA_BENCH_LEASE_ID") or "bench-lease"
local threads = 0
local prefix
local seq = 0
local stage = {}    -- lease_id -> heartbeats sent, -1 once checked in
local ready = {}    -- queue of lease ids whose next step is due
local head, tail = 1, 0

function setup(thread)
    threads = threads + 1
    thread:set("tid", threads)
end

function init(args)
    math.randomseed(os.time() * 100 + tid)
    prefix = string.format("l%d-%d-%d-", os.time(), tid,
                           math.random(1, 1000000000))
end

local function post(path, body)
    seq = seq + 1
    return wrk.format("POST", path,
                      { ["OVSA-Nonce"] = prefix .. seq,
                        ["Content-Type"] = "application/json",
                        ["Content-Digest"] = content_digest(body) }, body)
end

function request()
    if head <= tail then
        local id = ready[head]
        ready[head] = nil
        head = head + 1
        local body = '{"license_id":"' .. lic .. '","lease_id":"' .. id
            .. '"}'
        if stage[id] < 2 then
            stage[id] = stage[id] + 1
            return post("/v1/lease/heartbeat", body)
        end
        stage[id] = -1
        return post("/v1/lease/checkin", body)
    end
    return post("/v1/lease/checkout", '{"license_id":"' .. lic
                .. '","client_id":"' .. prefix .. seq .. '"}')
end

function response(status, headers, body)
    if status ~= 200 then
        return
    end
    local id = string.match(body, '"lease_id"%s*:%s*"([^"]+)"')
    if id == nil then
        return
    end
    local st = stage[id]
    if st == -1 then
        stage[id] = nil       -- the answer to its checkin: done
        return
    end
    if st == nil then
        stage[id] = 0         -- the answer to a checkout: a new lease
    end
    tail = tail + 1
    ready[tail] = id
end
