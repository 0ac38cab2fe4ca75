#!/usr/bin/env python3
"""Writes the seed corpora fuzz/corpus/<target>/ from the real files kiln reads: configs/,
corpora/ (bert-base-uncased vocab.txt, GPT-2 encoder.json + vocab.bpe, the fortunes), each cut
to a few KB. Run from the repository root after scripts/prepare_corpus.sh, bert_vocab.sh and
gpt2_tokenizer.sh; the output is committed, so CI needs none of those files."""
import glob
import json
import os
import struct

OUT = "fuzz/corpus"


def put(target, name, data):
    os.makedirs(os.path.join(OUT, target), exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(os.path.join(OUT, target, name), "wb") as f:
        f.write(data)


def read(path, limit=None):
    with open(path, "rb") as f:
        return f.read(limit) if limit else f.read()


# ---- config: every shipped config, and one with --set overrides ----------------------------
for path in sorted(glob.glob("configs/*.yaml")):
    put("config", os.path.basename(path), read(path))
put("config", "overrides.yaml",
    read("configs/gpt-char-fortunes.yaml") +
    b"\n#--set\nmodel.d_model=64\ntrain.optimizer.betas=[0.9, 0.99]\nrun.name=x\n")

# ---- GPT-2 files, cut to the first N merges (ids 256..256+N-1 are exactly their results) ----
encoder = json.loads(read("corpora/gpt2/encoder.json"))
merges = read("corpora/gpt2/vocab.bpe").decode("utf-8").split("\n")
N = 120
small_vocab = {tok: i for tok, i in encoder.items() if i < 256 + N}
small_vocab_json = json.dumps(small_vocab, ensure_ascii=False)
small_merges = "\n".join(merges[: N + 1]) + "\n"  # "#version" line, then N merges
put("bpe_files", "gpt2-first-120", small_vocab_json.encode() + b"\0" + small_merges.encode())
put("bpe_files", "gpt2-ascii-escapes",
    json.dumps(small_vocab).encode() + b"\0" + small_merges.encode())
put("bpe_files", "gpt2-crlf",
    small_vocab_json.encode() + b"\0" + small_merges.replace("\n", "\r\n").encode())

# ---- json: Hugging Face files and pieces of the real ones ----------------------------------
gpt2_config = {
    "activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"],
    "attn_pdrop": 0.1, "bos_token_id": 50256, "embd_pdrop": 0.1, "eos_token_id": 50256,
    "initializer_range": 0.02, "layer_norm_epsilon": 1e-05, "model_type": "gpt2",
    "n_ctx": 1024, "n_embd": 768, "n_head": 12, "n_inner": None, "n_layer": 12,
    "n_positions": 1024, "resid_pdrop": 0.1, "scale_attn_weights": True,
    "vocab_size": 50257}
bert_config = {
    "architectures": ["BertForMaskedLM"], "attention_probs_dropout_prob": 0.1,
    "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "hidden_size": 256,
    "initializer_range": 0.02, "intermediate_size": 1024, "layer_norm_eps": 1e-12,
    "max_position_embeddings": 512, "model_type": "bert", "num_attention_heads": 4,
    "num_hidden_layers": 4, "pad_token_id": 0, "position_embedding_type": "absolute",
    "type_vocab_size": 2, "vocab_size": 30522}
classifier_config = dict(bert_config, architectures=["BertForSequenceClassification"],
                         id2label={"0": "negative", "1": "positive"},
                         label2id={"negative": 0, "positive": 1},
                         problem_type="single_label_classification")
for name, cfg in [("gpt2", gpt2_config), ("bert-mini", bert_config),
                  ("bert-classifier", classifier_config)]:
    put("json", name + "-config.json", json.dumps(cfg, indent=2, sort_keys=True))
    put("hf_config", name + "-config.json", json.dumps(cfg, indent=2, sort_keys=True))
put("json", "encoder-head.json", json.dumps(dict(list(encoder.items())[:300]), ensure_ascii=False))
put("json", "encoder-head-ascii.json", json.dumps(dict(list(encoder.items())[:300])))
put("json", "tokenizer_config.json", '{"do_lower_case": true, "model_max_length": 512}')
put("json", "numbers.json", "[0, -0, 1.5e-300, 9007199254740993, -9223372036854775808, "
    "1E+2, 0.1, 123456789012345678901234567890, \"\\ud83d\\ude00\\u00e9\\n\"]")
put("json", "safetensors-header.json", json.dumps({
    "__metadata__": {"format": "pt"},
    "a": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
    "b": {"dtype": "BF16", "shape": [4], "data_offsets": [24, 32]}}))

# ---- safetensors: small real-format files --------------------------------------------------


def safetensors(tensors, metadata=None, pad=True):
    header, data = {}, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header).encode()
    if pad:
        text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


f32 = struct.pack("<6f", 1.0, -2.5, 0.0, 3.25, 1e-20, 65504.0)
f16 = struct.pack("<4H", 0x3C00, 0xC000, 0x7BFF, 0x0001)
bf16 = struct.pack("<4H", 0x3F80, 0xC040, 0x7F80, 0x0001)
i64 = struct.pack("<2q", 7, -1)
put("safetensors", "mixed.safetensors",
    safetensors([("transformer.wte.weight", "F32", [2, 3], f32), ("h.0.ln.bias", "F16", [4], f16),
                 ("h.0.ln.weight", "BF16", [2, 2], bf16), ("position_ids", "I64", [2], i64)],
                metadata={"format": "pt"}))
