// The sign-in page's "Sign in with …" button in headless Chromium, against the test OpenID
// provider (tests/node/oidc_provider.mjs, started by the Rust test):
//   node oidc.mjs '<json config>'   config: {base, chromium, provider: "test"}
// Signs in as "grace" through the provider and checks the app is signed in; then declines at
// the provider and checks the sign-in page explains it. Prints JSON lines; the last is
// {"ev":"done"} on success.
import { chromium } from 'playwright-core';

const config = JSON.parse(process.argv[2]);
const out = (ev, data = {}) => console.log(JSON.stringify({ ev, ...data }));

const browser = await chromium.launch({
  executablePath: config.chromium,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
});
try {
  // Sign in through the provider.
  let ctx = await browser.newContext();
  let page = await ctx.newPage();
  await page.goto(`${config.base}/#/login`);
  const button = page.locator(`a[data-provider="${config.provider}"]`);
  await button.waitFor({ timeout: 15000 });
  out('button', { text: (await button.textContent()).trim() });
  await button.click();
  await page.locator('#login').waitFor({ timeout: 15000 });
  await page.fill('#login', 'grace');
  await page.click('#allow');
  await page.waitForURL((url) => url.toString().startsWith(config.base), { timeout: 15000 });
  await page.waitForSelector('body.signed-in', { timeout: 15000 });
  const me = await page.evaluate(async () => (await fetch('/api/v1/me')).json());
  out('signed-in', { username: me.username, page: await page.evaluate(() => document.body.dataset.page) });
  await ctx.close();

  // Decline at the provider: back on the sign-in page with the reason.
  ctx = await browser.newContext();
  page = await ctx.newPage();
  await page.goto(`${config.base}/#/login`);
  await page.locator(`a[data-provider="${config.provider}"]`).click();
  await page.locator('#deny').waitFor({ timeout: 15000 });
  await page.click('#deny');
  const error = page.locator('#oidc-error');
  await error.waitFor({ timeout: 15000 });
  out('declined', { code: await error.getAttribute('data-code'), text: (await error.textContent()).trim() });
  await ctx.close();
  out('done');
} catch (err) {
  out('error', { message: err.message });
  process.exitCode = 1;
} finally {
  await browser.close();
}
