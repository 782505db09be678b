"""Prepares the OpenID Connect rows of bench/run: signs one account in on
the web page, then for each of N chains runs the authorization code flow
of a trusted confidential client (no consent screen) and prints the
refresh token. Its first line is the page's session cookie, which
bench/code_flow.lua presents to /oauth2/authorize.

    python3 bench/oidc_tokens.py BASE CLIENT_ID SECRET REDIRECT LOGIN PASSWORD N
"""

import base64
import http.cookiejar
import json
import re
import sys
import urllib.error
import urllib.parse
import urllib.request


class Keep(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args):
        return None


def main():
    base, client_id, secret, redirect, login, password, count = sys.argv[1:8]
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), Keep())

    def call(path, form=None, headers=None):
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        request = urllib.request.Request(base + path, data=data, headers=headers or {})
        try:
            with opener.open(request) as answer:
                result = answer.status, answer.headers, answer.read().decode()
        except urllib.error.HTTPError as answer:
            result = answer.code, answer.headers, answer.read().decode()
        # The cookies are Secure; the benchmark talks plain http on loopback.
        for cookie in jar:
            cookie.secure = False
        return result

    _, _, page = call("/sign-in")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    status, _, _ = call("/sign-in", {"csrf_token": csrf, "login": login, "password": password})
    assert status == 303, f"page sign-in answered {status}"
    session = next(c for c in jar if c.name == "klucznik_session")
    print(f"{session.name}={session.value}")

    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    query = urllib.parse.urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect,
            "scope": "openid offline_access",
        }
    )
    for _ in range(int(count)):
        status, headers, body = call(f"/oauth2/authorize?{query}")
        assert status in (302, 303), f"authorize answered {status}: {body[:200]}"
        code = urllib.parse.parse_qs(urllib.parse.urlparse(headers["Location"]).query)["code"][0]
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect}
        status, _, body = call("/oauth2/token", form, {"Authorization": f"Basic {basic}"})
        assert status == 200, f"token answered {status}: {body}"
        print(json.loads(body)["refresh_token"])


if __name__ == "__main__":
    main()
