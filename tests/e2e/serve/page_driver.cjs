// Drives the `vlm serve` page in headless Chromium over the DevTools protocol on a pipe (no
// npm package, any Node): uploads IMAGE through the file input (DOM.setFileInputFiles, the
// browser's own upload path), types a question and clicks Ask, waits for the streamed answer,
// screenshots, then searches by text, waits for the grid, screenshots again. Prints the page state
// as one JSON object (answer, results, images decoded, uncaught exceptions).
// Usage: node page_driver.cjs CHROMIUM URL IMAGE QUESTION SEARCH OUT_DIR PROFILE_DIR
const {spawn} = require('child_process');
const fs = require('fs');

const [chromium, url, image, question, search, outDir, profile] = process.argv.slice(2);
const proc = spawn(chromium, ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--hide-scrollbars',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--remote-debugging-pipe',
  '--user-data-dir=' + profile, '--window-size=1100,1300', 'about:blank'], {stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe']});
const toBrowser = proc.stdio[3], fromBrowser = proc.stdio[4];
let nextId = 0, buffer = '';
const pending = new Map(), exceptions = [];
fromBrowser.on('data', data => {
  buffer += data.toString();
  for (let at; (at = buffer.indexOf('\0')) >= 0;) {
    const msg = JSON.parse(buffer.slice(0, at));
    buffer = buffer.slice(at + 1);
    if (msg.id && pending.has(msg.id)) { pending.get(msg.id)(msg); pending.delete(msg.id); }
    if (msg.method === 'Runtime.exceptionThrown') exceptions.push(msg.params.exceptionDetails.exception?.description || msg.params.exceptionDetails.text);
  }
});
const send = (method, params = {}, sessionId) => new Promise((resolve, reject) => {
  const id = ++nextId;
  pending.set(id, msg => msg.error ? reject(new Error(method + ': ' + msg.error.message)) : resolve(msg.result));
  toBrowser.write(JSON.stringify(sessionId ? {id, method, params, sessionId} : {id, method, params}) + '\0');
});
const sleep = ms => new Promise(r => setTimeout(r, ms));

async function main() {
  const {targetId} = await send('Target.createTarget', {url: 'about:blank'});
  const {sessionId} = await send('Target.attachToTarget', {targetId, flatten: true});
  const s = (method, params) => send(method, params, sessionId);
  const js = async expression => (await s('Runtime.evaluate', {expression, returnByValue: true, awaitPromise: true})).result.value;
  const until = async (expression, ms) => {
    for (const end = Date.now() + ms; Date.now() < end; await sleep(100)) if (await js(expression)) return true;
    return false;
  };
  const shoot = async name => fs.writeFileSync(outDir + '/' + name, Buffer.from((await s('Page.captureScreenshot', {format: 'png'})).data, 'base64'));
  await s('Page.enable');
  await s('Runtime.enable');
  await s('DOM.enable');
  await s('Page.navigate', {url});
  const loaded = await until("document.getElementById('model').textContent.startsWith('model ')", 30000);
  const {root} = await s('DOM.getDocument');
  const {nodeId} = await s('DOM.querySelector', {nodeId: root.nodeId, selector: '#file'});
  await s('DOM.setFileInputFiles', {nodeId, files: [image]});
  const previewed = await until("!document.getElementById('preview').hidden && document.getElementById('preview').complete", 10000);
  await js(`document.getElementById('question').value = ${JSON.stringify(question)}; document.getElementById('ask').click(); true`);
  let sawPartial = false;
  for (const end = Date.now() + 60000; Date.now() < end; await sleep(20)) {
    const st = await js("[document.getElementById('answer').textContent.length, document.getElementById('answer').dataset.done || '']");
    if (st[0] > 0 && !st[1]) sawPartial = true;
    if (st[1]) break;
  }
  await shoot('page-answer.png');
  await js(`document.getElementById('search-text').value = ${JSON.stringify(search)}; document.getElementById('search-btn').click(); true`);
  await until("document.getElementById('results').dataset.done === '1'", 30000);
  await sleep(300);
  await shoot('page-search.png');
  const state = await js(`({answer: document.getElementById('answer').textContent,
    done: document.getElementById('answer').dataset.done || '', results: document.querySelectorAll('#results figure').length,
    decoded: [...document.querySelectorAll('#results img')].filter(i => i.complete && i.naturalWidth > 0).length,
    capabilities: [...document.querySelectorAll('#caps .on')].map(x => x.textContent)})`);
  console.log(JSON.stringify({...state, loaded, previewed, saw_partial: sawPartial, exceptions}));
  await send('Browser.close').catch(() => {});
}
main().catch(e => { console.error(String(e.stack || e)); process.exitCode = 1; }).finally(() => setTimeout(() => { proc.kill(); process.exit(); }, 200));
