-- The refresh-token grant at /oauth2/token, one chain per thread (run with
-- as many threads as connections), as bench/refresh.lua does for the native
-- API: each request presents the refresh token the previous answer gave.
-- Arguments: the client's "Basic …" credentials, then one token per thread.
local next_id = 1
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end

function init(args)
  basic = args[1]
  token = args[id + 1]
  failures = 0
end

function request()
  return wrk.format("POST", "/oauth2/token", {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Authorization"] = basic,
  }, "grant_type=refresh_token&refresh_token=" .. token)
end

function response(status, headers, body)
  local fresh = string.match(body, '"refresh_token":"([^"]+)"')
  if status == 200 and fresh then
    token = fresh
  else
    failures = failures + 1
  end
end
