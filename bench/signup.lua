-- Sign-ups of fresh addresses, each one new (the thread's number keeps
-- threads apart).
local next_id = 1
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end

local counter = 0
function request()
  counter = counter + 1
  return wrk.format("POST", "/api/v1/register", { ["Content-Type"] = "application/json" },
    '{"email":"s' .. os.time() .. "-" .. id .. "-" .. counter .. '@example.com","password":"'
      .. os.getenv("BENCH_PASSWORD") .. '"}')
end
