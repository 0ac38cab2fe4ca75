#!/usr/bin/python3
"""KV-cached greedy decoding in plain PyTorch, to set against `kiln bench --generate`.

The model is the reference GPT-2 of ../shared/bench/torch_reference.py (its weights and
initialisation); this file adds the decoding loop with a key/value cache that the reference
lacks. The flags and the JSON line match kiln's:

  /usr/bin/python3 bench/torch_generate.py --vocab-size 50257 --n-layer 12 --n-head 12 --d-model 768 \
      --batch-size 1 --prompt-len 32 --new-tokens 200 --threads 2
"""
import argparse
import json
import math
import os
import resource
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REFERENCE = os.environ.get("KILN_TORCH_REFERENCE",
                           os.path.join(HERE, "..", "..", "shared", "bench"))
sys.path.insert(0, REFERENCE)
import torch_reference as ref  # noqa: E402  (sets OMP_WAIT_POLICY before torch loads)
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402


def step(model, ids, keys, values, start):
    """ids [B, T] at positions [start, start + T) -> logits [B, T, V]; fills the caches."""
    t = model.transformer
    B, T = ids.shape
    x = t.wte(ids) + t.wpe(torch.arange(start, start + T))
    for layer, block in enumerate(t.h):
        a = block.attn
        C = x.shape[-1]
        hd = C // a.n_head
        q, k, v = a.c_attn(block.ln_1(x)).split(C, dim=2)
        q, k, v = (z.view(B, T, a.n_head, hd).transpose(1, 2) for z in (q, k, v))
        keys[layer][:, :, start:start + T] = k
        values[layer][:, :, start:start + T] = v
        k_all = keys[layer][:, :, :start + T]
        v_all = values[layer][:, :, :start + T]
        att = (q @ k_all.transpose(-2, -1)) * (1.0 / math.sqrt(hd))  # [B, H, T, start + T]
        if T > 1:  # the prompt: causal within it
            mask = torch.ones(T, start + T, dtype=torch.bool).triu(start + 1)
            att = att.masked_fill(mask, float("-inf"))
        y = (F.softmax(att, dim=-1) @ v_all).transpose(1, 2).reshape(B, T, C)
        x = x + a.c_proj(y)
        x = x + block.mlp(block.ln_2(x))
    return model.lm_head(t.ln_f(x))


def decode(model, prompt, new_tokens):
    cfg = model.cfg
    B = prompt.shape[0]
    hd = cfg.d_model // cfg.n_head
    shape = (B, cfg.n_head, prompt.shape[1] + new_tokens, hd)
    keys = [torch.empty(shape) for _ in range(cfg.n_layer)]
    values = [torch.empty(shape) for _ in range(cfg.n_layer)]
    begin = time.perf_counter()
    logits = step(model, prompt, keys, values, 0)
    prefill = time.perf_counter() - begin
    times, tokens = [], []
    position = prompt.shape[1]
    for n in range(new_tokens):
        nxt = logits[:, -1].argmax(-1, keepdim=True)  # [B, 1]
        tokens.append(nxt)
        if n + 1 == new_tokens:
            break
        begin = time.perf_counter()
        logits = step(model, nxt, keys, values, position)
        times.append(time.perf_counter() - begin)
        position += 1
    return prefill, times, torch.cat(tokens, dim=1)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--vocab-size", type=int, default=65)
    p.add_argument("--n-layer", type=int, default=4)
    p.add_argument("--n-head", type=int, default=4)
    p.add_argument("--d-model", type=int, default=128)
    p.add_argument("--d-ff", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--prompt-len", type=int, default=32)
    p.add_argument("--new-tokens", type=int, default=200)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=1337)
    a = p.parse_args()
    ref.set_threads(a.threads)  # torch's and OpenBLAS's pools, as the training reference does
    torch.manual_seed(a.seed)
    cfg = ref.Config(a.vocab_size, a.n_layer, a.n_head, a.d_model, a.d_ff,
                     max_pos=a.prompt_len + a.new_tokens)
    model = ref.GPT(cfg).eval()
    gen = torch.Generator().manual_seed(a.seed + 1)
    prompt = torch.randint(0, a.vocab_size, (a.batch_size, a.prompt_len), generator=gen)
    with torch.no_grad():
        decode(model, prompt, min(8, a.new_tokens))  # warm
        prefill, times, _ = decode(model, prompt, a.new_tokens)
    print(json.dumps({
        "model": "gpt", "mode": "generate", "vocab_size": a.vocab_size, "n_layer": a.n_layer,
        "n_head": a.n_head, "d_model": a.d_model, "batch_size": a.batch_size,
        "prompt_len": a.prompt_len, "new_tokens": a.new_tokens, "threads": a.threads,
        "prefill_ms": round(1e3 * prefill, 2),
        "ms_per_step_median": round(1e3 * statistics.median(times), 3),
        "tokens_per_s": round(a.batch_size * len(times) / sum(times), 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "framework": "torch", "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
