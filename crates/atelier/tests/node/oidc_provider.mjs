// A real OpenID Connect provider for the API tests: the certified `oidc-provider` package on
// 127.0.0.1 (a free port), with the clients given as JSON in argv[2], and a minimal sign-in
// page of its own: `GET /interaction/{uid}` shows a form; posting `login=NAME` to
// `/interaction/{uid}/login` signs NAME in and grants the requested scopes, posting to
// `/interaction/{uid}/abort` declines (the client gets `access_denied`).
// Accounts: any NAME; email NAME@example.test (or NAME itself when it holds an @), verified
// unless NAME starts with "unverified".
// Test hook: `POST /__test/mint` signs the posted JSON claims with the provider's own key
// (to make an expired token). Prints one JSON line `{"issuer": …}` when ready.
import http from 'node:http';
import Provider from 'oidc-provider';
import * as jose from 'jose';

const config = JSON.parse(process.argv[2] || '{}');

const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
const jwk = { ...(await jose.exportJWK(privateKey)), kid: `key-${Date.now()}`, alg: 'RS256', use: 'sig' };

function claimsFor(login) {
  const email = login.includes('@') ? login : `${login}@example.test`;
  return {
    sub: login,
    email,
    email_verified: !login.startsWith('unverified'),
    preferred_username: login.split('@')[0],
    name: `Test ${login}`,
  };
}

let provider;
const page = (uid) => `<!doctype html><html><head><title>Test provider</title></head><body>
<h1>Test provider</h1>
<form method="post" action="/interaction/${uid}/login">
<label>Login <input name="login" id="login" autofocus></label>
<button type="submit" id="allow">Continue</button></form>
<form method="post" action="/interaction/${uid}/abort"><button type="submit" id="deny">Cancel</button></form>
</body></html>`;

function readBody(req) {
  return new Promise((resolve, reject) => {
    let data = '';
    req.on('data', (chunk) => { data += chunk; });
    req.on('end', () => resolve(data));
    req.on('error', reject);
  });
}

const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, 'http://x');
    const m = url.pathname.match(/^\/interaction\/([^/]+)(?:\/(login|abort))?$/);
    if (m && req.method === 'GET' && !m[2]) {
      await provider.interactionDetails(req, res);
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(page(m[1]));
      return;
    }
    if (m && req.method === 'POST' && m[2] === 'login') {
      const form = new URLSearchParams(await readBody(req));
      const accountId = form.get('login') || 'alice';
      const details = await provider.interactionDetails(req, res);
      const grant = new provider.Grant({ accountId, clientId: details.params.client_id });
      grant.addOIDCScope(details.params.scope);
      const grantId = await grant.save();
      await provider.interactionFinished(req, res,
        { login: { accountId }, consent: { grantId } }, { mergeWithLastSubmission: false });
      return;
    }
    if (m && req.method === 'POST' && m[2] === 'abort') {
      await readBody(req);
      await provider.interactionFinished(req, res,
        { error: 'access_denied', error_description: 'End-User aborted interaction' },
        { mergeWithLastSubmission: false });
      return;
    }
    if (url.pathname === '/__test/mint' && req.method === 'POST') {
      const claims = JSON.parse(await readBody(req));
      const token = await new jose.SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', kid: jwk.kid, typ: 'JWT' })
        .sign(privateKey);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id_token: token }));
      return;
    }
    provider.callback()(req, res);
  } catch (err) {
    res.writeHead(500, { 'content-type': 'text/plain' });
    res.end(String(err && err.stack || err));
  }
});

server.listen(0, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  provider = new Provider(issuer, {
    clients: config.clients || [],
    jwks: { keys: [jwk] },
    findAccount: async (ctx, id) => ({ accountId: id, claims: async () => claimsFor(id) }),
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'preferred_username'] },
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: false } },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    pkce: { required: (ctx, client) => (config.pkce_clients || []).includes(client.clientId) },
    cookies: { keys: ['atelier-test-cookie-key'] },
  });
  provider.on('server_error', (ctx, err) => console.error('server_error', err));
  console.log(JSON.stringify({ issuer }));
});

process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
