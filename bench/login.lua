-- Sign-ins spread over the benchmark's accounts (bench0…benchN-1), the
-- right password each time.
local accounts = tonumber(os.getenv("BENCH_ACCOUNTS") or "64")
local password = os.getenv("BENCH_PASSWORD")
local counter = 0

function request()
  counter = counter + 1
  local n = (counter * 7 + math.random(0, accounts - 1)) % accounts
  return wrk.format("POST", "/api/v1/login", { ["Content-Type"] = "application/json" },
    '{"login":"bench' .. n .. '@example.com","password":"' .. password .. '"}')
end
