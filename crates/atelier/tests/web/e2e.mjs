// atelier's web app end to end, in headless Chromium (Debian's `chromium`, driven by
// playwright-core), at 1280×800 and 390×844. Spawned by the Rust API tests (tests/api/web.rs):
//   node e2e.mjs '<json config>'   config: {base, out, chromium, photo, image, video, flows?}
// (`flows`: a comma-separated subset of `core,studio` to run; all when unset.)
// Prints one JSON object per line; exits 0 after {"ev":"done"}. Fails on: a request to any
// origin but atelier's, a page error or CSP violation, a serious/critical axe-core violation,
// horizontal overflow at 360 px, or any flow that does not complete.
import { readFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const config = JSON.parse(process.argv[2] ?? '{}');
const base = config.base;
const origin = new URL(base).origin;
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
mkdirSync(config.out, { recursive: true });

function out(ev, fields = {}) {
  process.stdout.write(JSON.stringify({ ev, ...fields }) + '\n');
}
function fail(message) {
  throw new Error(message);
}
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const suffix = Math.random().toString(36).slice(2, 8);
const problems = [];
const flows = config.flows ? config.flows.split(',') : null;
const want = (flow) => !flows || flows.includes(flow);

const VIEWPORTS = [
  { name: 'desktop', viewport: { width: 1280, height: 800 } },
  { name: 'phone', viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 },
];

async function context(browser, vp, lang = 'en-US') {
  const ctx = await browser.newContext({
    viewport: vp.viewport, isMobile: vp.isMobile, hasTouch: vp.hasTouch, deviceScaleFactor: vp.deviceScaleFactor || 1,
    locale: lang, permissions: ['clipboard-read', 'clipboard-write'],
  });
  if (config.webDir) await serveFromDisk(ctx);
  const page = await ctx.newPage();
  page.on('request', (request) => {
    const url = request.url();
    if (url.startsWith('data:') || url.startsWith('blob:')) return;
    const u = new URL(url);
    const own = u.origin === origin || (u.protocol === 'ws:' && u.host === new URL(base).host);
    if (!own) problems.push(`request to another origin: ${url}`);
  });
  page.on('websocket', (ws) => {
    if (new URL(ws.url()).host !== new URL(base).host) problems.push(`websocket to another origin: ${ws.url()}`);
  });
  page.on('pageerror', (err) => problems.push(`page error (${vp.name}): ${err.message}`));
  page.on('console', (msg) => {
    const text = msg.text();
    if (msg.type() === 'error' && /Content Security Policy|Refused to/i.test(text)) problems.push(`CSP (${vp.name}): ${text}`);
    else if (msg.type() === 'error' || msg.type() === 'warning') out('console', { viewport: vp.name, type: msg.type(), text: text.slice(0, 300) });
  });
  return { ctx, page };
}

const TYPES = { js: 'text/javascript', css: 'text/css', html: 'text/html', svg: 'image/svg+xml' };

/** Development only (`webDir` set): the app's files from disk instead of the binary's. */
async function serveFromDisk(ctx) {
  const csp = readFileSync(new URL('../../../server/src/web.rs', import.meta.url), 'utf8')
    .match(/CONTENT_SECURITY_POLICY: &str = "([^;]*;[\s\S]*?)";/)[1].replace(/\s*\\\n\s*/g, ' ');
  const serve = async (route, file) => {
    try {
      const body = readFileSync(`${config.webDir}/${file}`);
      await route.fulfill({ body, headers: { 'content-type': TYPES[file.split('.').pop()] || 'text/plain', 'content-security-policy': csp } });
    } catch {
      await route.fulfill({ status: 404, body: '' });
    }
  };
  await ctx.route((url) => url.origin === origin && (url.pathname === '/' || url.pathname.startsWith('/assets/')), (route) => {
    const path = new URL(route.request().url()).pathname;
    return serve(route, path === '/' ? 'index.html' : path.slice('/assets/'.length));
  });
}

/** Screenshot, axe-core and the 360-px overflow check of the page as it is now. */
async function check(page, vp, name) {
  await page.waitForLoadState('networkidle').catch(() => {});
  await page.evaluate(() => window.scrollTo(0, 0));
  await sleep(150);
  const file = `${config.out}/${name}-${vp.name}.png`;
  await page.screenshot({ path: file, fullPage: true });
  await page.evaluate(axeSource);
  const result = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
  });
  const serious = result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  for (const v of serious) problems.push(`axe ${v.impact} on ${name} (${vp.name}): ${v.id} — ${v.help} at ${v.nodes.join(', ')}`);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  if (overflow > 0) problems.push(`horizontal overflow of ${overflow}px on ${name} (${vp.name})`);
  if (vp.name === 'phone') {
    const size = page.viewportSize();
    for (const width of [size.width, 360]) {
      await page.setViewportSize({ width, height: size.height });
      await sleep(100);
      const over = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      if (over > 0) problems.push(`horizontal overflow of ${over}px on ${name} at ${width}px`);
    }
    await page.setViewportSize(size);
  }
  out('page', { name, viewport: vp.name, screenshot: file, axe_minor: result.length - serious.length });
}

