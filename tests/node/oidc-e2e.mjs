// An application signing its users in through Klucznik with openid-client
// (https://github.com/panva/openid-client), configured from discovery alone:
// nothing Klucznik-specific. Run by tests/api/node_client.rs, which plays
// the person in the browser. The two talk in JSON lines: this script writes
// what it needs done ({"authorize": url}, {"device": user_code}) and reads
// the answer (the callback URL; "approved") from stdin. Its last line is
// {"done": {...}} with what it saw, for the test to check.
import * as client from 'openid-client';
import * as readline from 'node:readline';

const { ISSUER, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, POST_LOGOUT_REDIRECT_URI } = process.env;
const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const ask = async (question) => {
  console.log(JSON.stringify(question));
  const { value } = await lines.next();
  return value;
};

// Klucznik under test listens on plain http on loopback.
const options = { execute: [client.allowInsecureRequests] };
const config = await client.discovery(new URL(ISSUER), CLIENT_ID, CLIENT_SECRET, undefined, options);
const seen = { issuer: config.serverMetadata().issuer };

// Authorization code with PKCE, state and nonce; the ID token verified.
const verifier = client.randomPKCECodeVerifier();
const state = client.randomState();
const nonce = client.randomNonce();
const authorize = client.buildAuthorizationUrl(config, {
  redirect_uri: REDIRECT_URI,
  scope: 'openid email profile offline_access',
  code_challenge: await client.calculatePKCECodeChallenge(verifier),
  code_challenge_method: 'S256',
  state,
  nonce,
});
const callback = await ask({ authorize: authorize.href });
const tokens = await client.authorizationCodeGrant(config, new URL(callback), {
  pkceCodeVerifier: verifier,
  expectedState: state,
  expectedNonce: nonce,
  idTokenExpected: true,
});
const claims = tokens.claims();
seen.sub = claims.sub;
seen.email = claims.email;
seen.sid = claims.sid;
const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
seen.userinfo_email = info.email;

// The refresh token rotates.
const renewed = await client.refreshTokenGrant(config, tokens.refresh_token);
seen.rotated = renewed.refresh_token !== tokens.refresh_token;

// Introspection, then revocation.
seen.active_before = (await client.tokenIntrospection(config, renewed.access_token)).active;
await client.tokenRevocation(config, renewed.refresh_token);
seen.active_after = (await client.tokenIntrospection(config, renewed.access_token)).active;

// A service's own token.
const service = await client.clientCredentialsGrant(config, {});
seen.client_credentials = service.token_type.toLowerCase();

// The device flow: the test approves the code on /device.
const device = await client.initiateDeviceAuthorization(config, { scope: 'openid email' });
await ask({ device: device.user_code });
const deviceTokens = await client.pollDeviceAuthorizationGrant(config, device);
seen.device_sub = deviceTokens.claims()?.sub;

// RP-initiated logout.
seen.end_session = client.buildEndSessionUrl(config, {
  id_token_hint: tokens.id_token,
  post_logout_redirect_uri: POST_LOGOUT_REDIRECT_URI,
  state: 'bye',
}).href;

// Dynamic registration (RFC 7591), as openid-client does it.
const registered = await client.dynamicClientRegistration(
  new URL(ISSUER),
  { redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: 'none', client_name: 'Registered by openid-client' },
  client.None(),
  options,
);
seen.registered_client = registered.clientMetadata().client_id;

console.log(JSON.stringify({ done: seen }));
process.exit(0);
