"""Writes module_names.json: the module tree of every torch.nn module tapegrad
has, as torch 1.13 builds it from the constructor arguments each case is named
after: named_modules() (name and class), named_parameters() (name and shape),
named_buffers() (name, shape and dtype) and the state_dict() keys, each in
torch's order. tests/nn/test_module_names.cpp builds the same modules in
tapegrad and compares.

A few cases are of options that torch 1.13 lacks (nn.RMSNorm, torch 2.4;
LayerNorm's and the Transformer layers' `bias`, torch 2.1). Those are built
here as the newer torch's constructors build them, from 1.13's parts (the
`emulates` field says which), since the tree is all that is compared.

Run with Debian's /usr/bin/python3 (python3-torch):
    /usr/bin/python3 tests/reference/make_module_names_reference.py
"""
import json
import os

import torch
from torch import nn

cases = {}


def describe(module, emulates=None):
    entry = {
        "modules": [[name, type(m).__name__] for name, m in module.named_modules()],
        "parameters": [[name, list(p.shape)] for name, p in module.named_parameters()],
        "buffers": [[name, list(b.shape), str(b.dtype).replace("torch.", "")] for name, b in module.named_buffers()],
        "state_dict": list(module.state_dict().keys()),
    }
    if emulates:
        entry["emulates"] = emulates
    return entry


def case(name, module, emulates=None):
    assert name not in cases, name
    cases[name] = describe(module, emulates)


# ---- layers with parameters ---------------------------------------------------------
case("Linear(4, 3)", nn.Linear(4, 3))
case("Linear(4, 3, bias=False)", nn.Linear(4, 3, bias=False))
case("Conv1d(4, 6, 3)", nn.Conv1d(4, 6, 3))
case("Conv1d(4, 6, 3, groups=2, bias=False)", nn.Conv1d(4, 6, 3, groups=2, bias=False))
case("Conv2d(3, 8, 3)", nn.Conv2d(3, 8, 3))
case("Conv2d(4, 8, (3, 5), stride=2, padding=1, groups=2, bias=False)",
     nn.Conv2d(4, 8, (3, 5), stride=2, padding=1, groups=2, bias=False))
case("ConvTranspose1d(4, 6, 3, groups=2)", nn.ConvTranspose1d(4, 6, 3, groups=2))
case("ConvTranspose2d(4, 6, (2, 3), groups=2)", nn.ConvTranspose2d(4, 6, (2, 3), groups=2))
case("ConvTranspose2d(3, 5, 3, bias=False)", nn.ConvTranspose2d(3, 5, 3, bias=False))
case("BatchNorm1d(5)", nn.BatchNorm1d(5))
case("BatchNorm1d(5, affine=False)", nn.BatchNorm1d(5, affine=False))
case("BatchNorm2d(5, momentum=None)", nn.BatchNorm2d(5, momentum=None))
case("BatchNorm2d(5, track_running_stats=False)", nn.BatchNorm2d(5, track_running_stats=False))
case("BatchNorm2d(5, affine=False, track_running_stats=False)",
     nn.BatchNorm2d(5, affine=False, track_running_stats=False))
case("LayerNorm(6)", nn.LayerNorm(6))
case("LayerNorm([3, 4])", nn.LayerNorm([3, 4]))
case("LayerNorm([3, 4], elementwise_affine=False)", nn.LayerNorm([3, 4], elementwise_affine=False))


def layer_norm_without_bias(shape):
    """torch 2.1's LayerNorm(shape, bias=False): register_parameter("bias", None)."""
    m = nn.LayerNorm(shape)
    m.bias = None
    return m


case("LayerNorm(6, bias=False)", layer_norm_without_bias(6), "torch 2.1 LayerNorm(bias=False)")


class RMSNorm(nn.Module):
    """torch 2.4's nn.RMSNorm.__init__ (the parameters it registers)."""

    def __init__(self, normalized_shape, eps=None, elementwise_affine=True):
        super().__init__()
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = nn.Parameter(torch.empty(self.normalized_shape))
        else:
            self.register_parameter("weight", None)


case("RMSNorm(6)", getattr(nn, "RMSNorm", RMSNorm)(6), "torch 2.4 nn.RMSNorm")
case("RMSNorm([3, 4], elementwise_affine=False)",
     getattr(nn, "RMSNorm", RMSNorm)([3, 4], elementwise_affine=False), "torch 2.4 nn.RMSNorm")