async function go(page, hash) {
  await page.goto(`${base}/${hash}`);
  await page.waitForSelector('main h1');
}

async function signUp(page, vp, username, role, shoot) {
  await go(page, '#/login');
  if (shoot) await check(page, vp, 'login');
  await page.click('a[href="#/signup"]');
  await page.waitForSelector('form select[name="type"]');
  if (shoot) await check(page, vp, 'signup');
  await page.fill('input[name="username"]', username);
  await page.fill('input[name="password"]', 'correct horse battery');
  await page.selectOption('select[name="type"]', role);
  await page.click('form button[type="submit"]');
  await page.waitForURL(/#\/family/);
  await page.waitForSelector('input[name="family-name"], #family-code');
}

/** Reads the RGBA of the shared canvas at canvas coordinates. */
function pixel(page, x, y) {
  return page.evaluate(([px, py]) => {
    const c = document.getElementById('board');
    return [...c.getContext('2d').getImageData(px, py, 1, 1).data];
  }, [x, y]);
}
const inked = (rgba) => rgba[0] < 200 || rgba[1] < 200 || rgba[2] < 200;

async function drawStroke(page, points) {
  const box = await page.locator('#board').boundingBox();
  const size = await page.evaluate(() => document.getElementById('board').width);
  const toScreen = ([x, y]) => [box.x + (x / size) * box.width, box.y + (y / size) * box.height];
  const [sx, sy] = toScreen(points[0]);
  await page.mouse.move(sx, sy);
  await page.mouse.down();
  for (const p of points.slice(1)) {
    const [x, y] = toScreen(p);
    await page.mouse.move(x, y, { steps: 6 });
  }
  await page.mouse.up();
}

/** The same with a finger: CDP touch events (pointerType `touch`), on touch viewports. */
async function drawTouch(page, points) {
  const box = await page.locator('#board').boundingBox();
  const size = await page.evaluate(() => document.getElementById('board').width);
  const at = ([x, y]) => ({ x: box.x + (x / size) * box.width, y: box.y + (y / size) * box.height });
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: [at(points[0])] });
  for (let i = 1; i < points.length; i++) {
    for (let k = 1; k <= 6; k++) {
      const [x0, y0] = points[i - 1];
      const [x1, y1] = points[i];
      await cdp.send('Input.dispatchTouchEvent', { type: 'touchMove', touchPoints: [at([x0 + ((x1 - x0) * k) / 6, y0 + ((y1 - y0) * k) / 6])] });
    }
  }
  await cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
  await cdp.detach();
}

function circle(cx, cy, r, n = 24) {
  return Array.from({ length: n + 1 }, (_, i) => [cx + r * Math.cos((i / n) * 2 * Math.PI), cy + r * Math.sin((i / n) * 2 * Math.PI)]);
}

async function waitFor(page, fn, arg, ms, what) {
  try {
    await page.waitForFunction(fn, arg, { timeout: ms, polling: 200 });
  } catch {
    fail(`timed out: ${what}`);
  }
}

