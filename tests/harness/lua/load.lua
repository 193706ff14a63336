-- wrk script: POST request bodies for a fixed time; with a corpus, check every answer.
--
-- Arguments after wrk's `--`:
--   body PATH            POST the body in PATH on every request. The request is
--                        built once, so it costs wrk nothing per call.
--   corpus PATH [close]  cycle through the corpus in PATH (a Lua table of
--                        {request id, body, expected answer}) and compare every
--                        answer, found by the X-Request-ID the service echoes,
--                        with the expected bytes; "close" asks for a new
--                        connection per request (Connection: close).
-- done() adds the threads' counts up and prints them as one JSON line, then
-- the first answer that was not as expected (corpus only).

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

local function check(status, headers, body)
  checked = checked + 1
  if status ~= 200 then
    not_ok = not_ok + 1
  elseif expected[headers["X-Request-ID"]] ~= body then
    wrong = wrong + 1
  else
    return
  end
  if first_wrong == "" then
    first_wrong = status .. " " .. tostring(headers["X-Request-ID"]) .. " " .. string.sub(body, 1, 300)
  end
end

function init(args)
  checked, not_ok, wrong, first_wrong = 0, 0, 0, ""
  if args[1] == "body" then
    local file = assert(io.open(args[2], "rb"))
    wrk.body = file:read("*a")
    file:close()
    wrk.method = "POST"
    wrk.headers["Content-Type"] = "application/json"
    return
  end
  local corpus = dofile(args[2])
  local prepared, cursor = {}, 0
  expected = {}
  for index, entry in ipairs(corpus) do
    local headers = {["Content-Type"] = "application/json", ["X-Request-ID"] = entry[1]}
    if args[3] == "close" then
      headers["Connection"] = "close"
    end
    prepared[index] = wrk.format("POST", "/predict", headers, entry[2])
    expected[entry[1]] = entry[3]
  end
  -- Defined here, not at the top: wrk reads answers into Lua only when a
  -- response() exists, which would slow the fixed-body load down.
  request = function()
    cursor = cursor % #prepared + 1
    return prepared[cursor]
  end
  response = check
end

function done(summary, latency, requests)
  local checked, not_ok, wrong, first = 0, 0, 0, ""
  for _, thread in ipairs(threads) do
    checked = checked + thread:get("checked")
    not_ok = not_ok + thread:get("not_ok")
    wrong = wrong + thread:get("wrong")
    if first == "" then first = thread:get("first_wrong") end
  end
  local errors = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"connect_errors":%d,"read_errors":%d,' ..
    '"write_errors":%d,"timeouts":%d,"bad_status":%d,"checked":%d,"not_ok":%d,"wrong":%d,' ..
    '"p50_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, errors.connect, errors.read, errors.write,
    errors.timeout, errors.status, checked, not_ok, wrong,
    latency:percentile(50), latency:percentile(99), latency.max))
  io.write("WRK_FIRST_WRONG " .. first .. "\n")
end
