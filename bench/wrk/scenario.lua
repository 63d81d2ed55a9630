-- wrk script for every scenario of bench/run.sh (wrk 4, LuaJIT). Configured by environment:
--
--   BENCH_SCENARIO   create | close | member | route | mapping | get | query | query_oauth | mixed
--   BENCH_AUTH       the whole Authorization header value ("Basic ..." or "Bearer ...")
--   BENCH_THREADS    wrk's -t (ids are striped across threads, so each thread must know it)
--   BENCH_IDS        file, one line per interaction of the manifest: "<interaction> <agent>"
--   BENCH_AGENTS     file, one agent sys_id per line
--   BENCH_START      first line of BENCH_IDS to use (0-based) for the scenarios that consume ids
--   BENCH_CHANNEL, BENCH_QUEUE, BENCH_OTHER_QUEUE, BENCH_INBOUND, BENCH_SUPERVISOR   from the manifest
--   BENCH_QUERY      the query scenarios' path and parameters, without sysparm_offset
--   BENCH_LIMIT      its sysparm_limit (offsets step by it)
--   BENCH_PAGES      how many pages the query scenarios rotate through (offset 0, LIMIT, ...)
--   BENCH_FIXED_OFFSET  if set, every query uses this one sysparm_offset (the offset curve)
--   BENCH_OUT        where done() writes its JSON result
--
-- What each request is (see docs/performance.md, "Scenarios"):
--   create   POST /api/now/interaction {channel, queue, context}: a new interaction, its JSON
--            blob, group profile and conversation, one transaction, fsync'd before the 201.
--   close    POST /api/now/interaction/{id}/close, each request a distinct open interaction.
--   member   alternately PUT .../member/{agent}/drop and PUT .../member/{supervisor}/update
--            (observer -> public_fulfiller) on the same interaction, a fresh interaction per
--            pair: every request changes a member record.
--   route    POST /api/now/awa/queues/{BENCH_OTHER_QUEUE}/work_item for a distinct loaded
--            interaction each time: its queued work item moves to the second queue (AWA Routing).
--   mapping  PUT .../agent_mapping/agent/{agent}/inboundId/BenchVoice, rotating through every
--            agent; each has a mapping already, so each is an update (which always writes).
--   get      GET /api/now/table/interaction/{id}, rotating through every interaction.
--   query    GET BENCH_QUERY&sysparm_offset=O, O rotating through BENCH_PAGES pages.
--   query_oauth  the same with a bearer token (BENCH_AUTH holds it).
--   mixed    per interaction: create a new one, upsert the agent's mapping, drop the agent from
--            a loaded interaction, close that interaction (4 requests, in that order per thread).
--
-- Every response's status is counted; anything but 2xx is an error, kept by status, with the
-- first error body of each thread as a sample. Distinct-id scenarios never reuse an id within a
-- run; if the file runs out they wrap around and say so ("wrapped"), and the report flags it.

local scenario = os.getenv("BENCH_SCENARIO") or "get"
local auth = os.getenv("BENCH_AUTH") or ""
local nthreads = tonumber(os.getenv("BENCH_THREADS") or "1")
local start = tonumber(os.getenv("BENCH_START") or "0")
local channel = os.getenv("BENCH_CHANNEL") or ""
local queue = os.getenv("BENCH_QUEUE") or ""
local other_queue = os.getenv("BENCH_OTHER_QUEUE") or ""
local inbound = os.getenv("BENCH_INBOUND") or "BenchVoice"
local supervisor = os.getenv("BENCH_SUPERVISOR") or ""
local query = os.getenv("BENCH_QUERY") or "/api/now/table/interaction?sysparm_limit=20"
local limit = tonumber(os.getenv("BENCH_LIMIT") or "20")
local pages = tonumber(os.getenv("BENCH_PAGES") or "50")
local fixed_offset = os.getenv("BENCH_FIXED_OFFSET")
local out = os.getenv("BENCH_OUT")

-- main state: one entry per thread, read back in done()
local threads = {}
local next_tid = 0

function setup(thread)
   thread:set("tid", next_tid)
   next_tid = next_tid + 1
   table.insert(threads, thread)
