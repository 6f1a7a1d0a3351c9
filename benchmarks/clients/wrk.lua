-- wrk script for the benchmark harness (benchmarks/clients/wrk_.py).
--
--   WRK_DEPTH=32 wrk ... -s wrk.lua URL
--
-- DEPTH > 1 pipelines: each connection sends DEPTH requests in one write and waits for the
-- DEPTH responses before sending the next batch. A global `request` function is what makes
-- wrk count the requests in the string it returns and pipeline them; it is defined only
-- then, because with it wrk calls into Lua once per batch.
--
-- done() prints one line, "WRKJSON {...}", with the exact counts wrk_.py checks.

-- The depth comes from the environment (WRK_DEPTH): script arguments reach only init(),
-- which wrk calls in the threads' Lua states, not in the one that runs done().
local depth = tonumber(os.getenv("WRK_DEPTH") or "1")

if depth > 1 then
   local batch = nil
   request = function()
      if not batch then
         batch = string.rep(wrk.format("GET", wrk.path), depth)
      end
      return batch
   end
end

done = function(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      'WRKJSON {"requests": %d, "bytes": %d, "duration_us": %d, "depth": %d, '
      .. '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}}\n',
      summary.requests, summary.bytes, summary.duration, depth,
      e.connect, e.read, e.write, e.status, e.timeout))
end