case("GroupNorm(2, 6)", nn.GroupNorm(2, 6))
case("GroupNorm(3, 6, affine=False)", nn.GroupNorm(3, 6, affine=False))
case("InstanceNorm1d(4)", nn.InstanceNorm1d(4))
case("InstanceNorm2d(3, affine=True, track_running_stats=True)",
     nn.InstanceNorm2d(3, affine=True, track_running_stats=True))
case("InstanceNorm1d(5, track_running_stats=True)", nn.InstanceNorm1d(5, track_running_stats=True))
case("PReLU()", nn.PReLU())
case("PReLU(3, 0.1)", nn.PReLU(3, 0.1))
case("Embedding(10, 4)", nn.Embedding(10, 4))
case("Embedding(10, 4, padding_idx=0, max_norm=1.0)", nn.Embedding(10, 4, padding_idx=0, max_norm=1.0))

# ---- recurrent layers -----------------------------------------------------------------
case("RNN(4, 5)", nn.RNN(4, 5))
case("RNN(4, 5, num_layers=2, nonlinearity='relu', bias=False, bidirectional=True)",
     nn.RNN(4, 5, num_layers=2, nonlinearity="relu", bias=False, bidirectional=True))
case("LSTM(4, 5, num_layers=2, bidirectional=True)", nn.LSTM(4, 5, num_layers=2, bidirectional=True))
case("LSTM(4, 5, bias=False, batch_first=True)", nn.LSTM(4, 5, bias=False, batch_first=True))
case("GRU(4, 5, num_layers=3, dropout=0.2)", nn.GRU(4, 5, num_layers=3, dropout=0.2))
case("GRU(4, 5, bidirectional=True)", nn.GRU(4, 5, bidirectional=True))
case("RNNCell(4, 5)", nn.RNNCell(4, 5))
case("RNNCell(4, 5, bias=False, nonlinearity='relu')", nn.RNNCell(4, 5, bias=False, nonlinearity="relu"))
case("LSTMCell(4, 5)", nn.LSTMCell(4, 5))
case("LSTMCell(4, 5, bias=False)", nn.LSTMCell(4, 5, bias=False))
case("GRUCell(4, 5)", nn.GRUCell(4, 5))
case("GRUCell(4, 5, bias=False)", nn.GRUCell(4, 5, bias=False))

# ---- attention and transformers -------------------------------------------------------
case("MultiheadAttention(8, 2)", nn.MultiheadAttention(8, 2))
case("MultiheadAttention(8, 2, bias=False)", nn.MultiheadAttention(8, 2, bias=False))
case("MultiheadAttention(8, 4, kdim=5, vdim=3)", nn.MultiheadAttention(8, 4, kdim=5, vdim=3))
case("MultiheadAttention(8, 2, dropout=0.1, batch_first=True)",
     nn.MultiheadAttention(8, 2, dropout=0.1, batch_first=True))

D, NH, FF = 8, 2, 16
case("TransformerEncoderLayer(8, 2, dim_feedforward=16)", nn.TransformerEncoderLayer(D, NH, dim_feedforward=FF))
case("TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, activation='gelu', norm_first=True)",
     nn.TransformerEncoderLayer(D, NH, dim_feedforward=FF, dropout=0.0, activation="gelu", norm_first=True))
case("TransformerDecoderLayer(8, 2, dim_feedforward=16)", nn.TransformerDecoderLayer(D, NH, dim_feedforward=FF))
case("TransformerDecoderLayer(8, 2, dim_feedforward=16, batch_first=True, norm_first=True)",
     nn.TransformerDecoderLayer(D, NH, dim_feedforward=FF, batch_first=True, norm_first=True))


def without_bias(layer):
    """torch 2.1's Transformer*Layer(bias=False): the same children, each
    without its bias (Linear(bias=False), LayerNorm(bias=False),
    MultiheadAttention(bias=False)); assigned in place, so the order stays."""
    for name, child in list(layer.named_children()):
        if isinstance(child, nn.MultiheadAttention):
            setattr(layer, name, nn.MultiheadAttention(D, NH, bias=False))
        elif isinstance(child, nn.Linear):
            setattr(layer, name, nn.Linear(child.in_features, child.out_features, bias=False))
        elif isinstance(child, nn.LayerNorm):
            child.bias = None
    return layer


case("TransformerEncoderLayer(8, 2, dim_feedforward=16, bias=False)",
     without_bias(nn.TransformerEncoderLayer(D, NH, dim_feedforward=FF)),
     "torch 2.1 TransformerEncoderLayer(bias=False)")
