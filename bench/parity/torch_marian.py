"""A plain-PyTorch MarianMTModel (no transformers): the post-norm encoder-decoder with HF's
parameter names and math, used by the parity check (torch_marian_parity.py) and the speed
comparison (bench/torch_marian_bench.py).

Differences from transformers, on purpose: the token embedding has no padding_idx (kiln's
pad row is trained like any other: it is the decoder start token), and final_logits_bias is a
buffer (as in HF), never trained.
"""
import math

import torch
import torch.nn.functional as F
from torch import nn

ACTIVATIONS = {
    "swish": F.silu,
    "gelu": F.gelu,
    "gelu_new": lambda x: F.gelu(x, approximate="tanh"),
    "relu": F.relu,
}


def sinusoidal_positions(n, d):
    """HF Marian's table: sines of pos / 10000^(2i/d) in the first half, cosines in the second."""
    pos = torch.arange(n, dtype=torch.float64)[:, None]
    i = torch.arange(d // 2, dtype=torch.float64)[None, :]
    angle = pos / torch.pow(10000.0, 2.0 * i / d)
    return torch.cat([torch.sin(angle), torch.cos(angle)], dim=1).float()


class Attention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.k_proj, self.v_proj = nn.Linear(d, d), nn.Linear(d, d)
        self.q_proj, self.out_proj = nn.Linear(d, d), nn.Linear(d, d)

    def forward(self, x, memory, key_mask=None, causal=False):
        # x: [B, Tq, d], memory: [B, Tk, d], key_mask: [B, Tk] (1 = token) -> [B, Tq, d]
        B, Tq, d = x.shape
        Tk, H = memory.shape[1], self.heads
        hd = d // H
        q = self.q_proj(x).view(B, Tq, H, hd).transpose(1, 2) * hd ** -0.5
        k = self.k_proj(memory).view(B, Tk, H, hd).transpose(1, 2)
        v = self.v_proj(memory).view(B, Tk, H, hd).transpose(1, 2)
        scores = q @ k.transpose(-1, -2)  # [B, H, Tq, Tk]
        if key_mask is not None:
            scores = scores.masked_fill(key_mask[:, None, None, :] == 0, float("-inf"))
        if causal:
            future = torch.ones(Tq, Tk, dtype=torch.bool).triu(1)
            scores = scores.masked_fill(future, float("-inf"))
        y = torch.softmax(scores, dim=-1) @ v  # [B, H, Tq, hd]
        return self.out_proj(y.transpose(1, 2).reshape(B, Tq, d))


class EncoderLayer(nn.Module):
    def __init__(self, d, heads, ff, act):
        super().__init__()
        self.self_attn = Attention(d, heads)
        self.self_attn_layer_norm = nn.LayerNorm(d)
        self.fc1, self.fc2 = nn.Linear(d, ff), nn.Linear(ff, d)
        self.final_layer_norm = nn.LayerNorm(d)
        self.act = ACTIVATIONS[act]

    def forward(self, x, mask):
        x = self.self_attn_layer_norm(x + self.self_attn(x, x, mask))
        return self.final_layer_norm(x + self.fc2(self.act(self.fc1(x))))


class DecoderLayer(nn.Module):
    def __init__(self, d, heads, ff, act):
        super().__init__()
        self.self_attn = Attention(d, heads)
        self.self_attn_layer_norm = nn.LayerNorm(d)
        self.encoder_attn = Attention(d, heads)
        self.encoder_attn_layer_norm = nn.LayerNorm(d)
        self.fc1, self.fc2 = nn.Linear(d, ff), nn.Linear(ff, d)
        self.final_layer_norm = nn.LayerNorm(d)
        self.act = ACTIVATIONS[act]

    def forward(self, x, encoder, source_mask):
        x = self.self_attn_layer_norm(x + self.self_attn(x, x, causal=True))
        x = self.encoder_attn_layer_norm(x + self.encoder_attn(x, encoder, source_mask))
        return self.final_layer_norm(x + self.fc2(self.act(self.fc1(x))))


class Stack(nn.Module):
    def __init__(self, layers):
        super().__init__()
        self.layers = nn.ModuleList(layers)


class Body(nn.Module):
    def __init__(self, vocab, d, enc, dec, heads, ff, act):
        super().__init__()
        self.shared = nn.Embedding(vocab, d)  # no padding_idx: see the module comment
        self.encoder = Stack([EncoderLayer(d, heads, ff, act) for _ in range(enc)])
        self.decoder = Stack([DecoderLayer(d, heads, ff, act) for _ in range(dec)])


class MarianMT(nn.Module):
    """Names as HF's MarianMTModel: model.shared.weight, model.encoder.layers.0..., and the
    final_logits_bias buffer; lm_head is model.shared (tied)."""

    def __init__(self, vocab, d, enc, dec, heads, ff, act="swish", scale_embedding=True,
                 max_positions=512):
        super().__init__()
        self.model = Body(vocab, d, enc, dec, heads, ff, act)
        self.register_buffer("final_logits_bias", torch.zeros(1, vocab))
        self.register_buffer("positions", sinusoidal_positions(max_positions, d),
                             persistent=False)
        self.scale = math.sqrt(d) if scale_embedding else 1.0
        # HF Marian's initialisation (init_std 0.02, zero biases); the parity check then loads
        # kiln's weights over it.
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, std=0.02)
            if isinstance(module, nn.Linear):
                nn.init.zeros_(module.bias)

    def embed(self, ids):
        return self.model.shared(ids) * self.scale + self.positions[: ids.shape[1]]

    def forward(self, input_ids, attention_mask, decoder_input_ids):
        # -> logits [B, T_dec, V], encoder_last_hidden_state [B, S, d]
        x = self.embed(input_ids)
        for layer in self.model.encoder.layers:
            x = layer(x, attention_mask)
        y = self.embed(decoder_input_ids)
        for layer in self.model.decoder.layers:
            y = layer(y, x, attention_mask)
        return y @ self.model.shared.weight.t() + self.final_logits_bias, x

    def loss(self, input_ids, attention_mask, decoder_input_ids, labels, label_smoothing):
        logits, _ = self(input_ids, attention_mask, decoder_input_ids)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1),
                               ignore_index=-100, label_smoothing=label_smoothing)
