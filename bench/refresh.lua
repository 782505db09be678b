-- One chain of refreshes per thread (run with as many threads as
-- connections): each request presents the refresh token the previous
-- answer gave. The starting tokens come as arguments, one per thread.
local next_id = 1
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end

function init(args)
  token = args[id]
  failures = 0
end

function request()
  return wrk.format("POST", "/api/v1/refresh", { ["Content-Type"] = "application/json" },
    '{"refresh_token":"' .. token .. '"}')
end

function response(status, headers, body)
  local fresh = string.match(body, '"refresh_token":"([^"]+)"')
  if status == 200 and fresh then
    token = fresh
  else
    failures = failures + 1
  end
end
