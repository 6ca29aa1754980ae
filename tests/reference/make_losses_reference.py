#!/usr/bin/python3
"""PyTorch's KLDivLoss, SmoothL1Loss, CosineEmbeddingLoss, MarginRankingLoss,
TripletMarginLoss, PoissonNLLLoss, GaussianNLLLoss and MultiLabelSoftMarginLoss,
for tests/nn/test_losses_more.cpp.

Run with an interpreter that has torch (Debian's /usr/bin/python3 here):
    /usr/bin/python3 tests/reference/make_losses_reference.py
It rewrites tests/reference/losses.json. Each case names the function of
torch.nn.functional, its keyword options, its tensor inputs (float64,
flattened row-major; "grad" says whether the input requires grad), the output,
and the gradient of each such input of sum(output * w), w = 1, 2, 3, ... over
the output's elements (w = 1 for a scalar output).
"""
import json
import os
import warnings

import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
warnings.simplefilter("ignore")  # kl_div's note about reduction='mean'


def tensor_json(x):
    return {"shape": list(x.shape), "values": [float(v) for v in x.detach().reshape(-1).tolist()]}


def case(fn, inputs, grads, **options):
    leaves = [x.clone().detach().requires_grad_(g) for x, g in zip(inputs, grads)]
    out = getattr(F, fn)(*leaves, **options)
    w = torch.arange(1, out.numel() + 1, dtype=out.dtype).reshape(out.shape)
    (out * w).sum().backward()
    return {
        "fn": fn,
        "options": options,
        "inputs": [dict(tensor_json(x), grad=g) for x, g in zip(inputs, grads)],
        "output": tensor_json(out),
        "grads": [tensor_json(x.grad) if g else None for x, g in zip(leaves, grads)],
    }


