-- report.lua: loaded by every bench/wrk/*.lua scenario script (dofile).
--
-- done() prints one machine-readable line that bench/run.sh parses:
--   OVSA-BENCH requests=N duration_us=N p50_us=N p99_us=N p999_us=N
--              errors=N non2xx=N
-- errors counts connect/read/write/timeout errors and HTTP statuses
-- >= 400 (wrk's summary.errors.status); non2xx is that last part.
--
-- Pacing: when OVSA_BENCH_RATE (requests/s over all connections) and
-- OVSA_BENCH_CONNS are set, delay() makes each connection wait
-- CONNS / RATE seconds between a response and its next request.  wrk
-- delays in whole milliseconds, so the fraction is rounded up or down at
-- random to keep the mean right.  Latency is measured from the send, so
-- the wait does not count.  This is closed-loop pacing (wrk2 is not in
-- Debian): the achieved rate is measured and reported, not assumed.

local rate = tonumber(os.getenv("OVSA_BENCH_RATE") or "")
local conns = tonumber(os.getenv("OVSA_BENCH_CONNS") or "")

if rate and conns and rate > 0 then
    local gap = conns * 1000 / rate
    local whole = math.floor(gap)
    local frac = gap - whole
    function delay()
        if math.random() < frac then
            return whole + 1
        end
        return whole
    end
end

function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format(
        "OVSA-BENCH requests=%d duration_us=%d p50_us=%d p99_us=%d"
        .. " p999_us=%d errors=%d non2xx=%d\n",
        summary.requests, summary.duration,
        latency:percentile(50), latency:percentile(99),
        latency:percentile(99.9),
        e.connect + e.read + e.write + e.status + e.timeout, e.status))
end