case("TransformerDecoderLayer(8, 2, dim_feedforward=16, bias=False)",
     without_bias(nn.TransformerDecoderLayer(D, NH, dim_feedforward=FF)),
     "torch 2.1 TransformerDecoderLayer(bias=False)")
case("TransformerEncoder(TransformerEncoderLayer(8, 2, dim_feedforward=16), 2)",
     nn.TransformerEncoder(nn.TransformerEncoderLayer(D, NH, dim_feedforward=FF), 2))
case("TransformerEncoder(TransformerEncoderLayer(8, 2, dim_feedforward=16), 2, norm=LayerNorm(8))",
     nn.TransformerEncoder(nn.TransformerEncoderLayer(D, NH, dim_feedforward=FF), 2, norm=nn.LayerNorm(D)))
case("TransformerDecoder(TransformerDecoderLayer(8, 2, dim_feedforward=16), 2, norm=LayerNorm(8))",
     nn.TransformerDecoder(nn.TransformerDecoderLayer(D, NH, dim_feedforward=FF), 2, norm=nn.LayerNorm(D)))
case("TransformerDecoder(TransformerDecoderLayer(8, 2, dim_feedforward=16), 1)",
     nn.TransformerDecoder(nn.TransformerDecoderLayer(D, NH, dim_feedforward=FF), 1))
case("Transformer(d_model=8, nhead=2, num_encoder_layers=2, num_decoder_layers=1, dim_feedforward=16)",
     nn.Transformer(d_model=D, nhead=NH, num_encoder_layers=2, num_decoder_layers=1, dim_feedforward=FF))

# ---- modules without state --------------------------------------------------------------
for name, module in [
    ("Dropout(0.3)", nn.Dropout(0.3)),
    ("Identity()", nn.Identity()),
    ("Flatten()", nn.Flatten()),
    ("Unflatten(1, (2, 5))", nn.Unflatten(1, (2, 5))),
    ("ReLU()", nn.ReLU()),
    ("LeakyReLU(0.2)", nn.LeakyReLU(0.2)),
    ("GELU()", nn.GELU()),
    ("GELU(approximate='tanh')", nn.GELU(approximate="tanh")),
    ("ReLU6()", nn.ReLU6()),
    ("CosineSimilarity(dim=0)", nn.CosineSimilarity(dim=0)),
    ("PairwiseDistance(p=1.0, keepdim=True)", nn.PairwiseDistance(p=1.0, keepdim=True)),
    ("Sigmoid()", nn.Sigmoid()),
    ("Tanh()", nn.Tanh()),
    ("Softmax(dim=1)", nn.Softmax(dim=1)),
    ("LogSoftmax(dim=1)", nn.LogSoftmax(dim=1)),
    ("Softplus()", nn.Softplus()),
    ("SiLU()", nn.SiLU()),
    ("ELU()", nn.ELU()),
    ("SELU()", nn.SELU()),
    ("CELU()", nn.CELU()),
    ("Mish()", nn.Mish()),
    ("Hardtanh()", nn.Hardtanh()),
    ("Hardswish()", nn.Hardswish()),
    ("Hardsigmoid()", nn.Hardsigmoid()),
    ("LogSigmoid()", nn.LogSigmoid()),
    ("Softsign()", nn.Softsign()),
    ("GLU()", nn.GLU()),
    ("MaxPool2d(2)", nn.MaxPool2d(2)),
    ("AvgPool2d(2)", nn.AvgPool2d(2)),
    ("AvgPool1d(2)", nn.AvgPool1d(2)),
    ("AdaptiveAvgPool2d(3)", nn.AdaptiveAvgPool2d(3)),
    ("AdaptiveAvgPool1d(3)", nn.AdaptiveAvgPool1d(3)),
    ("MaxPool1d(2)", nn.MaxPool1d(2)),
    ("AdaptiveMaxPool2d(3)", nn.AdaptiveMaxPool2d(3)),
    ("AdaptiveMaxPool1d(3)", nn.AdaptiveMaxPool1d(3)),
    ("Upsample(scale_factor=2)", nn.Upsample(scale_factor=2)),
    ("PixelShuffle(2)", nn.PixelShuffle(2)),
    ("PixelUnshuffle(2)", nn.PixelUnshuffle(2)),
    ("MSELoss()", nn.MSELoss()),
    ("L1Loss()", nn.L1Loss()),
    ("HuberLoss()", nn.HuberLoss()),
    ("SmoothL1Loss()", nn.SmoothL1Loss()),
    ("KLDivLoss()", nn.KLDivLoss()),
    ("PoissonNLLLoss()", nn.PoissonNLLLoss()),
    ("GaussianNLLLoss()", nn.GaussianNLLLoss()),
    ("CosineEmbeddingLoss()", nn.CosineEmbeddingLoss()),
    ("MarginRankingLoss()", nn.MarginRankingLoss()),
    ("TripletMarginLoss()", nn.TripletMarginLoss()),
    ("CTCLoss()", nn.CTCLoss()),
    ("CrossEntropyLoss()", nn.CrossEntropyLoss()),
]:
    case(name, module)

