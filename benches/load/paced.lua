-- paced.lua: a wrk script for benches/live_load.sh. Paces each wrk thread at a fixed request
-- rate and mixes request kinds, over keep-alive connections plus a share of fresh ones.
--
-- Environment (read once per thread):
--   LOAD_THREAD_RATE  requests/s for this thread (live_load.sh passes RATE / threads)
--   LOAD_CLOSE_PCT    percent of requests sent with "Connection: close" (default 10): nginx
--                     closes after answering, wrk reconnects, so about that share of requests
--                     goes out on a new connection (and imdswatch must attribute it anew)
--
-- Mix, in a fixed cycle of 20 requests: 1 token PUT, 3 IMDSv2 GETs (token header), 16 IMDSv1
-- GETs, all of /latest/meta-data/instance-id or /latest/api/token.
--
-- Pacing: wrk calls delay() before each request on a connection. Each call takes the thread's
-- next time slot (slots are 1/rate apart, on CLOCK_MONOTONIC via LuaJIT's ffi) and waits until
-- it; the thread's connections share the slots, so the rate holds whatever the latency, as long
-- as there are enough connections. A thread that falls more than 100 ms behind drops the
-- missed slots instead of bursting (the achieved rate then shows the shortfall).

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } imw_timespec;
int clock_gettime(int clk_id, imw_timespec *tp);
]]
local ts = ffi.new("imw_timespec")
local function now_ms()
    ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
    return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

local interval_ms, next_slot
local reqs = {}
local n = 0

function init(args)
    local rate = tonumber(os.getenv("LOAD_THREAD_RATE") or "1000")
    local close_pct = tonumber(os.getenv("LOAD_CLOSE_PCT") or "10")
    interval_ms = 1000 / rate
    local v1 = { ["User-Agent"] = "imw-load/1" }
    local v2 = { ["User-Agent"] = "imw-load/1", ["X-aws-ec2-metadata-token"] = "AQAEAload-token==" }
    local put = { ["User-Agent"] = "imw-load/1", ["X-aws-ec2-metadata-token-ttl-seconds"] = "21600" }
    local path = "/latest/meta-data/instance-id"
    -- 100 prepared requests: the kind cycles every 20, the close flag spreads close_pct of 100.
    for i = 0, 99 do
        local k = i % 20
        local h
        local method, p = "GET", path
        if k == 0 then
            method, p, h = "PUT", "/latest/api/token", put
        elseif k <= 3 then
            h = v2
        else
            h = v1
        end
        local hh = {}
        for key, val in pairs(h) do hh[key] = val end
        -- every (100 / close_pct)-th request, offset so closes fall on all kinds
        if close_pct > 0 and math.floor((i * 7 + 3) % 100) < close_pct then
            hh["Connection"] = "close"
        end
        reqs[i] = wrk.format(method, p, hh, nil)
    end
end

function request()
    local r = reqs[n % 100]
    n = n + 1
    return r
end

function delay()
    local now = now_ms()
    if next_slot == nil or next_slot < now - 100 then
        next_slot = now
    end
    local slot = next_slot
    next_slot = next_slot + interval_ms
    local d = slot - now
    if d <= 0 then
        return 0
    end
    return math.floor(d + 0.5)
end
