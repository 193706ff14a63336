-- wrk script: POST one fixed JSON body, then print the run as one JSON line.
--
-- The body is read from the file named after wrk's `--`, once per thread, and
-- the request is built once (a static request costs wrk nothing per call).
-- done() reports the counts and latency percentiles as JSON so that
-- bench/load.py parses numbers, not wrk's human-readable summary.

function init(args)
  local file = assert(io.open(args[1], "rb"))
  wrk.body = file:read("*a")
  file:close()
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"connect_errors":%d,"read_errors":%d,' ..
    '"write_errors":%d,"timeouts":%d,"bad_status":%d,' ..
    '"latency_p50_us":%d,"latency_p99_us":%d,"latency_max_us":%d}\n',
    summary.requests, summary.duration, errors.connect, errors.read,
    errors.write, errors.timeout, errors.status,
    latency:percentile(50), latency:percentile(99), latency.max))
end
