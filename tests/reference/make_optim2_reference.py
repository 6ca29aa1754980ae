#!/usr/bin/python3
"""PyTorch 1.13's NAdam, RAdam, Adamax, Adadelta trajectories and the lr (and
momentum) of LambdaLR, MultiplicativeLR, ConstantLR, PolynomialLR, CyclicLR,
CosineAnnealingWarmRestarts and ChainedScheduler, for tests/optim/test_optim2.cpp.

Run with an interpreter that has torch (Debian's /usr/bin/python3 here):
    /usr/bin/python3 tests/reference/make_optim2_reference.py
It rewrites tests/reference/optim2.json.

Optimizers: one float64 parameter from START, STEPS steps; the gradient at
step t (1-based) is a * (p - c) + 0.3 sin(1.7 t + i), a fixed quadratic plus a
wobble that changes sign, written out so the C++ test computes the same one.
"params" holds the parameter after each step.
Schedulers: an SGD optimizer (lr 0.1, momentum 0.9 unless told) with two
groups (the second with lr 0.05); "lrs" holds every group's lr at epochs 0..30
and "momentums" the momentum where the scheduler cycles it.
"""
import json
import math
import os

import torch
from torch.optim import lr_scheduler as S

torch.set_default_dtype(torch.float64)

A = [1.0, 3.0, 0.5, 2.0, 0.1]
C = [0.5, -1.0, 2.0, 0.0, 4.0]
START = [1.0, -2.0, 0.25, 3.0, -1.5]
STEPS = 12
EPOCHS = 30


def gradient(p, t):
    return torch.tensor([A[i] * (p[i].item() - C[i]) + 0.3 * math.sin(1.7 * t + i) for i in range(len(START))])


def optimizer_case(cls, **options):
    p = torch.tensor(START, requires_grad=True)
    opt = cls([p], **options)
    params = []
    for t in range(1, STEPS + 1):
        p.grad = gradient(p.detach(), t)
        opt.step()
        params.append(p.detach().tolist())
    return {"optimizer": cls.__name__, "options": options, "params": params}


OPTIMIZERS = {
    "NAdam default": (torch.optim.NAdam, {}),
    "NAdam lr betas eps weight_decay momentum_decay": (
        torch.optim.NAdam, dict(lr=0.05, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1, momentum_decay=0.01)),
    "RAdam default": (torch.optim.RAdam, {}),
    # beta2 0.9 makes rho_t pass 5 at step 6, so both branches run.
    "RAdam rectified": (torch.optim.RAdam, dict(lr=0.1, betas=(0.7, 0.9), eps=1e-6, weight_decay=0.05)),
    "Adamax default": (torch.optim.Adamax, {}),
    "Adamax options": (torch.optim.Adamax, dict(lr=0.1, betas=(0.8, 0.95), eps=1e-4, weight_decay=0.1)),
    "Adamax maximize": (torch.optim.Adamax, dict(lr=0.01, maximize=True)),
    "Adadelta default": (torch.optim.Adadelta, {}),
    "Adadelta options": (torch.optim.Adadelta, dict(lr=0.5, rho=0.7, eps=1e-4, weight_decay=0.2)),
    "Adadelta maximize": (torch.optim.Adadelta, dict(lr=2.0, rho=0.95, maximize=True)),
}


def two_groups(momentum=0.9):
    a = torch.zeros(2, requires_grad=True)
    b = torch.zeros(3, requires_grad=True)
    return torch.optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.05}], lr=0.1, momentum=momentum)


def record(opt, step, momentum=False):
    lrs, momentums = [], []
    for epoch in range(EPOCHS + 1):
        if epoch > 0:
            step()
        lrs.append([g["lr"] for g in opt.param_groups])
        momentums.append([g["momentum"] for g in opt.param_groups])
    out = {"lrs": lrs}
    if momentum:
        out["momentums"] = momentums
    return out


def scheduler_case(make, momentum=False):
    opt = two_groups()
    sched = make(opt)
    return record(opt, sched.step, momentum)


def chained_case(makes):
    opt = two_groups()
    scheds = [m(opt) for m in makes]
    return record(opt, S.ChainedScheduler(scheds).step)


SCHEDULERS = {
    # lr_lambda(epoch) = 0.95^epoch + 0.01 epoch
    "LambdaLR": scheduler_case(lambda o: S.LambdaLR(o, lambda e: 0.95 ** e + 0.01 * e)),
    # factor(epoch) = 0.9 on even epochs, 1.05 on odd ones
    "MultiplicativeLR": scheduler_case(lambda o: S.MultiplicativeLR(o, lambda e: 0.9 if e % 2 == 0 else 1.05)),
    "ConstantLR default": scheduler_case(lambda o: S.ConstantLR(o)),
    "ConstantLR factor 0.5 total_iters 7": scheduler_case(lambda o: S.ConstantLR(o, factor=0.5, total_iters=7)),
    "PolynomialLR default": scheduler_case(lambda o: S.PolynomialLR(o)),
    "PolynomialLR total_iters 20 power 2.5": scheduler_case(lambda o: S.PolynomialLR(o, total_iters=20, power=2.5)),
    "CyclicLR triangular": scheduler_case(
        lambda o: S.CyclicLR(o, base_lr=0.01, max_lr=[0.1, 0.2], step_size_up=4), momentum=True),
    "CyclicLR triangular2 step_size_down": scheduler_case(
        lambda o: S.CyclicLR(o, base_lr=[0.01, 0.02], max_lr=0.1, step_size_up=3, step_size_down=5,
                             mode="triangular2", base_momentum=0.7, max_momentum=0.95), momentum=True),
    "CyclicLR exp_range no momentum": scheduler_case(
        lambda o: S.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=3, mode="exp_range", gamma=0.97,
                             cycle_momentum=False), momentum=True),
    "CosineAnnealingWarmRestarts T_0 5": scheduler_case(lambda o: S.CosineAnnealingWarmRestarts(o, T_0=5)),
    "CosineAnnealingWarmRestarts T_0 3 T_mult 2 eta_min": scheduler_case(
        lambda o: S.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2, eta_min=0.001)),
    "ChainedScheduler ConstantLR ExponentialLR": chained_case(
        [lambda o: S.ConstantLR(o, factor=0.1, total_iters=2), lambda o: S.ExponentialLR(o, gamma=0.9)]),
    "ChainedScheduler LinearLR StepLR MultiStepLR PolynomialLR": chained_case(
        [lambda o: S.LinearLR(o, start_factor=0.25, total_iters=4), lambda o: S.StepLR(o, step_size=3, gamma=0.8),
         lambda o: S.MultiStepLR(o, milestones=[5, 9, 9], gamma=0.5),
         lambda o: S.PolynomialLR(o, total_iters=25, power=0.5)]),
    "ChainedScheduler MultiplicativeLR CosineAnnealingLR eta_min": chained_case(
        [lambda o: S.MultiplicativeLR(o, lambda e: 0.97),
         lambda o: S.CosineAnnealingLR(o, T_max=7, eta_min=0.002)]),
}


def main():
    out = {
        "problem": {"a": A, "c": C, "start": START, "steps": STEPS, "epochs": EPOCHS},
        "optimizers": {name: optimizer_case(cls, **opts) for name, (cls, opts) in OPTIMIZERS.items()},
        "schedulers": SCHEDULERS,
        "torch": torch.__version__,
    }
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "optim2.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
