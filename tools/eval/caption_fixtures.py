#!/usr/bin/env python3
"""Makes tests/fixtures/eval/caption_case*/ and their expected.json for the caption metrics.

1. Writes predictions.jsonl / references.jsonl for three seeded cases.
2. Tokenizes every caption with a Python re-statement of PTBTokenizer 3.4.1 (-preserveLines
   -lowerCase) + pycocoevalcap's punctuation removal (the CoreNLP jar is not in the snapshot
   of tylin/coco-caption here; see tests/fixtures/eval/README.md), written independently of
   src/eval/ptb_tokenizer.cpp and saved as tokenized.json so the C++ tokenizer is checked too.
3. Scores the tokens with pycocoevalcap's own Bleu(4), Rouge and Cider classes, imported from
   the directory given by --pycocoevalcap (a 2to3-converted copy of the package).
Usage: caption_fixtures.py --pycocoevalcap /tmp/pycoco OUT_DIR
"""
import argparse
import json
import os
import random
import re
import sys

PUNCTUATIONS = ["''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-",
                ".", "?", "!", ",", ":", "-", "--", "...", ";"]
BRACKETS = {"(": "-LRB-", ")": "-RRB-", "[": "-LSB-", "]": "-RSB-", "{": "-LCB-", "}": "-RCB-"}
ABBREV = {"mr", "mrs", "ms", "dr", "st", "jr", "sr", "prof", "vs", "etc", "inc", "ltd", "co", "corp"}
CLITIC = r"'(?:[sS]|[rR][eE]|[vV][eE]|[lL][lL]|[mM]|[dD])(?![A-Za-z0-9])"
WORD = re.compile(r"(?:[A-Za-z0-9_\x80-\U0010ffff]|(?<=[A-Za-z0-9_\x80-\U0010ffff])-(?=[A-Za-z0-9_\x80-\U0010ffff])"
                  r"|(?<=[A-Za-z0-9])\.(?=[A-Za-z0-9])|(?<=[0-9])[,:](?=[0-9])|(?<=[A-Za-z])&(?=[A-Za-z])"
                  r"|(?<=[A-Za-z])(?!(?<=[nN])'[tT](?![A-Za-z0-9]))'(?=[A-Za-z])(?!" + CLITIC[1:] + r"))+")


def lex(chunk):
    out = []
    i = 0
    while i < len(chunk):
        m = WORD.match(chunk, i)
        if m:
            word = m.group(0)
            j = m.end()
            rest = chunk[j:]
            if re.match(r"'[tT](?![A-Za-z0-9])", rest) and word[-1] in "nN":
                if len(word) > 1:
                    out.append(word[:-1])
                out.append(word[-1] + rest[:2])
                i = j + 2
                continue
            c = re.match(CLITIC, rest)
            if c:
                out += [word, c.group(0)]
                i = j + len(c.group(0))
                continue
            if word.lower() == "cannot":
                out += [word[:3], word[3:]]
                i = j
                continue
            if rest.startswith(".") and not rest.startswith("..") and (
                    re.fullmatch(r"[A-Za-z](?:\.[A-Za-z])+", word) or word.lower() in ABBREV):
                out.append(word + ".")
                i = j + 1
                continue
            out.append(word)
            i = j
            continue
        ch = chunk[i]
        if ch in ".-?!`'":
            run = re.match({".": r"\.+", "-": r"-+", "?": r"[?!]+", "!": r"[?!]+", "`": r"`+", "'": r"'+"}[ch],
                           chunk[i:]).group(0)
            if ch == "'" and re.match(CLITIC, chunk[i:]):
                run = re.match(CLITIC, chunk[i:]).group(0)
                out.append(run)
            elif ch == ".":
                out.append("..." if len(run) >= 2 else ".")
            elif ch == "-":
                out.append("--" if len(run) >= 2 else "-")
            elif ch in "`'":
                out.append(ch * 2 if len(run) >= 2 else ch)
            else:
                out.append(run)
            i += len(run)
        elif ch == '"':
            out.append("``" if i == 0 else "''")
            i += 1
        else:
            out.append(BRACKETS.get(ch, ch))
            i += 1
    return out


def ptb_tokenize(caption):
    tokens = [t.lower() for chunk in caption.replace("\n", " ").split() for t in lex(chunk)]
    return " ".join(t for t in tokens if t not in PUNCTUATIONS)


COLORS = ["red", "green", "blue", "yellow", "purple", "orange", "white", "cyan"]
SHAPES = ["circle", "square", "triangle", "star", "cross", "ring"]
PLACES = ["on the left", "on the right", "at the top", "at the bottom", "in the middle"]
COCO_LIKE = [
    "A man riding a wave on top of a surfboard.",
    "Two dogs play with a frisbee in the park!",
    "A woman's bike is parked next to a red fire-hydrant.",
    "There isn't much food left on the plate, is there?",
    "A cat (probably asleep) lies on a laptop keyboard...",
    "\"Stop\" sign at the corner of 5th St. and Main",
    "A group of people standing around a kitchen; they're cooking.",
    "An old black-and-white photo of a train -- taken in the U.S. in 1950.",
    "The clock reads 10:30 and costs $1,000 at 3.5% off",
    "Someone can't find the remote; it's under the couch",
    "A plate with broccoli, carrots, and rice",
    "Kids playing soccer on a field: one kicks, one watches",
    "a a a dog dog dog",
    "A giraffe eating leaves from a tall tree",
    "People walking down a busy city street at night",
    "A bowl of fruit: apples, bananas and oranges.",
    "This cannot be a real elephant [toy]",
    "Two zebras grazing in a field of tall grass",
    "A kitchen with white cabinets and a stainless steel refrigerator",
    "I'll take the 'blue' umbrella, you'd take the red one",
]


