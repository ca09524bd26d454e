// "Sign in with …" in headless Chromium against a real OpenID provider (the API test
// `oidc::oidc_button_flow_in_headless_chromium` starts `tests/node/oidc_provider.mjs` and
// atelier, then runs this):
//   node oidc.mjs '<json config>'   config: {base, out, chromium, provider_name, login}
// 1. the sign-in page shows the provider's button; clicking it leads to the provider's own
//    page; signing in there comes back to atelier signed in (`GET /api/v1/me` is that person);
// 2. in a fresh browser, declining at the provider comes back to the sign-in page with the
//    "you declined" message and no session.
// Prints one JSON line per step (`{"ev": …}`), `{"ev": "done", …}` last; exits 1 on a failure.
import { chromium } from 'playwright-core';

const config = JSON.parse(process.argv[2] || '{}');
const out = (ev, data = {}) => console.log(JSON.stringify({ ev, ...data }));
const TIMEOUT = 20000;

async function toProvider(page) {
  await page.goto(`${config.base}/#/login`);
  const button = page.locator('a[data-provider="test"]');
  await button.waitFor({ timeout: TIMEOUT });
  const text = (await button.textContent()).trim();
  if (!text.includes(config.provider_name)) throw new Error(`the button says "${text}"`);
  await page.screenshot({ path: `${config.out}/oidc-sign-in.png` });
  await button.click();
  await page.waitForSelector('#login', { timeout: TIMEOUT });
  if (page.url().startsWith(config.base)) throw new Error(`still on atelier: ${page.url()}`);
  out('provider', { url: new URL(page.url()).origin });
}

const me = (page) => page.evaluate(async () => {
  const r = await fetch('/api/v1/me', { credentials: 'same-origin' });
  return { status: r.status, body: r.status === 200 ? await r.json() : null };
});

const browser = await chromium.launch({ executablePath: config.chromium, args: ['--no-sandbox'] });
try {
  // 1. Sign in through the provider.
  const first = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await first.newPage();
  await toProvider(page);
  await page.fill('#login', config.login);
  await page.click('#allow');
  await page.waitForURL((url) => url.toString().startsWith(config.base), { timeout: TIMEOUT });
  await page.waitForFunction(() => !location.hash.startsWith('#/login'), null, { timeout: TIMEOUT });
  const signedIn = await me(page);
  if (signedIn.status !== 200) throw new Error(`not signed in after the provider: ${JSON.stringify(signedIn)}`);
  await page.screenshot({ path: `${config.out}/oidc-signed-in.png` });
  out('signed-in', { username: signedIn.body.username || signedIn.body.user?.username, url: page.url() });
  await first.close();

  // 2. Decline at the provider.
  const second = await browser.newContext({ viewport: { width: 390, height: 844 } });
  const denied = await second.newPage();
  await toProvider(denied);
  await denied.click('#deny');
  await denied.waitForSelector('#oidc-error', { timeout: TIMEOUT });
  const code = await denied.getAttribute('#oidc-error', 'data-code');
  const message = (await denied.textContent('#oidc-error')).trim();
  const after = await me(denied);
  await denied.screenshot({ path: `${config.out}/oidc-declined.png` });
  if (code !== 'access-denied' || after.status !== 401) {
    throw new Error(`declining: code ${code}, /me ${after.status}`);
  }
  out('declined', { code, message });
  await second.close();
} catch (err) {
  out('error', { message: err.message });
  await browser.close();
  process.exit(1);
}
await browser.close();
out('done');
