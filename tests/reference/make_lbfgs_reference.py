#!/usr/bin/python3
"""PyTorch's torch.optim.LBFGS trajectories, for tests/optim/test_lbfgs.cpp.

Run with an interpreter that has torch (Debian's /usr/bin/python3 here):
    /usr/bin/python3 tests/reference/make_lbfgs_reference.py
It rewrites tests/reference/lbfgs.json. Each case: a problem, the optimizer's
options, the initial parameters, and after each of several step(closure)
calls the loss step() returned, the parameters (float64, flattened in order)
and the state counters func_evals and n_iter. Repeated calls check that the
state (directions, history, step length) carries over as in PyTorch.
"""
import json
import os

import torch

torch.set_default_dtype(torch.float64)


def rosenbrock(params):
    (xy,) = params
    x, y = xy[0], xy[1]
    return (1 - x) ** 2 + 100 * (y - x ** 2) ** 2


# A small logistic regression: X [8, 3], labels in {0, 1}, weights w [3] and bias b [1].
X = torch.tensor([[0.5, -1.2, 0.3], [1.5, 0.2, -0.7], [-0.3, 0.8, 1.1], [0.9, -0.4, -1.6],
                  [-1.4, 1.0, 0.2], [0.1, 0.1, 0.9], [2.0, -0.6, 0.4], [-0.8, -1.1, -0.3]])
Y = torch.tensor([1.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0])


def logistic(params):
    w, b = params
    z = X @ w + b
    # A little L2 so that the minimum is finite.
    return torch.nn.functional.binary_cross_entropy_with_logits(z, Y) + 0.01 * (w * w).sum()


# Least squares: A [6, 4] x ~ r, parameters a matrix [2, 2] (flattened) for the
# layout of a 2-D parameter.
A = torch.tensor([[1.0, 0.5, -0.2, 0.3], [0.2, 1.5, 0.7, -0.4], [-0.6, 0.1, 2.0, 0.5], [0.3, -0.8, 0.4, 1.2],
                  [1.1, 0.9, -0.5, 0.0], [0.0, 0.4, 0.6, -1.3]])
R = torch.tensor([1.0, -2.0, 0.5, 3.0, -1.0, 0.25])


def least_squares(params):
    (m,) = params
    return 0.5 * ((A @ m.reshape(-1) - R) ** 2).sum()


PROBLEMS = {"rosenbrock": (rosenbrock, [[-1.5, 2.0]]), "logistic": (logistic, [[0.0, 0.0, 0.0], [0.0]]),
            "least_squares": (least_squares, [[[0.0, 0.0], [0.0, 0.0]]])}


def case(problem, steps, **options):
    fn, init = PROBLEMS[problem]
    params = [torch.tensor(p, requires_grad=True) for p in init]
    opt = torch.optim.LBFGS(params, **options)

    def closure():
        opt.zero_grad()
        loss = fn(params)
        loss.backward()
        return loss

    trajectory = []
    for _ in range(steps):
        loss = opt.step(closure)
        state = opt.state[params[0]]
        trajectory.append({
            "loss": float(loss),
            "params": [float(v) for p in params for v in p.detach().reshape(-1).tolist()],
            "func_evals": int(state["func_evals"]),
            "n_iter": int(state["n_iter"]),
        })
    return {"problem": problem, "options": options, "init": init, "steps": trajectory}


def main():
    cases = {}
    cases["rosenbrock default lr 0.1"] = case("rosenbrock", 4, lr=0.1, max_iter=5)
    cases["rosenbrock strong_wolfe"] = case("rosenbrock", 5, line_search_fn="strong_wolfe", max_iter=8)
    # History 3 drops pairs from the 5th iteration on; past 3 steps here the
    # last-bit differences of the two libraries' gradients grow to ~1e-8.
    cases["rosenbrock strong_wolfe history 3"] = case("rosenbrock", 3, line_search_fn="strong_wolfe", history_size=3,
                                                   max_iter=6)
    cases["rosenbrock strong_wolfe one step to convergence"] = case("rosenbrock", 2, line_search_fn="strong_wolfe",
                                                                    max_iter=100)
    cases["logistic default"] = case("logistic", 3, max_iter=4)
    cases["logistic strong_wolfe"] = case("logistic", 3, line_search_fn="strong_wolfe", max_iter=5)
    cases["logistic default max_eval 3"] = case("logistic", 3, max_eval=3)
    cases["least_squares default"] = case("least_squares", 2)
    cases["least_squares strong_wolfe tolerance_grad 1e-5"] = case("least_squares", 2, line_search_fn="strong_wolfe",
                                                                    tolerance_grad=1e-5)

    out = {"torch": torch.__version__, "cases": cases}
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lbfgs.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(f"wrote {len(cases)} cases to {path}")


if __name__ == "__main__":
    main()
