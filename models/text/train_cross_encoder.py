#!/usr/bin/python3
"""Train the demo text cross-encoder and export it as a bundle the console serves.

A tiny BERT-like cross-encoder (2 layers, hidden 64, 2 heads) scores (query, product) pairs from the
demo catalog. It is trained with a listwise softmax cross-entropy loss (ListNet top-1, Cao et al. 2007)
on queries generated from the catalog's nouns, adjectives, categories and a few synonyms, and exported
as ONNX with the inputs a Hugging Face cross-encoder export has (input_ids, attention_mask,
token_type_ids; int64, dynamic batch and sequence axes) and one logit per pair (output `logits`,
shape [batch, 1]).

The tokenizer is a BERT WordPiece tokenizer (lower-casing, BertPreTokenizer, greedy longest-match
WordPiece with `##` continuations) written as a Hugging Face `tokenizer.json`, so the loader reads it
with the same library it would use for an exported ms-marco-MiniLM.

Usage (Debian's torch 1.13 and onnx 1.12; the pyenv python on PATH has neither):
    npx tsx models/text/exportCatalog.ts > /tmp/catalog.json
    /usr/bin/python3 models/text/train_cross_encoder.py /tmp/catalog.json models/text/demo-cross-encoder

Writes model.onnx, tokenizer.json, tokenizer_config.json, reranker.json (bundle config),
tokenizer-check.json (ids the TypeScript tokenizer must reproduce) and card.json (held-out NDCG@10).
"""
import json
import math
import os
import random
import re
import sys
import time
import unicodedata

import torch
from torch import nn

torch.set_num_threads(1)  # the build machine is shared; one core is plenty for this model
SEED = 20261129
MAX_LENGTH = 32
HIDDEN = 64
LAYERS = 2
HEADS = 2
FFN = 128
CANDIDATES = 20
MAX_SECONDS = float(os.environ.get("TRAIN_MAX_SECONDS", "240"))
EPOCHS = int(os.environ.get("TRAIN_EPOCHS", "12"))

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
PAD, UNK, CLS, SEP = 0, 1, 2, 3

# Words shoppers use for a product that its title does not contain: the model must learn these from
# data, which a lexical first stage cannot do.
SYNONYMS = {
    "Headphones": ["earphones", "headset"], "Speaker": ["soundbar"], "Charger": ["power adapter"],
    "Monitor": ["display screen"], "Camera": ["webcam"], "Novel": ["fiction"], "Cookbook": ["recipes"],
    "Atlas": ["maps"], "Biography": ["memoir"], "Lamp": ["light"], "Blanket": ["throw"],
    "Kettle": ["tea boiler"], "Rug": ["carpet"], "Puzzle": ["jigsaw"], "Plush Bear": ["teddy"],
    "Football": ["soccer ball"], "Bike Helmet": ["cycling helmet"], "Dumbbell": ["weights"],
    "Perfume": ["fragrance"], "Hair Dryer": ["blow dryer"], "Coffee Beans": ["espresso"],
    "Sneakers": ["trainers", "running shoes"], "Backpack": ["rucksack"], "Sunglasses": ["shades"],
    "Jacket": ["coat"], "Hose": ["sprinkler"], "Pruner": ["shears"], "Dash Cam": ["car camera"],
    "Jump Starter": ["booster"], "Wax": ["car polish"],
}


# ---------------------------------------------------------------- tokenizer (BERT WordPiece)

def is_punctuation(ch):
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def basic_tokenize(text):
    """BertNormalizer(lowercase, strip accents) + BertPreTokenizer: whitespace and punctuation split."""
    text = unicodedata.normalize("NFD", text.lower())
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Mn")
    words = []
    for chunk in text.split():
        current = ""
        for ch in chunk:
            if is_punctuation(ch):
                if current:
                    words.append(current)
                words.append(ch)
                current = ""
            else:
                current += ch
        if current:
            words.append(current)
    return words


def wordpiece(word, vocab):
    """Greedy longest-match-first WordPiece (Wu et al. 2016; BERT's implementation)."""
    if len(word) > 100:
        return [UNK]
    pieces, start = [], 0
    while start < len(word):
        end, found = len(word), None
        while start < end:
            piece = word[start:end] if start == 0 else "##" + word[start:end]
            if piece in vocab:
                found = vocab[piece]
                break
            end -= 1
        if found is None:
            return [UNK]
        pieces.append(found)
        start = end
    return pieces


