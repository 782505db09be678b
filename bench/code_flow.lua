-- The authorization code flow of a trusted confidential client, as a
-- signed-in browser and its application run it: GET /oauth2/authorize with
-- the page's session cookie (answered with a redirect carrying a code),
-- then POST /oauth2/token exchanging that code. Requests alternate, so the
-- exchanges per second are half the requests per second.
-- Arguments: the session cookie, the authorize query, the "Basic …"
-- credentials, the redirect URI (form-encoded).
function init(args)
  cookie, query, basic, redirect = args[1], args[2], args[3], args[4]
  code = nil
end

function request()
  if code then
    local body = "grant_type=authorization_code&code=" .. code .. "&redirect_uri=" .. redirect
    code = nil
    return wrk.format("POST", "/oauth2/token", {
      ["Content-Type"] = "application/x-www-form-urlencoded",
      ["Authorization"] = basic,
    }, body)
  end
  return wrk.format("GET", "/oauth2/authorize?" .. query, { ["Cookie"] = cookie })
end

function response(status, headers, body)
  if status == 303 or status == 302 then
    code = string.match(headers["Location"] or headers["location"] or "", "[?&]code=([^&]+)")
  end
end
