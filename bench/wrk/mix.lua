-- API load mix for bench/load.py: inbox reads and task completions.
--
-- Arguments (after `--`): the data file written by bench/load.py, the number of threads,
-- the share of completions (0..1). The data file returns
--   { officers = { "<token>", ... }, tasks = { {id, officer index}, ... } }.
-- Each thread completes only the tasks of its own slice (task i belongs to thread
-- i % threads), so no two connections ever complete the same task; when its slice is used up a
-- thread only reads. Responses are told apart by their body: a task list starts with
-- {"count":, a completed task with {"id":.

local threads = {}
local counter = 0

function setup(thread)
   counter = counter + 1
   thread:set("thread_id", counter)
   table.insert(threads, thread)
end

function init(args)
   local data = dofile(args[1])
   local nthreads = tonumber(args[2])
   share = tonumber(args[3])
   officers = data.officers
   mine = {}
   for i, task in ipairs(data.tasks) do
      if (i - 1) % nthreads == thread_id - 1 then
         table.insert(mine, task)
      end
   end
   ntasks = #mine  -- (thread:get copies flat tables only: nested ones crash wrk 4.1)
   next_task = 1
   reads_sent, completes_sent = 0, 0
   reads_ok, completes_ok = 0, 0
   statuses = {}
   codes = {}
   math.randomseed(thread_id * 7919)
end

local function header(officer)
   return {
      ["Authorization"] = "Token " .. officers[officer],
      ["Content-Type"] = "application/json",
      ["Accept"] = "application/json",
   }
end

function request()
   if next_task <= #mine and math.random() < share then
      local task = mine[next_task]
      next_task = next_task + 1
      completes_sent = completes_sent + 1
      return wrk.format("POST", "/api/v1/tasks/" .. task[1] .. "/complete/", header(task[2]),
                        '{"decision":"approve"}')
   end
   reads_sent = reads_sent + 1
   return wrk.format("GET", "/api/v1/tasks/?view=inbox", header(math.random(#officers)))
end

function response(status, headers, body)
   if status >= 200 and status < 300 then
      if string.sub(body, 1, 9) == '{"count":' then
         reads_ok = reads_ok + 1
      else
         completes_ok = completes_ok + 1
      end
   else
      local key = tostring(status)
      statuses[key] = (statuses[key] or 0) + 1
      local code = string.match(body or "", '"code"%s*:%s*"([^"]*)"') or "?"
      codes[key .. ":" .. code] = (codes[key .. ":" .. code] or 0) + 1
   end
end

local function json_map(map)
   local parts = {}
   for k, v in pairs(map) do
      table.insert(parts, string.format('"%s":%d', k, v))
   end
   return "{" .. table.concat(parts, ",") .. "}"
end

function done(summary, latency, requests)
   local totals = {reads_sent = 0, completes_sent = 0, reads_ok = 0, completes_ok = 0,
                   tasks = 0}
   local statuses_all, codes_all = {}, {}
   for _, thread in ipairs(threads) do
      for key, _ in pairs(totals) do
         if key ~= "tasks" then
            totals[key] = totals[key] + (thread:get(key) or 0)
         end
      end
      totals.tasks = totals.tasks + (thread:get("ntasks") or 0)
      for k, v in pairs(thread:get("statuses") or {}) do
         statuses_all[k] = (statuses_all[k] or 0) + v
      end
      for k, v in pairs(thread:get("codes") or {}) do
         codes_all[k] = (codes_all[k] or 0) + v
      end
   end
   local e = summary.errors
   io.write(string.format(
      'BENCH_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,' ..
      '"p50_us":%d,"p90_us":%d,"p95_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f,' ..
      '"non_2xx_3xx":%d,"socket_errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d},' ..
      '"reads_sent":%d,"completes_sent":%d,"reads_ok":%d,"completes_ok":%d,"tasks":%d,' ..
      '"statuses":%s,"codes":%s}\n',
      summary.requests, summary.duration, summary.bytes,
      latency:percentile(50), latency:percentile(90), latency:percentile(95),
      latency:percentile(99), latency.max, latency.mean,
      e.status, e.connect, e.read, e.write, e.timeout,
      totals.reads_sent, totals.completes_sent, totals.reads_ok, totals.completes_ok,
      totals.tasks, json_map(statuses_all), json_map(codes_all)))
end