def build_vocab(texts):
    words = set()
    for text in texts:
        words.update(basic_tokenize(text))
    chars = [chr(c) for c in range(ord("a"), ord("z") + 1)] + [str(d) for d in range(10)]
    punct = list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
    tokens = list(SPECIAL)
    for t in sorted(words) + chars + punct + ["##" + c for c in chars]:
        if t not in tokens:
            tokens.append(t)
    return {t: i for i, t in enumerate(tokens)}


def encode_pair(query, document, vocab, max_length=MAX_LENGTH):
    """[CLS] query [SEP] document [SEP]; the document is cut first (HF 'longest_first' ~ 'only_second'
    for short queries). Returns (input_ids, token_type_ids)."""
    q = [p for w in basic_tokenize(query) for p in wordpiece(w, vocab)]
    d = [p for w in basic_tokenize(document) for p in wordpiece(w, vocab)]
    budget = max_length - 3
    while len(q) + len(d) > budget:
        if len(d) >= len(q):
            d.pop()
        else:
            q.pop()
    ids = [CLS] + q + [SEP] + d + [SEP]
    types = [0] * (len(q) + 2) + [1] * (len(d) + 1)
    return ids, types


def tokenizer_json(vocab):
    def special(token, type_id):
        return {"SpecialToken": {"id": token, "type_id": type_id}}

    def seq(name, type_id):
        return {"Sequence": {"id": name, "type_id": type_id}}

    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {"id": vocab[t], "content": t, "single_word": False, "lstrip": False, "rstrip": False,
             "normalized": False, "special": True}
            for t in SPECIAL
        ],
        "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                       "strip_accents": None, "lowercase": True},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [special("[CLS]", 0), seq("A", 0), special("[SEP]", 0)],
            "pair": [special("[CLS]", 0), seq("A", 0), special("[SEP]", 0), seq("B", 1), special("[SEP]", 1)],
            "special_tokens": {
                "[CLS]": {"id": "[CLS]", "ids": [CLS], "tokens": ["[CLS]"]},
                "[SEP]": {"id": "[SEP]", "ids": [SEP], "tokens": ["[SEP]"]},
            },
        },
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": vocab},
    }


# ---------------------------------------------------------------- data

def document_text(item):
    return f"{item['title']} {item['category']}"


def noun_of(title):
    return title.split(" ", 1)[1]


def make_queries(items, categories):
    """Distinct query strings with a grading function each: 3 exact intent, 2 right product, 1 right
    category, 0 otherwise."""
    nouns = sorted({(noun_of(it["title"]), it["category"]) for it in items})
    adjectives = sorted({it["title"].split(" ", 1)[0] for it in items})
    queries = []
    for noun, cat in nouns:
        queries.append((noun.lower(), lambda it, n=noun, c=cat: 3 if noun_of(it["title"]) == n else 1 if it["category"] == c else 0))
        for syn in SYNONYMS.get(noun, []):
            queries.append((syn, lambda it, n=noun, c=cat: 3 if noun_of(it["title"]) == n else 1 if it["category"] == c else 0))
        for adj in adjectives:
            title = f"{adj} {noun}"
            queries.append((title.lower(), lambda it, t=title, n=noun, c=cat: 3 if it["title"] == t else 2 if noun_of(it["title"]) == n else 1 if it["category"] == c else 0))
    for cat in categories:
        queries.append((cat, lambda it, c=cat: 2 if it["category"] == c else 0))
    return queries


def candidates(grade, items, by_grade_cache, rng):
    """A first-stage candidate list: some relevant, some same-category, some random items, in the
    order a popularity-sorted first stage returns them (the 'retrieval order')."""
    pools = by_grade_cache
    picked = []
    for g, k in ((3, 4), (2, 3), (1, 6)):
        pool = pools.get(g, [])
        picked += rng.sample(pool, min(k, len(pool)))
    ids = {it["id"] for it in picked}
    while len(picked) < CANDIDATES:
        it = rng.choice(items)
        if it["id"] not in ids:
            ids.add(it["id"])
            picked.append(it)
    picked.sort(key=lambda it: -it["popularity"])
    return picked, [grade(it) for it in picked]


def grade_pools(grade, items):
    pools = {}
    for it in items:
        pools.setdefault(grade(it), []).append(it)
    return pools


def ndcg_at(labels_in_order, k=10):
    """NDCG@k with gain 2^rel - 1 and log2(rank + 1) discount (Järvelin & Kekäläinen 2002)."""
    def dcg(ls):
        return sum((2 ** l - 1) / math.log2(i + 2) for i, l in enumerate(ls[:k]))
    ideal = dcg(sorted(labels_in_order, reverse=True))
    return dcg(labels_in_order) / ideal if ideal > 0 else 1.0