async function scenario(browser, vp) {
  const t0 = Date.now();
  const a = await context(browser, vp);
  const b = await context(browser, vp);
  const alice = `alice_${vp.name}_${suffix}`;
  const bob = `bob_${vp.name}_${suffix}`;

  // 1. Sign up two people.
  await signUp(a.page, vp, alice, 'Parent', true);
  await check(a.page, vp, 'family-none');
  await signUp(b.page, vp, bob, 'Child', false);
  out('signed-up', { viewport: vp.name });
  if (want('core')) await core(a, b, vp);
  if (want('studio')) await studioFlow(a, vp);
  if (want('core')) await finale(a, b, vp);

  await a.ctx.close();
  await b.ctx.close();
  out('viewport-done', { viewport: vp.name, seconds: Math.round((Date.now() - t0) / 1000) });
}

async function core(a, b, vp) {
  // 2. A family, joined with its code.
  await a.page.fill('input[name="family-name"]', 'The Testers');
  await a.page.click('form:has(input[name="family-name"]) button[type="submit"]');
  const code = (await a.page.locator('#family-code').textContent()).trim();
  if (!/^[A-Z0-9]{12}$/.test(code)) fail(`unexpected family code ${code}`);
  await b.page.fill('input[name="invitation-code"]', code.toLowerCase());
  await b.page.click('form:has(input[name="invitation-code"]) button[type="submit"]');
  await b.page.waitForSelector('#members li:nth-child(2)');
  await a.page.reload();
  await a.page.waitForSelector('#members li:nth-child(2) .member-remove');
  await check(a.page, vp, 'family');
  out('family', { viewport: vp.name, code });

  // 3. A drawing room in two contexts: presence, start, live strokes, catch-up after reload.
  await go(a.page, '#/gallery');
  await check(a.page, vp, 'gallery-empty');
  await a.page.click('#new-drawing');
  await a.page.waitForURL(/#\/room\/\d+/);
  const roomId = a.page.url().split('/').pop();
  await a.page.waitForSelector('#start-drawing');
  await go(b.page, '#/gallery');
  await b.page.click(`a[href="#/room/${roomId}"]`);
  await b.page.waitForSelector('#participants');
  await a.page.waitForSelector(`#participants li:nth-child(2)`);
  await check(a.page, vp, 'room-waiting');
  await a.page.click('#start-drawing');
  await a.page.waitForSelector('#board');
  await b.page.waitForSelector('#board', { timeout: 5000 });
  await a.page.waitForSelector('#conn[data-state="connected"]');
  await b.page.waitForSelector('#conn[data-state="connected"]');
  // A figure: head, body, arms, legs (one connected shape for the animation).
  await a.page.click('button[aria-label="Thick line"]');
  const body = [[512, 330], [512, 470], [512, 620]];
  await drawStroke(a.page, body);
  const started = Date.now();
  const probe = [512, 480];
  await waitFor(b.page, ([x, y]) => {
    const d = document.getElementById('board').getContext('2d').getImageData(x, y, 1, 1).data;
    return d[0] < 200 || d[1] < 200 || d[2] < 200;
  }, probe, 1000, 'the stroke drawn in one context appears in the other within a second');
  out('live-stroke', { viewport: vp.name, ms: Date.now() - started });
  await drawStroke(a.page, circle(512, 260, 70));
  await drawStroke(a.page, [[380, 430], [512, 410], [644, 430]]);
  const legs = vp.hasTouch ? drawTouch : drawStroke;
  await legs(b.page, [[512, 620], [450, 720], [420, 820]]);
  await legs(b.page, [[512, 620], [574, 720], [604, 820]]);
  // A stroke undone by its author disappears for everyone.
  await drawStroke(a.page, [[150, 150], [250, 150]]);
  await a.page.click('#undo');
  await sleep(400);
  await b.page.reload();
  await b.page.waitForSelector('#board');
  await waitFor(b.page, ([x, y]) => {
    const d = document.getElementById('board').getContext('2d').getImageData(x, y, 1, 1).data;
    return d[0] < 200;
  }, [512, 190], 3000, 'the drawing caught up after a reload');
  if (inked(await pixel(b.page, 200, 150))) fail('an undone stroke is still drawn after catch-up');
  if (!inked(await pixel(b.page, 512, 480))) fail('catch-up lost the body stroke');
  if (!inked(await pixel(a.page, 481, 670))) fail('a stroke of the second person did not reach the first');
  await check(a.page, vp, 'room');
  await check(b.page, vp, 'room-guest');
  out('room', { viewport: vp.name, room: roomId });

  // 4. Submit; the animation plays in the gallery.
  await a.page.click('#submit-drawing');
  await a.page.fill('#drawing-title', 'Our friend');
  await a.page.click('#confirm-submit');
  await a.page.waitForURL(/#\/gallery/);
  const deadline = Date.now() + 90000;
  while (!(await a.page.locator(`article[data-drawing="${roomId}"] img[data-kind="gif"]`).count())) {
    if (Date.now() > deadline) fail('the animation did not appear in the gallery');
    await sleep(1500);
    await a.page.reload();
    await a.page.waitForSelector('#gallery-grid');
  }
  await a.page.waitForFunction((id) => {
    const img = document.querySelector(`article[data-drawing="${id}"] img`);
    return img && img.complete && img.naturalWidth > 0;
  }, roomId, { timeout: 10000 });
  await check(a.page, vp, 'gallery');
  out('gallery', { viewport: vp.name });

  // 5. The animation: edit a joint, pick a motion, re-animate.
  await a.page.click(`article[data-drawing="${roomId}"] a[href^="#/animation/"]`);
  await a.page.waitForSelector('#anim-player video, #anim-player img', { timeout: 30000 });
  await a.page.waitForSelector('#joints circle.joint', { timeout: 15000 });
  const firstJob = a.page.url().split('/').pop();
  const joint = a.page.locator('#joints circle.joint').nth(8);
  const jb = await joint.boundingBox();
  await a.page.mouse.move(jb.x + jb.width / 2, jb.y + jb.height / 2);
  await a.page.mouse.down();
  await a.page.mouse.move(jb.x + jb.width / 2 + 12, jb.y + jb.height / 2 + 6, { steps: 4 });
  await a.page.mouse.up();
  const moved = await joint.getAttribute('cx');
  await a.page.locator('#joints circle.joint').nth(2).focus();
  await a.page.keyboard.press('ArrowLeft');
  await check(a.page, vp, 'animation');
  await a.page.selectOption('#motion', 'wave');
  await a.page.click('#reanimate');
  await a.page.waitForURL((url) => url.hash.startsWith('#/animation/') && !url.hash.endsWith(firstJob));
  await a.page.waitForSelector('#anim-player video, #anim-player img', { timeout: 60000 });
  await a.page.waitForSelector('#anim-downloads a', { timeout: 10000 });
  const params = await a.page.evaluate(async (id) => (await (await fetch(`/api/v1/jobs/${id}`)).json()).params, a.page.url().split('/').pop());
  if (params.motion !== 'wave' || !params.joints) fail(`re-animation did not carry the edits: ${JSON.stringify(params).slice(0, 200)}`);
  out('reanimated', { viewport: vp.name, cx: moved });

  // 6. A 3D photo: upload, live progress, the video and the glTF viewer.
  await go(a.page, '#/photos');
  await a.page.waitForSelector('#photo-list .empty');
  await check(a.page, vp, 'photos-empty');
  await a.page.setInputFiles('#photo-file', config.photo);
  await a.page.selectOption('#camera-path', 'swing');
  await a.page.click('#make-3d');
  await a.page.waitForSelector('#photo-list .photo-item');
  await a.page.waitForSelector('#photo-list .photo-item video', { timeout: 120000 });
  await waitFor(a.page, () => document.querySelector('#photo-list video').readyState >= 2, null, 20000, 'the 3D video plays');
  await a.page.click('#photo-list .view-3d');
  await a.page.waitForSelector('#photo-list .viewer[data-loaded="true"]', { timeout: 30000 });
  await check(a.page, vp, 'photos');
  out('photo3d', { viewport: vp.name });

  // 7. Classify and detect.
  await go(a.page, '#/playground');
  await check(a.page, vp, 'playground-empty');
  await a.page.setInputFiles('#play-file', config.image);
  await a.page.click('#classify');
  await a.page.waitForSelector('#classify-result .answer, #classify-result .error-text', { timeout: 120000 });
  const classText = await a.page.locator('#classify-result').textContent();
  if (await a.page.locator('#classify-result .error-text').count()) fail(`classify failed: ${classText}`);
  await a.page.selectOption('#cascade', 'frontalcatface');
  await a.page.click('#detect');
  await a.page.waitForSelector('#detect-result .answer, #detect-result .error-text', { timeout: 30000 });
  if (await a.page.locator('#detect-result .error-text').count()) fail(`detect failed: ${await a.page.locator('#detect-result').textContent()}`);
  const boxes = await a.page.locator('svg.boxes rect').count();
  await check(a.page, vp, 'playground');
  out('playground', { viewport: vp.name, class: classText.slice(0, 60), boxes });

  // 8. My jobs: cancel a long job.
  const jobId = await a.page.evaluate(async () => {
    const c = document.createElement('canvas');
    c.width = 320; c.height = 240;
    const g = c.getContext('2d');
    g.fillStyle = '#88aacc'; g.fillRect(0, 0, 320, 240); g.fillStyle = '#335'; g.fillRect(100, 60, 120, 120);
    const blob = await new Promise((r) => c.toBlob(r, 'image/png'));
    const f = new FormData();
    f.append('image', blob, 'long.png');
    f.append('duration', '20'); f.append('fps', '60'); f.append('max_side', '1024'); f.append('formats', 'mp4,gif,glb');
    const r = await fetch('/api/v1/photo3d', { method: 'POST', body: f, headers: { 'X-Atelier-CSRF': '1' } });
    const v = await r.json();
    return (v.job || v).id;
  });
  await go(b.page, '#/jobs');
  await check(b.page, vp, 'jobs-empty');
  await go(a.page, '#/jobs');
  await a.page.waitForSelector(`li[data-job="${jobId}"] .job-cancel`);
  await a.page.click(`li[data-job="${jobId}"] .job-cancel`);
  await a.page.waitForSelector(`li[data-job="${jobId}"] .status-canceled`, { timeout: 15000 });
  await check(a.page, vp, 'jobs');
  out('canceled', { viewport: vp.name, job: jobId });
}

async function finale(a, b, vp) {
  // 10. Japanese (persisted), then sign out.
  await go(a.page, '#/studio');
  await a.page.selectOption('#lang-select', 'ja');
  await a.page.waitForFunction(() => document.documentElement.lang === 'ja' && document.querySelector('.nav').textContent.includes('ギャラリー'));
  await go(a.page, '#/photos');
  await a.page.reload();
  await a.page.waitForFunction(() => document.querySelector('main h1')?.textContent === '3D写真');
  await check(a.page, vp, 'photos-ja');
  await go(a.page, '#/gallery');
  await check(a.page, vp, 'gallery-ja');
  await go(a.page, '#/playground');
  await check(a.page, vp, 'playground-ja');
  await go(b.page, '#/family');
  await b.page.selectOption('#lang-select', 'ja');
  await b.page.waitForFunction(() => document.querySelector('main h1')?.textContent);
  await check(b.page, vp, 'family-ja');
  // The second person leaves the family (confirmed in a dialog).
  await b.page.click('#leave-family');
  await b.page.click('dialog .btn-danger');
  await b.page.waitForSelector('input[name="invitation-code"]');
  await a.page.click('#logout');
  await a.page.waitForURL(/#\/login/);
  await a.page.waitForFunction(() => document.querySelector('main h1')?.textContent === 'おかえりなさい');
  await check(a.page, vp, 'login-ja');
  out('japanese', { viewport: vp.name });
}

/** The overlay rectangle of the (only) track box on the current frame, in frame pixels. */
async function trackBox(page) {
  return page.evaluate(() => {
    const g = document.querySelector('#ann-overlay g.ann-box[data-source="track"]');
    if (!g) return null;
    const r = g.querySelector('rect.ann-rect');
    return { keyframe: g.dataset.keyframe === 'true', x: Number(r.getAttribute('x')), y: Number(r.getAttribute('y')), w: Number(r.getAttribute('width')) };
  });
}

async function toFrame(page, n) {
  await waitFor(page, (want) => {
    const img = document.getElementById('ann-frame');
    return img && img.dataset.frame === String(want) && img.complete && img.naturalWidth > 0
      && document.getElementById('ann-scrub').value === String(want);
  }, n, 10000, `frame ${n} is shown`);
  await sleep(300);
}

// 9. The detector studio: a project with two labels, a video uploaded and imported, a track
// drawn and moved in the annotation tool (a key frame), the interpolated frame between, a
// training followed live, and the detector page.
async function studioFlow(a, vp) {
  const page = a.page;
  await go(page, '#/studio');
  await page.waitForSelector('#project-list .empty, #project-list li[data-project]');
  await check(page, vp, 'studio');
  await page.fill('#project-name', `Shapes ${vp.name}`);
  await page.click('#create-project');
  await page.waitForURL(/#\/studio\/\d+/);
  const pid = page.url().split('/').pop();
  await page.waitForSelector('#label-name');
  await page.fill('#label-name', 'square');
  await page.click('#add-label');
  await page.waitForSelector('#label-list li[data-label]');
  await page.fill('#label-name', 'circle');
  await page.fill('#label-colour', '#1971c2');
  await page.click('#add-label');
  await page.waitForSelector('#label-list li[data-label]:nth-child(2)');
  // A duplicate label is refused with the server's sentence.
  await page.fill('#label-name', 'circle');
  await page.click('#add-label');
  await page.waitForSelector('.label-form ~ .error-text:not([hidden])');
  await page.fill('#label-name', '');
  let sawUpload = false;
  page.on('request', (r) => { if (r.url().endsWith('/api/v1/uploads') && r.method() === 'POST') sawUpload = true; });
  await page.setInputFiles('#media-file', config.video);
  await page.waitForSelector('#media-list li[data-media]', { timeout: 30000 });
  await page.waitForSelector('#media-list li[data-status="ready"] .thumb img', { timeout: 120000 });
  if (!sawUpload) fail('the studio upload did not go to /api/v1/uploads');
  await waitFor(page, () => { const i = document.querySelector('#media-list .thumb img'); return i && i.complete && i.naturalWidth > 0; }, null, 10000, 'the media thumbnail loads');
  await check(page, vp, 'studio-project');
  out('studio-imported', { viewport: vp.name, project: pid });

  // The annotation tool: draw a track on frame 0.
  await page.click('#media-list li[data-status="ready"] .annotate-link');
  await page.waitForURL(/#\/annotate\/\d+/);
  await page.waitForSelector('#ann-overlay');
  await toFrame(page, 0);
  await check(page, vp, 'annotate-empty');
  const box = await page.locator('#ann-overlay').boundingBox();
  const at = (fx, fy) => [box.x + fx * box.width, box.y + fy * box.height];
  await page.locator('#ann-overlay').focus();
  await page.keyboard.press('n');
  const [sx, sy] = at(0.2, 0.25);
  const [ex, ey] = at(0.45, 0.55);
  await page.mouse.move(sx, sy);
  await page.mouse.down();
  await page.mouse.move(ex, ey, { steps: 8 });
  await page.mouse.up();
  await page.waitForSelector('#ann-overlay g.ann-box[data-source="track"][data-keyframe="true"]', { timeout: 10000 });
  const first = await trackBox(page);
  // Four frames on with F; the box is held there (interpolated), then moved: a key frame.
  for (let i = 0; i < 4; i++) {
    await page.keyboard.press('f');
    await sleep(120);
  }
  await toFrame(page, 4);
  const held = await trackBox(page);
  if (!held || held.keyframe) fail(`frame 4 should show the track's held box, not a key frame: ${JSON.stringify(held)}`);
  const rect = await page.locator('#ann-overlay g.ann-box[data-source="track"] rect.ann-rect').boundingBox();
  await page.mouse.move(rect.x + rect.width / 2, rect.y + rect.height / 2);
  await page.mouse.down();
  await page.mouse.move(rect.x + rect.width / 2 + box.width * 0.25, rect.y + rect.height / 2 + box.height * 0.1, { steps: 8 });
  await page.mouse.up();
  await page.waitForSelector('#ann-overlay g.ann-box[data-source="track"][data-keyframe="true"]', { timeout: 10000 });
  const moved = await trackBox(page);
  if (!(moved.x > first.x + 40)) fail(`the box did not move: ${JSON.stringify({ first, moved })}`);
  await waitFor(page, () => document.querySelectorAll('#ann-marks .ann-mark.key').length >= 2, null, 5000, 'two key frames on the timeline');
  // Back two frames with D: the interpolated box lies between the two key frames.
  await page.keyboard.press('d');
  await sleep(120);
  await page.keyboard.press('d');
  await toFrame(page, 2);
  const mid = await trackBox(page);
  if (!mid || mid.keyframe || !(mid.x > first.x + 5 && mid.x < moved.x - 5)) fail(`frame 2 should show an interpolated box between the key frames: ${JSON.stringify({ first, mid, moved })}`);
  await check(page, vp, 'annotate');
  // Zoomed in twice (+), the frame is larger than its viewport and pans; - brings it back.
  await page.keyboard.press('+');
  await page.keyboard.press('+');
  await waitFor(page, () => document.querySelector('.ann-stage').offsetWidth > document.querySelector('.ann-viewport').clientWidth * 1.5, null, 3000, 'the frame zooms in');
  await page.evaluate(() => { const v = document.querySelector('.ann-viewport'); v.scrollLeft = v.scrollWidth / 4; v.scrollTop = v.scrollHeight / 4; });
  await check(page, vp, 'annotate-zoomed');
  await page.keyboard.press('-');
  await page.keyboard.press('-');
  await waitFor(page, () => document.querySelector('.ann-stage').offsetWidth <= document.querySelector('.ann-viewport').clientWidth, null, 3000, 'the frame zooms out');
  // E / R jump between key frames; Ctrl+Z undoes the move, Ctrl+Shift+Z redoes it.
  await page.keyboard.press('r');
  await toFrame(page, 4);
  await page.keyboard.press('Control+z');
  await waitFor(page, (x) => { const r = document.querySelector('#ann-overlay g.ann-box[data-source="track"] rect'); return r && Math.abs(Number(r.getAttribute('x')) - x) < 1; }, first.x, 5000, 'undo brings the box back');
  await page.keyboard.press('Control+Shift+z');
  await waitFor(page, (x) => { const r = document.querySelector('#ann-overlay g.ann-box[data-source="track"] rect'); return r && Math.abs(Number(r.getAttribute('x')) - x) < 1; }, moved.x, 5000, 'redo moves it again');
  // A change made meanwhile elsewhere: the next edit here is refused (409), reloaded and said.
  const mid4 = page.url().split('/').pop();
  await page.evaluate(async (m) => {
    const doc = await (await fetch(`/api/v1/studio/media/${m}/annotations`)).json();
    const labels = (await (await fetch(`/api/v1/studio/media/${m}`)).json()).project_id;
    const project = await (await fetch(`/api/v1/studio/projects/${labels}`)).json();
    await fetch(`/api/v1/studio/media/${m}/annotations`, {
      method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Atelier-CSRF': '1' },
      body: JSON.stringify({ base_version: doc.version, ops: [{ op: 'put_shape', shape: { frame: 4, label_id: project.labels[1].id, box: [200, 150, 260, 200], occluded: false } }] }),
    });
  }, mid4);
  await page.keyboard.press('o');
  await page.waitForSelector('.toast-error:has-text("changed these annotations")', { timeout: 5000 });
  await page.waitForSelector('#ann-objects li[data-source="shape"]', { timeout: 5000 });
  // O marks the track outside from here; O again brings it back. Q: occluded.
  await page.keyboard.press('o');
  await page.waitForSelector('#ann-overlay g.ann-box.outside[data-source="track"]', { timeout: 5000 });
  await page.keyboard.press('o');
  await page.waitForSelector('#ann-overlay g.ann-box[data-source="track"]:not(.outside)', { timeout: 5000 });
  await page.keyboard.press('q');
  await page.waitForSelector('#ann-overlay g.ann-box.occluded[data-source="track"]', { timeout: 5000 });
  // The shape from elsewhere: selected in the list, deleted with Delete.
  await page.click('#ann-objects li[data-source="shape"] .ann-obj-pick');
  await page.keyboard.press('Delete');
  await waitFor(page, () => !document.querySelector('#ann-objects li[data-source="shape"]'), null, 5000, 'Delete removes the shape');
  out('studio-annotated', { viewport: vp.name, first: first.x, interpolated: mid.x, moved: moved.x });

  // Training, followed live on the project page.
  await page.click(`a[href="#/studio/${pid}"]`);
  await page.waitForSelector('#start-training');
  await page.selectOption('#train-budget', '15');
  await page.click('#start-training');
  await page.waitForSelector('#train-chart path.chart-line', { timeout: 120000 });
  await check(page, vp, 'studio-training');
  await page.waitForSelector('#detector-list li.detector-item a', { timeout: 120000 });
  out('studio-trained', { viewport: vp.name });
  await page.click('#detector-list li.detector-item a');
  await page.waitForSelector('#det-map50');
  await page.setInputFiles('#det-file', config.image);
  await page.click('#det-run');
  await page.waitForSelector('#det-result .answer, #det-result .error-text', { timeout: 30000 });
  if (await page.locator('#det-result .error-text').count()) fail(`studio detect failed: ${await page.locator('#det-result').textContent()}`);
  await check(page, vp, 'detector');
  out('studio-detector', { viewport: vp.name });
  // The projects list: renamed in a dialog.
  await go(page, '#/studio');
  await page.waitForSelector(`#project-list li[data-project="${pid}"]`);
  await page.click(`#project-list li[data-project="${pid}"] button:has-text("Rename")`);
  await page.fill('dialog input', `Shapes ${vp.name} renamed`);
  await page.click('dialog button[type="submit"]');
  await page.waitForSelector(`#project-list li[data-project="${pid}"] .project-link:has-text("renamed")`);
  await check(page, vp, 'studio-list');
  // The project page in Japanese, then back to English for the steps after.
  await go(page, `#/studio/${pid}`);
  await page.selectOption('#lang-select', 'ja');
  await page.waitForFunction(() => document.documentElement.lang === 'ja' && document.querySelector('#training-title')?.textContent === '学習');
  await page.waitForSelector('#detector-list li.detector-item');
  await check(page, vp, 'studio-project-ja');
  await page.selectOption('#lang-select', 'en');
  await page.waitForFunction(() => document.documentElement.lang === 'en');
}

const browser = await chromium.launch({
  executablePath: config.chromium,
  args: ['--no-sandbox', '--enable-unsafe-swiftshader', '--use-angle=swiftshader', '--ignore-gpu-blocklist',
    // Pages fulfilled from disk (webDir) count as public, and may not reach 127.0.0.1 otherwise.
    ...(config.webDir ? ['--disable-features=LocalNetworkAccessChecks'] : [])],
});
try {
  for (const vp of VIEWPORTS) {
    if (config.only && config.only !== vp.name) continue;
    await scenario(browser, vp);
  }
} catch (err) {
  out('error', { message: err.message, stack: String(err.stack).split('\n').slice(0, 6).join(' | ') });
  for (const p of problems) out('problem', { message: p });
  await browser.close();
  process.exit(1);
}
await browser.close();
for (const p of problems) out('problem', { message: p });
if (problems.length) process.exit(1);
out('done');