# ---- losses whose weights are buffers ---------------------------------------------------
case("CrossEntropyLoss(weight=torch.ones(3))", nn.CrossEntropyLoss(weight=torch.ones(3)))
case("NLLLoss(weight=torch.ones(3))", nn.NLLLoss(weight=torch.ones(3)))
case("BCELoss(weight=torch.ones(3))", nn.BCELoss(weight=torch.ones(3)))
case("BCEWithLogitsLoss(weight=torch.ones(3), pos_weight=torch.ones(3))",
     nn.BCEWithLogitsLoss(weight=torch.ones(3), pos_weight=torch.ones(3)))
case("BCEWithLogitsLoss(pos_weight=torch.ones(3))", nn.BCEWithLogitsLoss(pos_weight=torch.ones(3)))
case("MultiLabelSoftMarginLoss(weight=torch.ones(3))", nn.MultiLabelSoftMarginLoss(weight=torch.ones(3)))

# ---- containers ---------------------------------------------------------------------------
case("Sequential(Linear(4, 8), ReLU(), Dropout(0.2), Linear(8, 2))",
     nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.2), nn.Linear(8, 2)))
case("Sequential(Conv2d(3, 4, 3), BatchNorm2d(4), Sequential(ReLU(), Flatten()), Linear(16, 2))",
     nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Sequential(nn.ReLU(), nn.Flatten()), nn.Linear(16, 2)))
shared = nn.Linear(3, 3)
case("Sequential(shared, ReLU(), shared)", nn.Sequential(shared, nn.ReLU(), shared))
case("ModuleList([Linear(2, 3), LSTM(3, 4), BatchNorm1d(4)])",
     nn.ModuleList([nn.Linear(2, 3), nn.LSTM(3, 4), nn.BatchNorm1d(4)]))
case("ModuleDict({'encoder': Linear(4, 8), 'norm': LayerNorm(8), 'act': GELU()})",
     nn.ModuleDict({"encoder": nn.Linear(4, 8), "norm": nn.LayerNorm(8), "act": nn.GELU()}))
case("ParameterList([torch.ones(2, 3), torch.ones(4)])",
     nn.ParameterList([nn.Parameter(torch.ones(2, 3)), nn.Parameter(torch.ones(4))]))
case("ParameterDict({'alpha': torch.ones(2), 'beta': torch.ones(3, 1)})",
     nn.ParameterDict({"alpha": nn.Parameter(torch.ones(2)), "beta": nn.Parameter(torch.ones(3, 1))}))


class Net(nn.Module):
    """A user's model: an own parameter and buffer among children."""

    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(4, 8), nn.ReLU())
        self.scale = nn.Parameter(torch.ones(1))
        self.bn = nn.BatchNorm1d(8)
        self.register_buffer("steps", torch.zeros((), dtype=torch.int64))
        self.heads = nn.ModuleDict({"cls": nn.Linear(8, 3), "reg": nn.Linear(8, 1)})
        self.block = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, batch_first=True)


case("Net()", Net())

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "module_names.json")
with open(out, "w") as f:
    # One line per list, so that a change shows as the lines of the lists it changes.
    lines = []
    for name, entry in cases.items():
        fields = ",\n".join(f"   {json.dumps(key)}: {json.dumps(value)}" for key, value in entry.items())
        lines.append(f"  {json.dumps(name)}: {{\n{fields}\n  }}")
    cases_text = ",\n".join(lines)
    f.write(f'{{\n "torch": {json.dumps(torch.__version__)},\n "cases": {{\n{cases_text}\n }}\n}}\n')
print(f"wrote {len(cases)} cases to {out}")