end

local function read_lines(path)
   local lines = {}
   if not path or path == "" then return lines end
   local f = io.open(path, "r")
   if not f then error("cannot open " .. path) end
   for line in f:lines() do
      if #line > 0 then lines[#lines + 1] = line end
   end
   f:close()
   return lines
end

local interactions, agents_of, agents = {}, {}, {}

-- per-thread state (globals, so the main state can read them with thread:get)
n = 0            -- requests generated
ok = 0           -- 2xx responses
errors = 0       -- non-2xx responses
statuses = ""    -- "status=count,..." of non-2xx responses
sample = ""      -- the first non-2xx body this thread saw
body_bytes = 0   -- bytes of response bodies
responses = 0
max_index = -1   -- the highest id index this thread used (distinct-id scenarios)
wrapped = 0

local status_counts = {}

function init(args)
   local lines = read_lines(os.getenv("BENCH_IDS"))
   for i, line in ipairs(lines) do
      local a, b = line:match("^(%S+)%s*(%S*)")
      interactions[i] = a
      agents_of[i] = b
   end
   agents = read_lines(os.getenv("BENCH_AGENTS"))
end

local json_headers = { ["Content-Type"] = "application/json", ["Accept"] = "application/json" }
local plain_headers = { ["Accept"] = "application/json" }

local function headers(with_body)
   local h = with_body and json_headers or plain_headers
   h["Authorization"] = auth
   return h
end

-- The k-th distinct item of this thread: items are striped across threads.
local function item(k)
   local index = start + tid + k * nthreads
   if index > max_index then max_index = index end
   local count = #interactions
   if count == 0 then error("BENCH_IDS is empty") end
   if index >= count then wrapped = 1 end
   local i = (index % count) + 1
   return interactions[i], agents_of[i]
end

local function create_body(k)
   return string.format(
      '{"channel":"%s","queue":"%s","context":{"caller":"+1555%07d","thread":%d}}',
      channel, queue, k % 10000000, tid)
end

local function close(id)
   return wrk.format("POST", "/api/now/interaction/" .. id .. "/close", headers(false))
end

local function drop(agent, id)
   return wrk.format("PUT", "/api/now/conversation/member/" .. agent .. "/drop", headers(true),
      '{"interaction_id":"' .. id .. '"}')
end

local function update(user, id)
   return wrk.format("PUT", "/api/now/conversation/member/" .. user .. "/update", headers(true),
      '{"interaction_id":"' .. id .. '","member_type":"public_fulfiller"}')
end

-- No `active` field (it defaults to true): switchboard's OpenAPI document types it as
-- object-or-null, so Prism would refuse a boolean with a 400 and could not answer.
local function map(agent, k)
   return wrk.format("PUT", "/api/sn_ct_ctr_it_core/agent_mapping/agent/" .. agent .. "/inboundId/" .. inbound,
      headers(true), '{"external_agent_id":"ext-' .. k .. '"}')
end

local function page(k)
   local offset = fixed_offset or tostring(((tid + k * nthreads) % pages) * limit)
   return wrk.format("GET", query .. "&sysparm_offset=" .. offset, headers(false))
end

