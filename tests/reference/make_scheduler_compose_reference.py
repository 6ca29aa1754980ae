#!/usr/bin/python3
"""PyTorch 1.13's lrs where schedulers meet other changes to the lr, for
tests/optim/test_scheduler_compose.cpp: two schedulers stepped side by side
(not chained), a warm-up beside ReduceLROnPlateau, a scheduler made after
another has run, a manual lr change between steps, a ChainedScheduler of
schedulers that have already stepped, and SequentialLR's warm-up into
OneCycleLR (which rewrites the initial lr).

Run with an interpreter that has torch (Debian's /usr/bin/python3 here):
    /usr/bin/python3 tests/reference/make_scheduler_compose_reference.py
It rewrites tests/reference/scheduler_compose.json.

Every case: SGD with one parameter group at lr 0.1; "lrs" holds the lr after
construction (index 0) and after each of EPOCHS steps. The C++ test repeats
each case's steps, named by the case's key.
"""
import json
import os
import warnings

import torch
from torch.optim import lr_scheduler as S

warnings.simplefilter("ignore")
EPOCHS = 12
# ReduceLROnPlateau's metric at each epoch: it stops improving at epoch 3.
METRIC = [1.0, 0.9, 0.8, 0.85, 0.86, 0.87, 0.88, 0.89, 0.9, 0.91, 0.92, 0.93]


def sgd():
    return torch.optim.SGD([torch.zeros(2, requires_grad=True)], lr=0.1)


def lr(opt):
    return opt.param_groups[0]["lr"]


def run(opt, step):
    lrs = [lr(opt)]
    for epoch in range(EPOCHS):
        step(epoch)
        lrs.append(lr(opt))
    return {"lrs": lrs}


def side_by_side():
    opt = sgd()
    a = S.LinearLR(opt, start_factor=0.25, total_iters=3)
    b = S.StepLR(opt, step_size=2, gamma=0.5)
    return run(opt, lambda e: (a.step(), b.step()))


def warmup_then_plateau():
    opt = sgd()
    warm = S.LinearLR(opt, start_factor=0.5, total_iters=4)
    plateau = S.ReduceLROnPlateau(opt, factor=0.5, patience=0)
    return run(opt, lambda e: (warm.step(), plateau.step(METRIC[e])))


def made_after_another_ran():
    opt = sgd()
    first = S.StepLR(opt, step_size=1, gamma=0.5)
    for _ in range(3):
        first.step()
    second = S.ExponentialLR(opt, gamma=0.9)
    return run(opt, lambda e: second.step())


def manual_change():
    opt = sgd()
    sched = S.MultiStepLR(opt, milestones=[3, 6], gamma=0.1)

    def step(e):
        if e == 1:
            opt.param_groups[0]["lr"] = 0.01
        sched.step()
    return run(opt, step)


def chain_of_stepped():
    opt = sgd()
    exp = S.ExponentialLR(opt, gamma=0.5)
    for _ in range(4):
        exp.step()
    const = S.ConstantLR(opt, factor=0.5, total_iters=2)
    chain = S.ChainedScheduler([exp, const])
    return run(opt, lambda e: chain.step())


def cosine_beside_constant():
    opt = sgd()
    cos = S.CosineAnnealingLR(opt, T_max=5, eta_min=0.001)
    const = S.ConstantLR(opt, factor=0.3, total_iters=4)
    return run(opt, lambda e: (cos.step(), const.step()))


def poly_beside_multiplicative():
    opt = sgd()
    poly = S.PolynomialLR(opt, total_iters=8, power=2.0)
    mult = S.MultiplicativeLR(opt, lambda e: 0.9)
    return run(opt, lambda e: (poly.step(), mult.step()))


def sequential_into_onecycle():
    opt = sgd()
    warm = S.LinearLR(opt, start_factor=0.5, total_iters=3)
    cycle = S.OneCycleLR(opt, max_lr=0.3, total_steps=20)
    seq = S.SequentialLR(opt, [warm, cycle], milestones=[4])
    return run(opt, lambda e: seq.step())


CASES = {
    "LinearLR and StepLR side by side": side_by_side(),
    "LinearLR warm-up and ReduceLROnPlateau": warmup_then_plateau(),
    "ExponentialLR made after StepLR ran 3 steps": made_after_another_ran(),
    "MultiStepLR after the lr is set by hand": manual_change(),
    "ChainedScheduler of an ExponentialLR that ran 4 steps and a ConstantLR": chain_of_stepped(),
    "CosineAnnealingLR and ConstantLR side by side": cosine_beside_constant(),
    "PolynomialLR and MultiplicativeLR side by side": poly_beside_multiplicative(),
    "SequentialLR of LinearLR then OneCycleLR": sequential_into_onecycle(),
}


def main():
    out = {"epochs": EPOCHS, "metric": METRIC, "cases": CASES, "torch": torch.__version__}
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "scheduler_compose.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
