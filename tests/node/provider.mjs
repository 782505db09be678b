// An established, certified OpenID provider (panva's oidc-provider) for
// Klucznik to sign in with: one confidential client, any login accepted by
// its development login and consent pages, the address `LOGIN@example.org`
// marked verified. Run by tests/api/upstream_node.rs; prints "listening".
import Provider from 'oidc-provider';

const { PORT, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI } = process.env;
const issuer = `http://127.0.0.1:${PORT}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
    redirect_uris: [REDIRECT_URI],
    grant_types: ['authorization_code'],
    response_types: ['code'],
  }],
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: `${id}@example.org`, email_verified: true };
      },
    };
  },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  features: { devInteractions: { enabled: true } },
  pkce: { required: () => true },
  cookies: { keys: ['klucznik-test-cookie-key'] },
});

// Its own errors go to the test's output.
provider.on('server_error', (ctx, error) => console.error('oidc-provider:', error));

provider.listen(Number(PORT), '127.0.0.1', () => console.log('listening'));
