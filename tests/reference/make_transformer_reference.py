"""Writes transformer.json: torch 1.13's MultiheadAttention and Transformer
modules in float64, eval mode (dropout off), on fixed inputs and masks: each
case's parameters (state_dict, by name), inputs, output (and attention
weights), and the gradients of sum(out * w) (w = 1, 2, 3, ... over out,
scaled down) for every parameter and the float inputs. The C++ test builds
the same module, loads the parameters by name and compares.

Run with Debian's /usr/bin/python3 (python3-torch):
    /usr/bin/python3 tests/reference/make_transformer_reference.py
"""
import json
import os

import torch
from torch import nn

torch.manual_seed(4321)
torch.set_default_dtype(torch.float64)
cases = {}


def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def tensor_entry(t):
    return {"shape": list(t.shape), "values": flat(t), "dtype": "bool" if t.dtype == torch.bool else "float64"}


def run(name, module, config, inputs, call):
    """inputs: dict name -> tensor (float inputs get gradients); call(module, inputs) -> out or (out, weights)."""
    module.eval()
    for t in inputs.values():
        if t.is_floating_point():
            t.requires_grad_(True)
    result = call(module, inputs)
    out, weights = result if isinstance(result, tuple) else (result, None)
    w = torch.arange(1, out.numel() + 1, dtype=torch.float64).reshape(out.shape) / out.numel()
    (out * w).sum().backward()
    entry = {
        "config": config,
        "params": {k: tensor_entry(v) for k, v in module.state_dict().items()},
        "inputs": {k: tensor_entry(v) for k, v in inputs.items()},
        "out": tensor_entry(out),
        "param_grads": {k: flat(p.grad) for k, p in module.named_parameters()},
        "input_grads": {k: flat(t.grad) for k, t in inputs.items() if t.is_floating_point()},
    }
    if weights is not None:
        entry["weights"] = tensor_entry(weights)
    cases[name] = entry


def causal_float(n):
    return nn.Transformer.generate_square_subsequent_mask(n).to(torch.float64)


# ---- MultiheadAttention ------------------------------------------------------------
E, H, L, S, N = 8, 2, 5, 6, 2
kpm = torch.zeros(N, S, dtype=torch.bool)
kpm[0, 4:] = True
kpm[1, 5] = True
run("mha, seq first, key padding + float mask, weights",
    nn.MultiheadAttention(E, H), {"embed_dim": E, "num_heads": H},
    {"query": torch.randn(L, N, E), "key": torch.randn(S, N, E), "value": torch.randn(S, N, E),
     "key_padding_mask": kpm, "attn_mask": torch.randn(L, S)},
    lambda m, x: m(x["query"], x["key"], x["value"], key_padding_mask=x["key_padding_mask"],
                   attn_mask=x["attn_mask"]))
bool_mask = torch.rand(L, S) > 0.6
bool_mask[:, 0] = False
run("mha, batch first, kdim/vdim, bool mask, no weights",
    nn.MultiheadAttention(E, 4, kdim=5, vdim=3, batch_first=True),
    {"embed_dim": E, "num_heads": 4, "kdim": 5, "vdim": 3, "batch_first": True},
    {"query": torch.randn(N, L, E), "key": torch.randn(N, S, 5), "value": torch.randn(N, S, 3),
     "attn_mask": bool_mask},
    lambda m, x: m(x["query"], x["key"], x["value"], attn_mask=x["attn_mask"], need_weights=False)[0])
head_mask = torch.rand(N * H, L, L) > 0.6
head_mask[:, :, 1] = False
run("mha, self, per-head bool mask, weights per head",
    nn.MultiheadAttention(E, H, batch_first=True), {"embed_dim": E, "num_heads": H, "batch_first": True},
    {"query": torch.randn(N, L, E), "attn_mask": head_mask},
    lambda m, x: m(x["query"], x["query"], x["query"], attn_mask=x["attn_mask"], average_attn_weights=False))
