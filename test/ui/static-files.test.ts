// The status page's files on the admin listener: served without the token (they hold no figures) while the API
// keeps it, gzip when asked, revalidated by ETag, nothing outside src/ui reachable; and the first load's size.

import { readdirSync } from 'node:fs';
import { request } from 'node:http';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { gunzipSync } from 'node:zlib';
import { startAdminBroker, type AdminBroker } from '../helpers/admin.js';
import { UI_DIR } from '../../src/admin/routes/ui.js';

const test = suite('ui: static files');
const TOKEN = 'static-token-0123456789';
/** Issue 19: the first load, gzip, under 150 KB. */
const FIRST_LOAD_MAX_BYTES = 150 * 1024;
let tb: AdminBroker;

test.before(async () => {
  tb = await startAdminBroker((c) => (c.admin.token = TOKEN));
});
test.after(() => tb.stop());

function get(path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(tb.adminUrl + path, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('GET / is the page, without the token, with a policy that allows nothing from elsewhere; the API still wants the token', async () => {
  const r = await get('/');
  assert.is(r.status, 200);
  assert.is(r.headers['content-type'], 'text/html; charset=utf-8');
  assert.match(String(r.headers['content-security-policy']), /default-src 'self'/);
  const html = r.body.toString('utf8');
  assert.match(html, /<script type="module" src="\/ui\/app.js">/);
  assert.not.match(html, /https?:\/\//, 'no CDN or other origin');
  assert.is((await get('/api/v1/status')).status, 401);
  assert.is((await get('/api/v1/events')).status, 401);
  assert.is((await get('/api/v1/status', { authorization: `Bearer ${TOKEN}` })).status, 200);
});

test('files come gzip when asked, plain otherwise, and answer 304 to their ETag', async () => {
  const plain = await get('/ui/app.js');
  assert.is(plain.status, 200);
  assert.is(plain.headers['content-type'], 'text/javascript; charset=utf-8');
  assert.is(plain.headers['content-encoding'], undefined);
  const zipped = await get('/ui/app.js', { 'accept-encoding': 'gzip, br' });
  assert.is(zipped.headers['content-encoding'], 'gzip');
  assert.equal(gunzipSync(zipped.body), plain.body);
  const again = await get('/ui/app.js', { 'if-none-match': String(plain.headers.etag) });
  assert.is(again.status, 304);
  assert.is(again.body.length, 0);
});

test('names outside the flat src/ui listing are 404', async () => {
  for (const path of ['/ui/nope.js', '/ui/..%2Fpackage.json', '/ui/%2e%2e%2fadmin%2fserver.js', '/ui/.hidden.js', '/ui/app.ts']) {
    assert.is((await get(path)).status, 404, path);
  }
});

test('the first load (every file of the page, gzip) is under 150 KB', async () => {
  const files = readdirSync(UI_DIR).filter((f) => /\.(html|js|css)$/.test(f));
  assert.ok(files.includes('index.html') && files.includes('app.js'), `the build copied src/ui: ${files}`);
  let total = 0;
  for (const f of files) {
    const r = await get(f === 'index.html' ? '/' : `/ui/${f}`, { 'accept-encoding': 'gzip' });
    assert.is(r.status, 200, f);
    total += r.body.length;
  }
  console.log(`status page first load: ${files.length} files, ${total} bytes gzip`);
  assert.ok(total < FIRST_LOAD_MAX_BYTES, `${total} bytes`);
});

test.run();