def main():
    torch.manual_seed(15)
    cases = {}
    logp = torch.log_softmax(torch.randn(3, 4), 1)
    q = torch.softmax(torch.randn(3, 4), 1)
    q_zero = q.clone()
    q_zero[0, 1] = 0
    q_zero[2, 3] = 0
    for red in ["none", "mean", "sum", "batchmean"]:
        cases[f"kl_div {red}"] = case("kl_div", [logp, q], [True, True], reduction=red)
    cases["kl_div log_target batchmean"] = case("kl_div", [logp, torch.log(q)], [True, True], reduction="batchmean",
                                                log_target=True)
    cases["kl_div log_target none"] = case("kl_div", [logp, torch.log(q)], [True, True], reduction="none",
                                           log_target=True)
    cases["kl_div zero targets sum"] = case("kl_div", [logp, q_zero], [True, False], reduction="sum")
    cases["kl_div 0-d batchmean"] = case("kl_div", [torch.tensor(-0.7), torch.tensor(0.3)], [True, True],
                                         reduction="batchmean")

    x = torch.randn(3, 4)
    y = x + torch.tensor([[0.1, -2.2, 0.4, 1.5], [-0.3, 0.05, 3.0, -0.8], [0.6, -0.2, -1.2, 0.7]])
    cases["smooth_l1_loss mean"] = case("smooth_l1_loss", [x, y], [True, True])
    cases["smooth_l1_loss beta 0.5 sum"] = case("smooth_l1_loss", [x, y], [True, True], reduction="sum", beta=0.5)
    cases["smooth_l1_loss beta 2 none"] = case("smooth_l1_loss", [x, y], [True, True], reduction="none", beta=2.0)
    cases["smooth_l1_loss beta 0 none"] = case("smooth_l1_loss", [x, y], [True, True], reduction="none", beta=0.0)

    a, b = torch.randn(5, 3), torch.randn(5, 3)
    b[1] = -0.8 * a[1]  # a pair with cos = -1
    labels = torch.tensor([1.0, -1.0, 1.0, -1.0, -1.0])
    cases["cosine_embedding_loss mean"] = case("cosine_embedding_loss", [a, b, labels], [True, True, False])
    cases["cosine_embedding_loss margin 0.2 sum"] = case("cosine_embedding_loss", [a, b, labels], [True, True, False],
                                                         margin=0.2, reduction="sum")
    cases["cosine_embedding_loss margin -0.5 none"] = case("cosine_embedding_loss", [a, b, labels],
                                                           [True, True, False], margin=-0.5, reduction="none")
    cases["cosine_embedding_loss target 0 none"] = case("cosine_embedding_loss",
                                                        [a, b, torch.tensor([1.0, 0.0, -1.0, 2.0, 1.0])],
                                                        [True, True, False], reduction="none")
    cases["cosine_embedding_loss 1-D"] = case("cosine_embedding_loss", [a[0], b[0], torch.tensor(-1.0)],
                                              [True, True, False], margin=-0.9)

    r1, r2 = torch.randn(6), torch.randn(6)
    rt = torch.tensor([1.0, -1.0, 1.0, 1.0, -1.0, -1.0])
    cases["margin_ranking_loss mean"] = case("margin_ranking_loss", [r1, r2, rt], [True, True, False])
    cases["margin_ranking_loss margin 0.3 none"] = case("margin_ranking_loss", [r1, r2, rt], [True, True, True],
                                                        margin=0.3, reduction="none")
    cases["margin_ranking_loss 2-D sum"] = case("margin_ranking_loss",
                                                [r1.reshape(2, 3), r2.reshape(2, 3), rt.reshape(2, 3)],
                                                [True, True, False], margin=0.5, reduction="sum")

    an, po, ne = torch.randn(4, 3), torch.randn(4, 3), torch.randn(4, 3)
    cases["triplet_margin_loss mean"] = case("triplet_margin_loss", [an, po, ne], [True, True, True])
    cases["triplet_margin_loss p 1 swap none"] = case("triplet_margin_loss", [an, po, ne], [True, True, True], p=1.0,
                                                      swap=True, reduction="none")
    cases["triplet_margin_loss p 3 margin 2 swap sum"] = case("triplet_margin_loss", [an, po, ne], [True, True, True],
                                                              p=3.0, margin=2.0, swap=True, reduction="sum")
    cases["triplet_margin_loss eps 0.1 none"] = case("triplet_margin_loss", [an, po, ne], [True, True, True],
                                                     eps=0.1, margin=1.5, reduction="none")
    cases["triplet_margin_loss 1-D"] = case("triplet_margin_loss", [an[0], po[0], ne[0]], [True, True, True],
                                            margin=3.0)

    lam = torch.randn(3, 4)
    counts = torch.tensor([[0.0, 1.0, 2.0, 5.0], [3.0, 0.0, 1.0, 7.0], [1.5, 4.0, 0.0, 2.0]])
    rate = torch.rand(3, 4) + 0.2
    cases["poisson_nll_loss mean"] = case("poisson_nll_loss", [lam, counts], [True, True])
    cases["poisson_nll_loss full none"] = case("poisson_nll_loss", [lam, counts], [True, False], full=True,
                                               reduction="none")
    cases["poisson_nll_loss rate sum"] = case("poisson_nll_loss", [rate, counts], [True, True], log_input=False,
                                              reduction="sum")
    cases["poisson_nll_loss rate full eps 0.1 none"] = case("poisson_nll_loss", [rate, counts], [True, False],
                                                            log_input=False, full=True, eps=0.1, reduction="none")

    mu, obs = torch.randn(4, 3), torch.randn(4, 3)
    var = torch.rand(4, 3) + 0.1
    var_small = var.clone()
    var_small[0, 0] = 5e-4
    var_small[2, 1] = 1e-4  # gradcheck's steps must keep var >= 0
    cases["gaussian_nll_loss mean"] = case("gaussian_nll_loss", [mu, obs, var], [True, True, True])
    cases["gaussian_nll_loss full sum"] = case("gaussian_nll_loss", [mu, obs, var], [True, True, True], full=True,
                                               reduction="sum")
    cases["gaussian_nll_loss var [N] none"] = case("gaussian_nll_loss", [mu, obs, var[:, 0].clone()],
                                                   [True, True, True], reduction="none")
    cases["gaussian_nll_loss var [N, 1] mean"] = case("gaussian_nll_loss", [mu, obs, var[:, :1].clone()],
                                                      [True, True, True])
    cases["gaussian_nll_loss var below eps none"] = case("gaussian_nll_loss", [mu, obs, var_small],
                                                         [True, True, True], eps=1e-3, reduction="none")

    logits = torch.randn(3, 4) * 3
    multi = torch.tensor([[1.0, 0.0, 1.0, 0.0], [0.0, 0.0, 1.0, 1.0], [1.0, 1.0, 1.0, 0.0]])
    cw = torch.tensor([0.5, 1.0, 2.0, 1.5])
    cases["multilabel_soft_margin_loss mean"] = case("multilabel_soft_margin_loss", [logits, multi], [True, True])
    cases["multilabel_soft_margin_loss weight none"] = case("multilabel_soft_margin_loss", [logits, multi, cw],
                                                            [True, True, False], reduction="none")
    cases["multilabel_soft_margin_loss soft targets sum"] = case("multilabel_soft_margin_loss",
                                                                 [logits, torch.rand(3, 4)], [True, True],
                                                                 reduction="sum")
    cases["multilabel_soft_margin_loss 1-D"] = case("multilabel_soft_margin_loss", [logits[0], multi[0]],
                                                    [True, True])

    out = {"torch": torch.__version__, "cases": cases}
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "losses.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(f"wrote {len(cases)} cases to {path}")


if __name__ == "__main__":
    main()