# ---------------------------------------------------------------- model

class Layer(nn.Module):
    def __init__(self):
        super().__init__()
        self.qkv = nn.Linear(HIDDEN, 3 * HIDDEN)
        self.out = nn.Linear(HIDDEN, HIDDEN)
        self.norm1 = nn.LayerNorm(HIDDEN)
        self.ff1 = nn.Linear(HIDDEN, FFN)
        self.ff2 = nn.Linear(FFN, HIDDEN)
        self.norm2 = nn.LayerNorm(HIDDEN)

    def forward(self, x, bias):
        b, l, _ = x.shape
        q, k, v = self.qkv(x).view(b, l, 3, HEADS, HIDDEN // HEADS).permute(2, 0, 3, 1, 4)
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(HIDDEN // HEADS) + bias, dim=-1)
        ctx = (att @ v).transpose(1, 2).reshape(b, l, HIDDEN)
        x = self.norm1(x + self.out(ctx))
        return self.norm2(x + self.ff2(torch.nn.functional.gelu(self.ff1(x))))


class CrossEncoder(nn.Module):
    def __init__(self, vocab_size):
        super().__init__()
        self.tok = nn.Embedding(vocab_size, HIDDEN)
        self.pos = nn.Embedding(MAX_LENGTH, HIDDEN)
        self.typ = nn.Embedding(2, HIDDEN)
        self.norm = nn.LayerNorm(HIDDEN)
        self.layers = nn.ModuleList([Layer() for _ in range(LAYERS)])
        self.head = nn.Linear(HIDDEN, 1)

    def forward(self, input_ids, attention_mask, token_type_ids):
        positions = torch.cumsum(torch.ones_like(input_ids), dim=1) - 1
        x = self.norm(self.tok(input_ids) + self.pos(positions) + self.typ(token_type_ids))
        bias = (1.0 - attention_mask.unsqueeze(1).unsqueeze(2).to(x.dtype)) * -10000.0
        for layer in self.layers:
            x = layer(x, bias)
        return self.head(x[:, 0, :])  # [batch, 1]: one logit per pair, as HF num_labels=1 exports


def batch_tensors(pairs, vocab):
    encoded = [encode_pair(q, d, vocab) for q, d in pairs]
    width = max(len(ids) for ids, _ in encoded)
    ids = torch.zeros((len(encoded), width), dtype=torch.long)
    mask = torch.zeros_like(ids)
    types = torch.zeros_like(ids)
    for i, (row, typ) in enumerate(encoded):
        ids[i, : len(row)] = torch.tensor(row)
        mask[i, : len(row)] = 1
        types[i, : len(typ)] = torch.tensor(typ)
    return ids, mask, types


def score_lists(model, lists, vocab):
    model.eval()
    out = []
    with torch.no_grad():
        for query, docs, _ in lists:
            ids, mask, types = batch_tensors([(query, document_text(d)) for d in docs], vocab)
            out.append(model(ids, mask, types).squeeze(1).tolist())
    return out


def main():
    catalog_path, out_dir = sys.argv[1], sys.argv[2]
    os.makedirs(out_dir, exist_ok=True)
    rng = random.Random(SEED)
    torch.manual_seed(SEED)
    data = json.load(open(catalog_path))
    items, categories = data["items"], data["categories"]

    queries = make_queries(items, categories)
    rng.shuffle(queries)
    held = max(1, len(queries) // 5)
    test_q, train_q = queries[:held], queries[held:]
    pools = {q: grade_pools(g, items) for q, g in queries}

    texts = [q for q, _ in queries] + [document_text(it) for it in items]
    vocab = build_vocab(texts)
    model = CrossEncoder(len(vocab))
    optim = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.01)

    test_lists = []
    for q, g in test_q:
        docs, labels = candidates(g, items, pools[q], rng)
        test_lists.append((q, docs, labels))

    started, steps, group = time.time(), 0, 16
    for epoch in range(EPOCHS):
        model.train()
        order = list(train_q)
        rng.shuffle(order)
        losses = []
        for start in range(0, len(order), group):
            chunk = order[start:start + group]
            pairs, targets = [], []
            for q, g in chunk:
                docs, labels = candidates(g, items, pools[q], rng)
                pairs += [(q, document_text(d)) for d in docs]
                targets.append(labels)
            ids, mask, types = batch_tensors(pairs, vocab)
            logits = model(ids, mask, types).view(len(chunk), CANDIDATES)
            target = torch.softmax(torch.tensor(targets, dtype=torch.float) * 2.0, dim=1)
            loss = -(target * torch.log_softmax(logits, dim=1)).sum(dim=1).mean()
            optim.zero_grad()
            loss.backward()
            optim.step()
            losses.append(loss.item())
            steps += 1
        print(f"epoch {epoch + 1} loss {sum(losses) / len(losses):.4f} ({time.time() - started:.0f} s)", flush=True)
        if time.time() - started > MAX_SECONDS:
            print("time budget reached", flush=True)
            break
    train_seconds = time.time() - started

    scores = score_lists(model, test_lists, vocab)
    ndcg_model, ndcg_retrieval = [], []
    for (q, docs, labels), s in zip(test_lists, scores):
        ndcg_retrieval.append(ndcg_at(labels))
        ranked = [l for _, l in sorted(zip(s, labels), key=lambda p: -p[0])]
        ndcg_model.append(ndcg_at(ranked))

    model.eval()
    ids, mask, types = batch_tensors([("wireless headphones", "Pro Headphones electronics"), ("teddy", "Soft Plush Bear toys")], vocab)
    onnx_path = os.path.join(out_dir, "model.onnx")
    torch.onnx.export(
        model, (ids, mask, types), onnx_path, opset_version=14,
        input_names=["input_ids", "attention_mask", "token_type_ids"], output_names=["logits"],
        dynamic_axes={"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"},
                      "token_type_ids": {0: "batch", 1: "sequence"}, "logits": {0: "batch"}},
    )
    import onnx
    onnx.checker.check_model(onnx.load(onnx_path))

    with open(os.path.join(out_dir, "tokenizer.json"), "w") as f:
        json.dump(tokenizer_json(vocab), f, ensure_ascii=False)
    with open(os.path.join(out_dir, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "BertTokenizer", "do_lower_case": True, "model_max_length": MAX_LENGTH,
                   "cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "[PAD]", "unk_token": "[UNK]",
                   "mask_token": "[MASK]"}, f, indent=2)
    with open(os.path.join(out_dir, "reranker.json"), "w") as f:
        json.dump({"kind": "cross-encoder", "maxLength": MAX_LENGTH, "textFields": ["title", "category"],
                   "vocabSize": len(vocab), "output": "logits"}, f, indent=2)

    checks = [("earphones", "Compact Headphones electronics"), ("teddy bear!", "Soft Plush Bear toys"),
              ("Zebra-striped ÉCLAIR", "Vintage Atlas books")]
    with torch.no_grad():
        check_rows = []
        for q, d in checks:
            row, typ = encode_pair(q, d, vocab)
            t = torch.tensor([row])
            logit = model(t, torch.ones_like(t), torch.tensor([typ])).item()
            check_rows.append({"query": q, "document": d, "input_ids": row, "token_type_ids": typ, "logit": logit})
    with open(os.path.join(out_dir, "tokenizer-check.json"), "w") as f:
        json.dump(check_rows, f, indent=2)

    card = {
        "name": "demo-cross-encoder",
        "architecture": f"BERT-like cross-encoder, {LAYERS} layers, hidden {HIDDEN}, {HEADS} heads, FFN {FFN}, "
                        f"max length {MAX_LENGTH}, WordPiece vocabulary {len(vocab)}",
        "parameters": sum(p.numel() for p in model.parameters()),
        "training": {"loss": "ListNet top-1 softmax cross-entropy", "epochsRun": epoch + 1, "steps": steps,
                     "seconds": round(train_seconds, 1), "threads": 1, "seed": SEED,
                     "trainQueries": len(train_q), "candidatesPerQuery": CANDIDATES},
        "evaluation": {
            "heldOutQueries": len(test_q),
            "metric": "NDCG@10, gain 2^rel-1, grades 0-3 from the catalog (exact title 3, product 2-3, category 1)",
            "retrievalOrder": round(sum(ndcg_retrieval) / len(ndcg_retrieval), 4),
            "crossEncoder": round(sum(ndcg_model) / len(ndcg_model), 4),
        },
        "limits": [
            "Relevance grades come from titles and categories only; the simulator's hidden quality is not in "
            "the text, so the model cannot learn it (a tree model over item features is the tool for that).",
            "Vocabulary is the demo catalog's: words outside it fall back to letters or [UNK].",
        ],
    }
    with open(os.path.join(out_dir, "card.json"), "w") as f:
        json.dump(card, f, indent=2)
    print(json.dumps(card["evaluation"]))


if __name__ == "__main__":
    main()
