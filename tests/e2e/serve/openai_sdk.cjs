// Talks to a running `vlm serve` through the official OpenAI Node SDK (openai@5, installed by
// scripts/setup.d/serve.sh): a chat completion with a base64 image, the same streamed, an
// embeddings request (the SDK asks for base64 and decodes it itself), the model list.
// Usage: node openai_sdk.cjs BASE_URL IMAGE.png MAX_TOKENS; prints one JSON object.
const fs = require('fs');
const OpenAI = require('openai');

async function main() {
  const [baseURL, imagePath, maxTokens] = process.argv.slice(2);
  const client = new OpenAI({baseURL, apiKey: 'unused', maxRetries: 0, timeout: 120000});
  const image = 'data:image/png;base64,' + fs.readFileSync(imagePath).toString('base64');
  const messages = [{role: 'user', content: [{type: 'image_url', image_url: {url: image}}]}];
  const whole = await client.chat.completions.create({model: 'tiny', messages, max_tokens: Number(maxTokens), temperature: 0});
  const stream = await client.chat.completions.create({model: 'tiny', messages, max_tokens: Number(maxTokens),
    temperature: 0, stream: true, stream_options: {include_usage: true}});
  let streamed = '', chunks = 0, finish = null, usage = null;
  for await (const chunk of stream) {
    chunks++;
    if (chunk.usage) usage = chunk.usage;
    if (chunk.choices.length) {
      streamed += chunk.choices[0].delta.content || '';
      if (chunk.choices[0].finish_reason) finish = chunk.choices[0].finish_reason;
    }
  }
  const emb = await client.embeddings.create({model: 'tiny', input: ['a red circle', 'a blue square']});
  const norms = emb.data.map(d => Math.sqrt(d.embedding.reduce((s, v) => s + v * v, 0)));
  const models = await client.models.list();
  let badStatus = null, badCode = null;
  try {
    await client.chat.completions.create({model: 'tiny', messages: [{role: 'user', content: 'hi'}], n: 2});
  } catch (e) {
    badStatus = e.status; badCode = e.code;
  }
  console.log(JSON.stringify({
    content: whole.choices[0].message.content, finish_reason: whole.choices[0].finish_reason, usage: whole.usage,
    streamed, chunks, stream_finish: finish, stream_usage: usage,
    embeddings: emb.data.length, dims: emb.data[0].embedding.length, norms,
    models: models.data.map(m => m.id), bad_status: badStatus, bad_code: badCode,
  }));
}
main().catch(e => { console.error(String(e && e.stack || e)); process.exit(1); });