run("mha, unbatched, no bias",
    nn.MultiheadAttention(E, H, bias=False), {"embed_dim": E, "num_heads": H, "bias": False},
    {"query": torch.randn(L, E), "key": torch.randn(S, E), "value": torch.randn(S, E)},
    lambda m, x: m(x["query"], x["key"], x["value"]))

# ---- Transformer layers --------------------------------------------------------------
D, NH, FF = 8, 2, 12
layer = dict(dim_feedforward=FF, dropout=0.0)
src_kpm = torch.zeros(N, L, dtype=torch.bool)
src_kpm[1, 3:] = True
run("encoder layer, post-norm relu",
    nn.TransformerEncoderLayer(D, NH, **layer), {"d_model": D, "nhead": NH, "dim_feedforward": FF},
    {"src": torch.randn(L, N, D), "src_mask": causal_float(L), "src_key_padding_mask": src_kpm},
    lambda m, x: m(x["src"], src_mask=x["src_mask"], src_key_padding_mask=x["src_key_padding_mask"]))
run("encoder layer, pre-norm gelu, batch first, eps",
    nn.TransformerEncoderLayer(D, NH, **layer, activation="gelu", batch_first=True, norm_first=True,
                               layer_norm_eps=1e-3),
    {"d_model": D, "nhead": NH, "dim_feedforward": FF, "activation": "gelu", "batch_first": True,
     "norm_first": True, "layer_norm_eps": 1e-3},
    {"src": torch.randn(N, L, D)},
    lambda m, x: m(x["src"]))
run("decoder layer, post-norm, masks",
    nn.TransformerDecoderLayer(D, NH, **layer), {"d_model": D, "nhead": NH, "dim_feedforward": FF},
    {"tgt": torch.randn(L, N, D), "memory": torch.randn(S, N, D), "tgt_mask": causal_float(L),
     "memory_key_padding_mask": kpm},
    lambda m, x: m(x["tgt"], x["memory"], tgt_mask=x["tgt_mask"],
                   memory_key_padding_mask=x["memory_key_padding_mask"]))
run("decoder layer, pre-norm gelu, batch first",
    nn.TransformerDecoderLayer(D, NH, **layer, activation="gelu", batch_first=True, norm_first=True),
    {"d_model": D, "nhead": NH, "dim_feedforward": FF, "activation": "gelu", "batch_first": True,
     "norm_first": True},
    {"tgt": torch.randn(N, L, D), "memory": torch.randn(N, S, D), "memory_mask": torch.randn(L, S)},
    lambda m, x: m(x["tgt"], x["memory"], memory_mask=x["memory_mask"]))
run("encoder, 2 layers, final norm",
    nn.TransformerEncoder(nn.TransformerEncoderLayer(D, NH, **layer, batch_first=True), 2, norm=nn.LayerNorm(D)),
    {"d_model": D, "nhead": NH, "dim_feedforward": FF, "batch_first": True, "num_layers": 2, "final_norm": True},
    {"src": torch.randn(N, L, D), "src_key_padding_mask": src_kpm},
    lambda m, x: m(x["src"], src_key_padding_mask=x["src_key_padding_mask"]))
run("transformer, 2 encoder + 1 decoder layers",
    nn.Transformer(D, NH, num_encoder_layers=2, num_decoder_layers=1, **layer),
    {"d_model": D, "nhead": NH, "dim_feedforward": FF, "num_encoder_layers": 2, "num_decoder_layers": 1},
    {"src": torch.randn(S, N, D), "tgt": torch.randn(L, N, D), "tgt_mask": causal_float(L),
     "src_key_padding_mask": kpm, "memory_key_padding_mask": kpm},
    lambda m, x: m(x["src"], x["tgt"], tgt_mask=x["tgt_mask"], src_key_padding_mask=x["src_key_padding_mask"],
                   memory_key_padding_mask=x["memory_key_padding_mask"]))

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "transformer.json")
with open(out, "w") as f:
    # JSON has no infinities: the causal masks' -inf entries are written as null.
    text = json.dumps({"torch": torch.__version__, "cases": cases}, sort_keys=True)
    assert "NaN" not in text and "Infinity" not in text.replace("-Infinity", "")
    f.write(text.replace("-Infinity", "null") + "\n")
