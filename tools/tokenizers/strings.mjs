// Deterministic fixture strings for the tokenizer tests: hand-written cases for every tricky
// class (scripts, emoji, whitespace, contractions, special tokens, long words) plus seeded
// random mixtures of them. Shared by make_fixtures.mjs and bench_hf.mjs.
export function mulberry32(seed) {
  return function () {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const HAND = [
  "",
  " ",
  "  ",
  "\n",
  "\t",
  "Hello world",
  "Hello, world! How are you today?",
  "A dog running on the beach at sunset.",
  "a photo of a cat sitting on a red couch",
  "Two people riding bicycles down a busy city street.",
  "The quick brown fox jumps over the lazy dog.",
  "THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG",
  "I'm sure you're right; they've said we'll go, he'd agree, it's John's.",
  "I'M SURE YOU'RE RIGHT; THEY'VE SAID WE'LL GO, HE'D AGREE, IT'S JOHN'S.",
  "I'M sure You'Re rIGHT; tHey'Ve said We'Ll go, he'D agree, iT'S John'S.",
  "don't can't won't shouldn't isn't aren't DON'T Can'T",
  "'s 't 're 've 'm 'll 'd",
  "Café déjà vu naïve résumé façade coöperate",
  "Cafe\u0301 de\u0301ja\u0300 vu (combining marks)",
  "e\u0301\u0301\u0301 a\u0308\u0304 o\u0323\u0302",
  "Ångström Ωmega ﬁ ligature Ⅻ ① ｆｕｌｌｗｉｄｔｈ",
  "İstanbul ISTANBUL ıi Straße STRASSE ß ẞ",
  "Ελληνικά: Καλημέρα κόσμε, ΣΊΣΥΦΟΣ",
  "Русский текст: Съешь же ещё этих мягких французских булок.",
  "中文测试：我爱自然语言处理。今天天气很好！",
  "日本語のテキスト、ひらがなとカタカナ。東京タワー",
  "한국어 텍스트: 안녕하세요 세계! 한글 ᄒᆞᆫ글",
  "हिन्दी पाठ: नमस्ते दुनिया। क्षत्रिय",
  "العربية: مرحبا بالعالم! ١٢٣٤",
  "עברית: שלום עולם",
  "ไทย: สวัสดีชาวโลก",
  "Emoji: 😀 😃 😄 👍🏽 ❤️ 🇺🇸 🇯🇵 🏳️‍🌈 👨‍👩‍👧‍👦 🧑🏿‍💻",
  "flags🇫🇷🇩🇪🇮🇹and👩‍🔬scientist",
  "Numbers: 0 1 12 123 1234 12345 3.14159 -42 1,000,000 2024-01-01 0x1F",
  "1234567890123456789012345678901234567890",
  "Version v1.2.3-beta+exp.sha.5114f85 at 10:30pm",
  "multiple    spaces   here",
  "   leading and trailing spaces   ",
  "tabs\tbetween\t\twords\t",
  "line one\nline two\n\nline four\n",
  "windows\r\nline\r\nendings\r\n",
  "mixed \t\n \r\n whitespace \u00a0nbsp\u2003emsp\u3000ideographic",
  "trailing newline\n\n\n",
  "<|im_start|>user\nWhat is in this picture?<|im_end|>\n<|im_start|>assistant\n",
  "text<|endoftext|>more text",
  "<|endoftext|><|endoftext|>",
  "[CLS] hello [SEP] world [MASK] [PAD] [UNK]",
  "almost<|im_start special <|im_end> <|endoftext",
  "<|begin_of_text|>Hello<|eot_id|>",
  "<think>\nreasoning\n</think>\n\nanswer",
  "supercalifragilisticexpialidocious antidisestablishmentarianism",
  "a".repeat(300),
  "ab".repeat(150) + " " + "xyz".repeat(50),
  "pneumonoultramicroscopicsilicovolcanoconiosis".repeat(3),
  "https://example.com/path/to/page?query=1&other=two#anchor",
  "email@example.com, @user #hashtag $100 50% a&b *bold* _under_ ~tilde~",
  "C++ code: int main() { return x->y[0] + (a << 2); }",
  "def f(x):\n    return x ** 2  # square\n",
  "Quotes: \"double\" 'single' «guillemets» „German“ “curly” ‘curly’",
  "Dashes – — ‐ and ellipsis… and bullets • ·",
  "Math: ∑ ∫ √ ∞ ≠ ≤ ≥ ± × ÷ π²",
  "Zero\u200bwidth\u200cjoiner\u200dmarks\ufeffbom",
  "Control\u0001chars\u0007and\u007fdelete",
  "Replacement \ufffd char",
  "Private use \ue000 and astral 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝟙𝟚𝟛",
  "Mongolian\u180evowel separator",
  "Ok.",
  "?",
  "...",
  "!!!???",
  "a\u0000b",
];

const WORDS = [
  "the", "a", "dog", "cat", "photo", "of", "man", "woman", "sitting", "on", "bench", "park", "red", "blue",
  "Running", "BEACH", "sunset", "city", "street", "car", "tree", "mountain", "lake", "snow", "children",
  "playing", "ball", "kitchen", "table", "food", "pizza", "coffee", "café", "naïve", "Zürich", "São",
  "Paulo", "東京", "北京", "서울", "मुंबई", "القاهرة", "😀", "🐶", "🇬🇧", "👩‍💻", "123", "4.5", "2nd",
  "I'm", "you're", "THEY'LL", "it's", "O'Brien", "rock'n'roll", "e-mail", "state-of-the-art", "(note)",
  "[x]", "{y}", "<tag>", "#1", "$9.99", "100%", "a/b", "C:\\path", "foo_bar", "camelCase", "ALLCAPS",
];
const SEPS = [" ", " ", " ", " ", "  ", "\t", "\n", ", ", ". ", "! ", "? ", " - ", "\r\n", "   ", ""];

export function fixtureStrings() {
  const rand = mulberry32(20240601);
  const out = [...HAND];
  for (let i = 0; i < 230; ++i) {
    const n = 1 + Math.floor(rand() * 14);
    let s = "";
    for (let k = 0; k < n; ++k) {
      let w = WORDS[Math.floor(rand() * WORDS.length)];
      if (rand() < 0.1) w = w.toUpperCase();
      if (rand() < 0.1) w = w[0].toUpperCase() + w.slice(1);
      s += w + (k + 1 < n ? SEPS[Math.floor(rand() * SEPS.length)] : "");
    }
    if (rand() < 0.15) s = " " + s;
    if (rand() < 0.15) s += rand() < 0.5 ? "." : "\n";
    out.push(s);
  }
  return out;
}

// Deterministic English prose for throughput measurements: sentences assembled from a fixed
// word list with punctuation, about `bytes` long, split into lines of ~200-600 bytes.
export function proseText(bytes) {
  const rand = mulberry32(7);
  const vocab = ("the of and to in a is that for it as was with be by on not he I this are or his from at which " +
    "but have an they you were her she there been one all we their has would when if so no will more can who " +
    "image photo picture dog cat man woman child children street city building river mountain tree sky water " +
    "standing sitting walking running playing holding looking wearing riding eating red blue green white black " +
    "large small old young beautiful bright dark wooden metal stone glass through across near behind front " +
    "morning evening night summer winter people group crowd market kitchen table window door garden field road " +
    "however although because therefore meanwhile especially carefully quickly slowly together another every " +
    "government history system research information development community experience important different").split(" ");
  const lines = [];
  let total = 0;
  while (total < bytes) {
    let line = "";
    const target = 200 + Math.floor(rand() * 400);
    while (line.length < target) {
      const n = 5 + Math.floor(rand() * 15);
      let sentence = "";
      for (let k = 0; k < n; ++k) {
        let w = vocab[Math.floor(rand() * vocab.length)];
        if (k === 0) w = w[0].toUpperCase() + w.slice(1);
        sentence += (k ? " " : "") + w;
        if (k + 1 < n && rand() < 0.08) sentence += ",";
      }
      const r = rand();
      sentence += r < 0.8 ? "." : r < 0.9 ? "?" : "!";
      if (rand() < 0.05) sentence += ` (${Math.floor(rand() * 2000)})`;
      if (rand() < 0.05) sentence = sentence.replace(" is ", " isn't ").replace(" are ", " they're ");
      line += (line ? " " : "") + sentence;
    }
    lines.push(line);
    total += Buffer.byteLength(line) + 1;
  }
  return lines;
}
