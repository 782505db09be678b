-- Sign-ins spread over the benchmark's accounts (bench0…benchN-1), the
-- right password each time. Each thread walks its own share of them in
-- turn: wrk's threads start Lua's random generator from the same seed, so
-- random picks sent the same accounts from both threads at once, and a
-- burst of ten sign-ins of one account from one address is refused (429)
-- by the lockout, which bounds how many guesses are checked at a time.
local accounts = tonumber(os.getenv("BENCH_ACCOUNTS") or "64")
local password = os.getenv("BENCH_PASSWORD")
local started = {}
function setup(thread)
  thread:set("id", #started)
  table.insert(started, thread)
  for _, t in ipairs(started) do t:set("threads", #started) end
end

local counter = 0
function init(args)
  counter = id
end

function request()
  local n = counter % accounts
  counter = counter + threads
  return wrk.format("POST", "/api/v1/login", { ["Content-Type"] = "application/json" },
    '{"login":"bench' .. n .. '@example.com","password":"' .. password .. '"}')
end
