// Hugging Face tokenizers' (Rust, via @anush008/tokenizers) encode throughput on the text that
// bench_tokenizer_throughput writes with --text-out, line by line without special tokens, one
// thread (RAYON_NUM_THREADS=1), for Qwen3's tokenizer.json and the BERT-uncased tokenizer
// make_fixtures.mjs builds. MB/s by process CPU time and by wall time; prints one JSON line.
// Usage: RAYON_NUM_THREADS=1 node bench_hf.mjs /tmp/prose.txt [qwen3 tokenizer.json] [bert tokenizer.json]
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import { fileURLToPath } from "node:url";
import { Tokenizer } from "@anush008/tokenizers";

if (process.env.RAYON_NUM_THREADS !== "1") {
  console.error("set RAYON_NUM_THREADS=1 so HF encodes on one thread");
  process.exit(2);
}
const here = path.dirname(fileURLToPath(import.meta.url));
const fixtures = path.resolve(here, "../../tests/fixtures/tokenizers");
const lines = fs.readFileSync(process.argv[2], "utf8").split("\n").filter((l) => l.length > 0);
const bytes = lines.reduce((n, l) => n + Buffer.byteLength(l), 0);

function tokenizerFile(arg, make) {
  if (arg) return arg;
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "vlm-hf-")), "tokenizer.json");
  fs.writeFileSync(file, make());
  return file;
}
const qwen3 = tokenizerFile(process.argv[3], () => zlib.gunzipSync(fs.readFileSync(path.join(fixtures, "qwen3/tokenizer.json.gz"))));
// The same document as make_fixtures.mjs' bertTokenizerJson (BertConverter of transformers).
const bert = tokenizerFile(process.argv[4], () => {
  const tokens = fs.readFileSync(path.join(fixtures, "bert-uncased/vocab.txt"), "utf8").split("\n").slice(0, -1);
  const vocab = {};
  tokens.forEach((t, i) => (vocab[t] = i));
  const sp = (id, type_id) => ({ SpecialToken: { id, type_id } });
  const sq = (id, type_id) => ({ Sequence: { id, type_id } });
  return JSON.stringify({
    version: "1.0", truncation: null, padding: null,
    added_tokens: ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"].map((t) => ({ id: vocab[t], content: t, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: { type: "BertNormalizer", clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: "BertPreTokenizer" },
    post_processor: { type: "TemplateProcessing", single: [sp("[CLS]", 0), sq("A", 0), sp("[SEP]", 0)],
      pair: [sp("[CLS]", 0), sq("A", 0), sp("[SEP]", 0), sq("B", 1), sp("[SEP]", 1)],
      special_tokens: { "[CLS]": { id: "[CLS]", ids: [vocab["[CLS]"]], tokens: ["[CLS]"] }, "[SEP]": { id: "[SEP]", ids: [vocab["[SEP]"]], tokens: ["[SEP]"] } } },
    decoder: { type: "WordPiece", prefix: "##", cleanup: true },
    model: { type: "WordPiece", unk_token: "[UNK]", continuing_subword_prefix: "##", max_input_chars_per_word: 100, vocab },
  });
});

async function time(file) {
  const tok = Tokenizer.fromFile(file);
  await tok.encodeBatch(lines.slice(0, 200), { addSpecialTokens: false });  // warm up
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let tokens = 0;
  for (let i = 0; i < lines.length; i += 1000) {
    const encs = await tok.encodeBatch(lines.slice(i, i + 1000), { addSpecialTokens: false });
    for (const e of encs) tokens += e.getLength();
  }
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpuUse = process.cpuUsage(cpu0);
  const cpu = (cpuUse.user + cpuUse.system) / 1e6;
  return { mb_per_s: bytes / 1e6 / cpu, wall_mb_per_s: bytes / 1e6 / wall, tokens };
}

const q = await time(qwen3);
const b = await time(bert);
console.log(JSON.stringify({
  bench: "tokenizer_throughput_hf", library: "tokenizers 0.22.2 (@anush008/tokenizers 0.6.0)", bytes, lines: lines.length, threads: 1,
  qwen3_mb_per_s: +q.mb_per_s.toFixed(2), qwen3_wall_mb_per_s: +q.wall_mb_per_s.toFixed(2), qwen3_tokens: q.tokens,
  bert_mb_per_s: +b.mb_per_s.toFixed(2), bert_wall_mb_per_s: +b.wall_mb_per_s.toFixed(2), bert_tokens: b.tokens,
}));
