-- One chain of refreshes per thread (run with as many threads as
-- connections): each request presents the refresh token the previous
-- answer gave. The starting tokens come as arguments, one per thread.
-- With a first argument "Basic …" (a client's credentials) the chains
-- run OpenID Connect's refresh grant at /oauth2/token instead of the
-- native /api/v1/refresh.
local next_id = 1
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end

function init(args)
  if string.sub(args[1] or "", 1, 6) == "Basic " then
    basic = args[1]
    token = args[id + 1]
  else
    token = args[id]
  end
  failures = 0
end

function request()
  if basic then
    return wrk.format("POST", "/oauth2/token", {
      ["Content-Type"] = "application/x-www-form-urlencoded",
      ["Authorization"] = basic,
    }, "grant_type=refresh_token&refresh_token=" .. token)
  end
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
