// A real OpenID Connect provider (oidc-provider) on loopback, for ssa's OIDC login tests.
//
// Configured by the environment (tests/auth/test_oidc.py sets it):
//   OIDC_CLIENT_ID, OIDC_CLIENT_SECRET  the one confidential client (client_secret_basic)
//   OIDC_REDIRECT_URIS                  its redirect URIs, comma-separated
//   OIDC_ACCOUNTS                       JSON {"<login name>": {"email": ..., "email_verified": ...}}
//   OIDC_PORT                           the port to listen on (default 0: any free port)
// It listens on 127.0.0.1 and prints one JSON line {"issuer": "http://127.0.0.1:<port>"}
// once it accepts requests. The development login form accepts any login name with any
// password; the name picks the account (an unknown name cannot log in).
import * as http from 'node:http';

import Provider from 'oidc-provider';

function required(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`provider.js: ${name} is not set`);
    process.exit(2);
  }
  return value;
}

const clientId = required('OIDC_CLIENT_ID');
const clientSecret = required('OIDC_CLIENT_SECRET');
const redirectUris = required('OIDC_REDIRECT_URIS').split(',').map((uri) => uri.trim());
const accounts = JSON.parse(required('OIDC_ACCOUNTS'));
const port = Number(process.env.OIDC_PORT || 0);

const configuration = {
  clients: [
    {
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: redirectUris,
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  // PKCE for every client, confidential ones included: the relying party must send it.
  pkce: { required: () => true },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
  },
  // Claims requested by scope stay out of the ID token (the default, as the spec says when
  // an access token is issued): the relying party reads them at the userinfo endpoint.
  conformIdTokenClaims: true,
  cookies: { keys: ['ssa-test-cookie-key-not-secret'] },
  features: { devInteractions: { enabled: true } },
  async findAccount(ctx, sub) {
    const account = Object.hasOwn(accounts, sub) ? accounts[sub] : undefined;
    if (!account) {
      return undefined;
    }
    return {
      accountId: sub,
      async claims() {
        return {
          sub,
          email: account.email,
          email_verified: Boolean(account.email_verified),
          name: account.name || sub,
        };
      },
    };
  },
};

const server = http.createServer();
server.listen(port, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, configuration);
  server.on('request', provider.callback());
  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