def scene_caption(rng):
    n = rng.randint(1, 3)
    parts = [f"a {rng.choice(COLORS)} {rng.choice(SHAPES)} {rng.choice(PLACES)}" for _ in range(n)]
    return (", ".join(parts) + rng.choice(["", ".", " ."])).capitalize()


def perturb(rng, caption):
    words = caption.split()
    op = rng.randrange(5)
    if op == 0 and len(words) > 2:
        del words[rng.randrange(len(words))]
    elif op == 1:
        words.insert(rng.randrange(len(words) + 1), rng.choice(words + COLORS))
    elif op == 2 and len(words) > 1:
        i = rng.randrange(len(words) - 1)
        words[i], words[i + 1] = words[i + 1], words[i]
    elif op == 3:
        words = words[: max(1, len(words) // 2)]
    return " ".join(words)


def make_cases(seed):
    rng = random.Random(seed)
    cases = {}
    # Case 1: synthetic-scene captions, 3 references each, predictions near one of them.
    preds, refs = [], []
    for i in range(30):
        r = [scene_caption(rng) for _ in range(3)]
        refs.append({"image_id": i, "captions": r})
        preds.append({"image_id": i, "caption": perturb(rng, rng.choice(r)) if i % 4 else scene_caption(rng)})
    cases["caption_case1"] = (preds, refs)
    # Case 2: COCO-like punctuation, clitics, brackets, quotes; 5 references, string ids.
    preds, refs = [], []
    for i in range(24):
        r = [COCO_LIKE[(i + k * 7) % len(COCO_LIKE)] if k else COCO_LIKE[i % len(COCO_LIKE)] for k in range(5)]
        r = [perturb(rng, c) if k > 1 else c for k, c in enumerate(r)]
        refs.append({"image_id": f"img_{i:03d}", "captions": r})
        p = COCO_LIKE[i % len(COCO_LIKE)] if i % 3 == 0 else perturb(rng, rng.choice(r))
        preds.append({"image_id": f"img_{i:03d}", "caption": p})
    cases["caption_case2"] = (preds, refs)
    # Case 3: lengths from empty to long, repeated words, 1..6 references (one "caption" per line),
    # and references of an image without a prediction (ignored, as pycocoevalcap ignores them).
    preds, refs = [], []
    long_words = "a very long caption that keeps going on and on about the scene with many many details".split()
    for i in range(20):
        nref = 1 + i % 6
        for _ in range(nref):
            refs.append({"image_id": i, "caption": " ".join(rng.choice(long_words) for _ in range(rng.randint(1, 18)))})
        kind = i % 5
        if kind == 0:
            p = "..." if i == 0 else rng.choice(long_words)
        elif kind == 1:
            p = " ".join([rng.choice(long_words)] * rng.randint(2, 6))
        elif kind == 2:
            p = " ".join(rng.choice(long_words) for _ in range(rng.randint(20, 30)))
        else:
            p = refs[-1]["caption"] if kind == 3 else perturb(rng, refs[-1]["caption"]) + "!"
        preds.append({"image_id": i, "caption": p})
    refs.append({"image_id": 99, "caption": "references without a prediction take no part"})
    cases["caption_case3"] = (preds, refs)
    return cases


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pycocoevalcap", required=True, help="directory holding a py3 pycocoevalcap package")
    ap.add_argument("out")
    args = ap.parse_args()
    sys.path.insert(0, args.pycocoevalcap)
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge

    for name, (preds, refs) in make_cases(seed=20261126).items():
        d = os.path.join(args.out, name)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "predictions.jsonl"), "w") as f:
            f.writelines(json.dumps(p) + "\n" for p in preds)
        with open(os.path.join(d, "references.jsonl"), "w") as f:
            f.writelines(json.dumps(r) + "\n" for r in refs)
        gts, res = {}, {}
        for p in preds:
            res[str(p["image_id"])] = [ptb_tokenize(p["caption"])]
        for r in refs:
            key = str(r["image_id"])
            if key in res:
                gts.setdefault(key, []).extend(ptb_tokenize(c) for c in r.get("captions", [r.get("caption")]))
        expected = {}
        bleu, _ = Bleu(4).compute_score(gts, res)
        for k in range(4):
            expected[f"BLEU-{k + 1}"] = bleu[k]
        expected["ROUGE-L"] = float(Rouge().compute_score(gts, res)[0])
        expected["CIDEr-D"] = float(Cider().compute_score(gts, res)[0])
        with open(os.path.join(d, "expected.json"), "w") as f:
            json.dump(expected, f, indent=1, sort_keys=True)
            f.write("\n")
        raw = {str(p["image_id"]): p["caption"] for p in preds}
        for r in refs:
            for c in r.get("captions", [r.get("caption")]):
                raw.setdefault("ref:" + c, c)
        with open(os.path.join(d, "tokenized.json"), "w") as f:
            json.dump({c: ptb_tokenize(c) for c in sorted(set(raw.values()))}, f, indent=0, sort_keys=True)
            f.write("\n")
        print(name, json.dumps(expected))


if __name__ == "__main__":
    main()