put("safetensors", "scalar-and-empty.safetensors",
    safetensors([("s", "F32", [], f32[:4]), ("e", "F32", [0, 3], b"")], pad=False))
put("safetensors", "one.safetensors", safetensors([("w", "F32", [3, 2], f32)]))

# ---- hf_config extras --------------------------------------------------------------------
put("hf_config", "bert-default-labels-config.json",
    json.dumps(dict(bert_config, architectures=None, num_labels=3, id2label=None)))

# ---- vocab.txt: the head of bert-base-uncased's (its special tokens are ids 0, 100..103) ----
bert_vocab = read("corpora/bert-base-uncased-vocab.txt").decode("utf-8").split("\n")
put("vocab_txt", "bert-base-uncased-head.txt", "\n".join(bert_vocab[:1100] + bert_vocab[-100:]) + "\n")
put("vocab_txt", "bert-crlf.txt", "\r\n".join(bert_vocab[:1000]))
put("vocab_txt", "kiln-char-tokenizer.txt", "kiln-char-tokenizer v1\n5\n\nabc\xe9")
put("vocab_txt", "kiln-wordpiece.txt",
    "kiln-wordpiece-tokenizer v1\nlowercase\n7\n[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\n##s\n")
put("vocab_txt", "kiln-bpe.txt",
    "kiln-bpe-tokenizer v1\n258 1\n" + "\n".join(list(encoder)[:256]) + "\n\u0120t\nt\u0120\n"
    + "\u0120 t\n")

# ---- tokenizer_encode: a selector byte, then real text --------------------------------------
kjv = read("corpora/kjv.txt", 3000)
fortunes = read("corpora/fortunes.txt", 3000)
unicode_text = "Caf\u00e9 na\u00efve \u4e2d\u6587 \U0001F600 \u03b1\u03b2\u03b3 it's 12:30\r\n\t".encode()
for selector, name in [(0, "wordpiece-uncased"), (1, "wordpiece-cased"), (2, "bpe"), (3, "char")]:
    put("tokenizer_encode", name + "-kjv", bytes([selector]) + kjv)
    put("tokenizer_encode", name + "-unicode", bytes([selector]) + unicode_text)
put("tokenizer_encode", "wordpiece-fortunes", bytes([0]) + fortunes)
put("tokenizer_encode", "bpe-fortunes", bytes([2]) + fortunes)

# ---- jsonl_encode: lines of the labelled fortunes, and escapes ------------------------------
lines = read("corpora/fortunes-labelled.jsonl").split(b"\n")
put("jsonl_encode", "fortunes-labelled.jsonl", b"\n".join(lines[:20]) + b"\n")
put("jsonl_encode", "escapes.jsonl",
    b'{"text": "caf\\u00e9 \\ud83d\\ude00 tab\\tnew\\nline"}\n  \n{"id": 1, "text": "x"}\r\n'
    b'{"text": ""}\n')

# ---- checkpoint: inputs for the generator in checkpoint_fuzz.cpp ----------------------------
# Byte layout (choice 0 = well-formed): format [c] version [c] step [2 value][c]
# tokens_seen [3 value][c] best_val_loss [c] optimizer_steps [2 value][c]
# config blob, tokenizer blob (2-byte length + bytes), /config [c][layout][write],
# /tokenizer [c][layout][write], then 3 tensor groups [kind][count] and per tensor
# name blob, [rank], per dim [kind][value...], [element type], contents blob, [layout][write].


def blob(b):
    return struct.pack("<H", len(b)) + b


def tensor(name, dims, etype=0, contents=b"", layout=0):
    out = blob(name) + bytes([len(dims)])
    for d in dims:
        out += bytes([0, d - 1])
    return out + bytes([etype]) + blob(contents) + bytes([layout, 0])


config_yaml = read("configs/gpt-char-fortunes.yaml")
char_tokenizer = "kiln-char-tokenizer v1\n5\n\n abc".encode()
head = bytes([0, 0]) + struct.pack("<H", 120) + b"\0" + struct.pack("<I", 5000)[:3] + b"\0" + \
    b"\0" + struct.pack("<H", 120) + b"\0"
model = tensor(b"transformer.wte.weight", [4, 8], 0, f32) + \
    tensor(b"transformer.ln_f.bias", [8], 0, f32, 1)
groups = bytes([0, 1]) + model + bytes([0, 0]) + tensor(b"transformer.wte.weight", [4, 8]) + \
    bytes([0, 0]) + tensor(b"transformer.wte.weight", [4, 8], 0, b"", 2)
put("checkpoint", "gpt-char",
    head + blob(config_yaml) + blob(char_tokenizer) + bytes([0, 0, 0, 0, 0, 0]) + groups)
put("checkpoint", "wordpiece-compact",
    head + blob(read("configs/bert-mini-fortunes.yaml")) +
    blob(b"kiln-wordpiece-tokenizer v1\nlowercase\n6\n[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nx\n") +
    bytes([0, 2, 0, 0, 2, 0]) + groups)
put("checkpoint", "no-optimizer",
    head + blob(config_yaml) + blob(char_tokenizer) + bytes([0, 0, 0, 0, 0, 0]) +
    bytes([0, 0]) + tensor(b"w", [3], 0, f32) + bytes([1, 1]))
