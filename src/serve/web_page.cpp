// The page at `/` (see web_page.h): plain HTML, CSS and JavaScript in one string, talking to the
// same OpenAI-style endpoints any client uses (fetch + a stream reader for the SSE answer).
#include "serve/web_page.h"

namespace vlm::serve {

const std::string& web_page_html() {
  static const std::string kPage = R"HTML(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>vlm serve</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:15px/1.45 system-ui,sans-serif;max-width:980px;margin:1.5em auto;padding:0 1em;color:#222}
h1{font-size:1.4em;margin:.2em 0}.caps span{display:inline-block;margin:0 .4em .4em 0;padding:.1em .6em;border-radius:1em;background:#eee}
.caps .on{background:#d6f5d6}.caps .off{background:#f5d6d6;text-decoration:line-through}
section{border:1px solid #ddd;border-radius:8px;padding:1em;margin:1em 0}
#drop{border:2px dashed #aaa;border-radius:8px;padding:1em;text-align:center;cursor:pointer;min-height:90px}
#drop.over{background:#f0f7ff}#preview{max-width:224px;max-height:224px;display:block;margin:.5em auto}
input[type=text],input[type=password]{width:70%;padding:.4em}button{padding:.4em 1em}
#answer{white-space:pre-wrap;min-height:2em;background:#fafafa;padding:.6em;border-radius:6px;margin-top:.6em}
#results{display:grid;grid-template-columns:repeat(auto-fill,minmax(140px,1fr));gap:.6em;margin-top:.6em}
#results figure{margin:0;border:1px solid #eee;border-radius:6px;padding:.3em;font-size:.8em}
#results img{width:100%;image-rendering:pixelated}.err{color:#b00}
</style></head><body>
<h1>vlm serve</h1>
<div id="model">loading...</div><div class="caps" id="caps"></div>
<form onsubmit="return false"><label>API key (if the server asks for one) <input id="key" type="password" autocomplete="off"></label></form>
<section id="chat"><h2>Ask about an image</h2>
<div id="drop">Drop an image here or click to pick one<input id="file" type="file" accept="image/*" hidden>
<img id="preview" alt="" hidden></div>
<p><input id="question" type="text" placeholder="Describe this picture."> <button id="ask">Ask</button></p>
<div id="answer"></div></section>
<section id="search"><h2>Search the index</h2>
<p><input id="search-text" type="text" placeholder="a red circle"> <button id="search-btn">Search</button></p>
<div id="results"></div></section>
<script>
const $ = id => document.getElementById(id);
let imageUrl = null;
const headers = () => { const h = {'Content-Type': 'application/json'}; const k = $('key').value; if (k) h.Authorization = 'Bearer ' + k; return h; };
async function loadModel() {
  try {
    const r = await fetch('/v1/models', {headers: headers()});
    if (r.status === 503) { setTimeout(loadModel, 1000); return; }
    const j = await r.json();
    if (!r.ok) { $('model').textContent = j.error.message; return; }
    const m = j.data[0];
    $('model').textContent = 'model ' + m.id + ' - context ' + m.context_length + ' tokens, ' + m.parallel + ' parallel slots' + (m.index_size ? ', index of ' + m.index_size + ' images' : '');
    $('caps').innerHTML = '';
    for (const [k, v] of Object.entries(m.capabilities)) { const s = document.createElement('span'); s.textContent = k; s.className = v ? 'on' : 'off'; $('caps').appendChild(s); }
    $('chat').hidden = !m.capabilities.chat; $('search').hidden = !m.capabilities.search;
  } catch (e) { $('model').textContent = String(e); }
}
function takeFile(f) {
  if (!f) return;
  const reader = new FileReader();
  reader.onload = () => { imageUrl = reader.result; $('preview').src = imageUrl; $('preview').hidden = false; };
  reader.readAsDataURL(f);
}
$('drop').onclick = () => $('file').click();
$('file').onchange = e => takeFile(e.target.files[0]);
$('drop').ondragover = e => { e.preventDefault(); $('drop').classList.add('over'); };
$('drop').ondragleave = () => $('drop').classList.remove('over');
$('drop').ondrop = e => { e.preventDefault(); $('drop').classList.remove('over'); takeFile(e.dataTransfer.files[0]); };
$('ask').onclick = async () => {
  const out = $('answer'); out.textContent = ''; out.className = '';
  const content = [{type: 'text', text: $('question').value}];
  if (imageUrl) content.push({type: 'image_url', image_url: {url: imageUrl}});
  const r = await fetch('/v1/chat/completions', {method: 'POST', headers: headers(),
    body: JSON.stringify({messages: [{role: 'user', content}], stream: true, temperature: 0})});
  if (!r.ok) { out.className = 'err'; out.textContent = (await r.json()).error.message; return; }
  const reader = r.body.getReader(), dec = new TextDecoder(); let buf = '';
  for (;;) {
    const {value, done} = await reader.read(); if (done) break;
    buf += dec.decode(value, {stream: true});
    let i; while ((i = buf.indexOf('\n\n')) >= 0) {
      const ev = buf.slice(0, i); buf = buf.slice(i + 2);
      if (!ev.startsWith('data: ')) continue;
      const data = ev.slice(6); if (data === '[DONE]') { out.dataset.done = '1'; continue; }
      const j = JSON.parse(data);
      if (j.error) { out.className = 'err'; out.textContent += j.error.message; continue; }
      if (j.choices.length && j.choices[0].delta.content) out.textContent += j.choices[0].delta.content;
    }
  }
};
$('search-btn').onclick = async () => {
  const grid = $('results'); grid.innerHTML = '';
  const r = await fetch('/v1/search', {method: 'POST', headers: headers(), body: JSON.stringify({query: $('search-text').value, top_k: 12})});
  const j = await r.json();
  if (!r.ok) { grid.innerHTML = '<p class="err"></p>'; grid.firstChild.textContent = j.error.message; return; }
  for (const hit of j.data) {
    const fig = document.createElement('figure'), img = document.createElement('img'), cap = document.createElement('figcaption');
    cap.textContent = hit.score.toFixed(3) + ' ' + (hit.caption || hit.key);
    const b = await fetch(hit.image_url, {headers: headers()}); img.src = URL.createObjectURL(await b.blob()); img.alt = hit.key;
    fig.append(img, cap); grid.appendChild(fig);
  }
  grid.dataset.done = '1';
};
// A link can fill the page and press its buttons: /#image=URL&ask=TEXT&search=TEXT (the same
// handlers a user's drop and clicks run; the headless browser test drives the page this way).
async function fromFragment() {
  const f = new URLSearchParams(location.hash.slice(1));
  if (f.get('key')) $('key').value = f.get('key');
  if (f.get('image')) {
    const blob = await (await fetch(f.get('image'), {headers: headers()})).blob();
    await new Promise(done => { const r = new FileReader(); r.onload = () => { imageUrl = r.result; $('preview').src = imageUrl; $('preview').hidden = false; done(); }; r.readAsDataURL(blob); });
  }
  if (f.has('ask')) { $('question').value = f.get('ask'); await $('ask').onclick(); }
  if (f.has('search')) { $('search-text').value = f.get('search'); await $('search-btn').onclick(); }
}
loadModel().then(fromFragment);
</script></body></html>
)HTML";
  return kPage;
}

}  // namespace vlm::serve