function request()
   local k = n
   n = n + 1
   if scenario == "create" then
      return wrk.format("POST", "/api/now/interaction", headers(true), create_body(k))
   elseif scenario == "close" then
      local id = item(k)
      return close(id)
   elseif scenario == "member" then
      local id, agent = item(math.floor(k / 2))
      if k % 2 == 0 then return drop(agent, id) else return update(supervisor, id) end
   elseif scenario == "route" then
      local id = item(k)
      return wrk.format("POST", "/api/now/awa/queues/" .. other_queue .. "/work_item", headers(true),
         '{"document_sys_id":"' .. id .. '","document_table":"interaction"}')
   elseif scenario == "mapping" then
      local agent = agents[((tid + k * nthreads) % #agents) + 1]
      return map(agent, k)
   elseif scenario == "get" then
      local id = interactions[((tid + k * nthreads) % #interactions) + 1]
      return wrk.format("GET", "/api/now/table/interaction/" .. id, headers(false))
   elseif scenario == "query" or scenario == "query_oauth" then
      return page(k)
   elseif scenario == "mixed" then
      local step = k % 4
      local id, agent = item(math.floor(k / 4))
      if step == 0 then
         return wrk.format("POST", "/api/now/interaction", headers(true), create_body(k))
      elseif step == 1 then
         return map(agent, k)
      elseif step == 2 then
         return drop(agent, id)
      else
         return close(id)
      end
   end
   error("unknown BENCH_SCENARIO " .. scenario)
end

function response(status, hdrs, body)
   responses = responses + 1
   if body then body_bytes = body_bytes + #body end
   if status >= 200 and status < 300 then
      ok = ok + 1
   else
      errors = errors + 1
      status_counts[status] = (status_counts[status] or 0) + 1
      local parts = {}
      for s, c in pairs(status_counts) do parts[#parts + 1] = s .. "=" .. c end
      statuses = table.concat(parts, ",")
      if sample == "" and body then sample = body:sub(1, 300) end
   end
end

local function json_string(s)
   s = tostring(s or "")
   s = s:gsub('[%c"\\]', function(c)
      if c == '"' then return '\\"' elseif c == "\\" then return "\\\\" end
      return string.format("\\u%04x", c:byte())
   end)
   return '"' .. s .. '"'
end

function done(summary, latency, requests)
   local total_ok, total_err, total_bytes, total_resp, max_idx, wrap = 0, 0, 0, 0, -1, 0
   local by_status, samples = {}, {}
   for _, t in ipairs(threads) do
      total_ok = total_ok + t:get("ok")
      total_err = total_err + t:get("errors")
      total_bytes = total_bytes + t:get("body_bytes")
      total_resp = total_resp + t:get("responses")
      local m = t:get("max_index")
      if m > max_idx then max_idx = m end
      if t:get("wrapped") == 1 then wrap = 1 end
      for s, c in string.gmatch(t:get("statuses"), "(%d+)=(%d+)") do
         by_status[s] = (by_status[s] or 0) + tonumber(c)
      end
      local smp = t:get("sample")
      if smp ~= "" then samples[#samples + 1] = smp end
   end
   local st = {}
   for s, c in pairs(by_status) do st[#st + 1] = json_string(s) .. ":" .. c end
   local secs = summary.duration / 1e6
   local lines = {
      '"scenario":' .. json_string(scenario),
      '"duration_s":' .. secs,
      '"requests":' .. summary.requests,
      '"rps":' .. (summary.requests / secs),
      '"bytes":' .. summary.bytes,
      '"responses":' .. total_resp,
      '"ok":' .. total_ok,
      '"non2xx":' .. total_err,
      '"non2xx_by_status":{' .. table.concat(st, ",") .. '}',
      '"error_sample":' .. json_string(samples[1]),
      '"socket_errors":{"connect":' .. summary.errors.connect .. ',"read":' .. summary.errors.read ..
         ',"write":' .. summary.errors.write .. ',"timeout":' .. summary.errors.timeout ..
         ',"status":' .. summary.errors.status .. '}',
      '"mean_body_bytes":' .. (total_resp > 0 and math.floor(total_bytes / total_resp + 0.5) or 0),
      '"latency_us":{"min":' .. latency.min .. ',"mean":' .. latency.mean .. ',"max":' .. latency.max ..
         ',"stdev":' .. latency.stdev ..
         ',"p50":' .. latency:percentile(50) .. ',"p90":' .. latency:percentile(90) ..
         ',"p99":' .. latency:percentile(99) .. ',"p99.9":' .. latency:percentile(99.9) .. '}',
      '"start":' .. start,
      '"max_index":' .. max_idx,
      '"wrapped":' .. (wrap == 1 and "true" or "false"),
   }
   local text = "{" .. table.concat(lines, ",") .. "}"
   io.write(string.format("p50 %.2f ms  p99 %.2f ms  p99.9 %.2f ms  non-2xx %d\n",
      latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency:percentile(99.9) / 1000, total_err))
   if out and out ~= "" then
      local f = assert(io.open(out, "w"))
      f:write(text, "\n")
      f:close()
   else
      io.write(text, "\n")
   end
end
