#!/usr/bin/python3
"""PyTorch's conv1d, conv2d with groups, conv_transpose1d/2d, avg_pool1d,
adaptive_avg_pool1d/2d, interpolate (nearest, linear, bilinear) and
pixel_shuffle/pixel_unshuffle, and later max_pool1d/2d and avg_pool1d/2d with
ceil_mode and adaptive_max_pool1d/2d, for
tests/autograd/test_conv_pool_reference.cpp.

Run with an interpreter that has torch (Debian's /usr/bin/python3 here):
    /usr/bin/python3 tests/reference/make_conv_pool_reference.py
It rewrites tests/reference/conv_pool.json. Each case names the function of
torch.nn.functional, its keyword options, its tensor inputs (float64,
flattened row-major; all require grad), the output, and the gradient of each
input of sum(output * w), w = 1, 2, 3, ... over the output's elements. With
return_indices among the options, "indices" holds the indices too.
"nearest_sources" lists, for interpolate(mode="nearest") of arange inputs of
several ranks and dtypes, the input position each output reads.
"""
import json
import os

import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)


def tensor_json(x):
    return {"shape": list(x.shape), "values": [float(v) for v in x.detach().reshape(-1).tolist()]}


def case(fn, inputs, **options):
    leaves = [x.clone().detach().requires_grad_(True) for x in inputs]
    out = getattr(F, fn)(*leaves, **options)
    indices = None
    if options.get("return_indices"):
        out, indices = out
    w = torch.arange(1, out.numel() + 1, dtype=out.dtype).reshape(out.shape)
    (out * w).sum().backward()
    result = {
        "fn": fn,
        "options": options,
        "inputs": [tensor_json(x) for x in inputs],
        "output": tensor_json(out),
        "grads": [tensor_json(x.grad) for x in leaves],
    }
    if indices is not None:
        result["indices"] = [int(v) for v in indices.reshape(-1).tolist()]
    return result


def adjoint_case(fn, x, **options):
    """case() for an op linear in its one input, with the gradient taken as
    the adjoint of PyTorch's forward (its output on each basis vector) rather
    than from PyTorch's backward. torch 1.13's 1-D 'nearest' backward copies
    for out = in and halves for out = 2 in, as its 2-D kernel does, while its
    1-D forward does not: there its gradient is not its forward's derivative.
    """
    result = case(fn, [x], **options)
    out = getattr(F, fn)(x, **options)
    w = torch.arange(1, out.numel() + 1, dtype=out.dtype).reshape(out.shape)
    basis = torch.eye(x.numel(), dtype=x.dtype)
    grad = [float((getattr(F, fn)(e.reshape(x.shape), **options) * w).sum()) for e in basis]
    result["grads"] = [{"shape": list(x.shape), "values": grad}]
    return result


def main():
    torch.manual_seed(15)
    r = torch.randn
    cases = {}

    # conv1d (weight [out, in / groups, k]) and conv2d with groups.
    cases["conv1d bias"] = case("conv1d", [r(2, 3, 7), r(4, 3, 3), r(4)])
    cases["conv1d stride 2 padding 1 dilation 2 groups 2"] = case(
        "conv1d", [r(2, 4, 9), r(6, 2, 3), r(6)], stride=2, padding=1, dilation=2, groups=2)
    cases["conv1d depthwise stride 3 no bias"] = case("conv1d", [r(1, 3, 8), r(3, 1, 2)], stride=3, groups=3)
    cases["conv1d unbatched padding 2"] = case("conv1d", [r(3, 5), r(2, 3, 4), r(2)], padding=2)
    cases["conv2d groups 2 stride (2, 1) padding (1, 0) dilation (1, 2)"] = case(
        "conv2d", [r(2, 4, 5, 6), r(6, 2, 3, 2), r(6)], stride=[2, 1], padding=[1, 0], dilation=[1, 2], groups=2)

    # Transposed convolutions (weight [in, out / groups, k...]).
    cases["conv_transpose1d bias"] = case("conv_transpose1d", [r(2, 3, 5), r(3, 2, 3), r(2)])
    cases["conv_transpose1d stride 2 padding 1 output_padding 1"] = case(
        "conv_transpose1d", [r(1, 4, 6), r(4, 3, 3), r(3)], stride=2, padding=1, output_padding=1)
    cases["conv_transpose1d groups 2 stride 3 output_padding 2 dilation 2 no bias"] = case(
        "conv_transpose1d", [r(2, 4, 4), r(4, 1, 2)], stride=3, output_padding=2, groups=2, dilation=2)
    cases["conv_transpose1d output_padding past the stride, below the dilation"] = case(
        "conv_transpose1d", [r(1, 2, 5), r(2, 3, 3), r(3)], output_padding=1, dilation=2)
    cases["conv_transpose1d unbatched"] = case("conv_transpose1d", [r(3, 5), r(3, 2, 2), r(2)], stride=2)
    cases["conv_transpose2d stride 2 padding 1 output_padding 1"] = case(
        "conv_transpose2d", [r(2, 3, 4, 5), r(3, 2, 3, 3), r(2)], stride=2, padding=1, output_padding=1)
    cases["conv_transpose2d groups 2 rectangular"] = case(
        "conv_transpose2d", [r(1, 4, 3, 4), r(4, 3, 2, 3), r(6)], stride=[1, 2], padding=[0, 1],
        output_padding=[1, 1], groups=2, dilation=[2, 1])
    # 1 x 1 kernels take the path without a column buffer.
    cases["conv1d pointwise groups 2"] = case("conv1d", [r(2, 4, 5), r(6, 2, 1), r(6)], groups=2)
    cases["conv_transpose2d pointwise groups 2"] = case("conv_transpose2d", [r(2, 4, 3, 2), r(4, 3, 1, 1), r(6)],
                                                        groups=2)
    cases["conv_transpose2d unbatched no bias"] = case("conv_transpose2d", [r(3, 4, 4), r(3, 2, 2, 2)], padding=1)

    # Pooling.
    cases["avg_pool1d kernel 3"] = case("avg_pool1d", [r(2, 3, 7)], kernel_size=3)
    cases["avg_pool1d kernel 3 stride 2 padding 1"] = case("avg_pool1d", [r(2, 3, 8)], kernel_size=3, stride=2,
                                                           padding=1)
    cases["avg_pool1d kernel 4 stride 3 padding 2 padding not counted"] = case(
        "avg_pool1d", [r(1, 2, 9)], kernel_size=4, stride=3, padding=2, count_include_pad=False)
    cases["avg_pool1d unbatched kernel 2"] = case("avg_pool1d", [r(3, 7)], kernel_size=2)
    cases["adaptive_avg_pool1d 7 -> 3"] = case("adaptive_avg_pool1d", [r(2, 3, 7)], output_size=3)
    cases["adaptive_avg_pool1d 5 -> 8"] = case("adaptive_avg_pool1d", [r(2, 3, 5)], output_size=8)
    cases["adaptive_avg_pool1d unbatched 6 -> 4"] = case("adaptive_avg_pool1d", [r(3, 6)], output_size=4)
    cases["adaptive_avg_pool1d 7 -> 1"] = case("adaptive_avg_pool1d", [r(1, 2, 7)], output_size=1)
    cases["adaptive_avg_pool2d 7x5 -> 3x4"] = case("adaptive_avg_pool2d", [r(2, 3, 7, 5)], output_size=[3, 4])
    cases["adaptive_avg_pool2d 5x5 -> 2"] = case("adaptive_avg_pool2d", [r(1, 2, 5, 5)], output_size=2)
    cases["adaptive_avg_pool2d unbatched 4x6 -> 5x3"] = case("adaptive_avg_pool2d", [r(3, 4, 6)], output_size=[5, 3])
    cases["adaptive_avg_pool2d 6x7 -> 1"] = case("adaptive_avg_pool2d", [r(2, 2, 6, 7)], output_size=1)

    # interpolate.
    x3, x4 = r(2, 3, 5), r(1, 2, 4, 5)
    cases["interpolate nearest size 8"] = case("interpolate", [x3], size=8, mode="nearest")
    cases["interpolate nearest size 10 (twice)"] = case("interpolate", [x3], size=10, mode="nearest")
    cases["interpolate nearest scale 2.5"] = case("interpolate", [x3], scale_factor=2.5, mode="nearest")
    cases["interpolate nearest scale 0.7"] = case("interpolate", [x3], scale_factor=0.7, mode="nearest")
    cases["interpolate nearest 2-D size (7, 3)"] = case("interpolate", [x4], size=[7, 3], mode="nearest")
    cases["interpolate nearest 2-D scale 1.7"] = case("interpolate", [x4], scale_factor=1.7, mode="nearest")
    cases["interpolate nearest 2-D scale (2, 3)"] = case("interpolate", [x4], scale_factor=[2.0, 3.0], mode="nearest")
    for ac in [False, True]:
        cases[f"interpolate linear size 8 align_corners {ac}"] = case("interpolate", [x3], size=8, mode="linear",
                                                                      align_corners=ac)
        cases[f"interpolate linear scale 2.5 align_corners {ac}"] = case("interpolate", [x3], scale_factor=2.5,
                                                                         mode="linear", align_corners=ac)
        cases[f"interpolate linear scale 0.6 align_corners {ac}"] = case("interpolate", [x3], scale_factor=0.6,
                                                                         mode="linear", align_corners=ac)
        cases[f"interpolate bilinear size (7, 3) align_corners {ac}"] = case(
            "interpolate", [x4], size=[7, 3], mode="bilinear", align_corners=ac)
        cases[f"interpolate bilinear scale 1.5 align_corners {ac}"] = case(
            "interpolate", [x4], scale_factor=1.5, mode="bilinear", align_corners=ac)
    cases["interpolate linear size 1 align_corners True"] = case("interpolate", [x3], size=1, mode="linear",
                                                                 align_corners=True)
    cases["interpolate bilinear scale (2.3, 0.5)"] = case("interpolate", [x4], scale_factor=[2.3, 0.5],
                                                          mode="bilinear")
    cases["interpolate bilinear scale 1.7 recompute_scale_factor"] = case(
        "interpolate", [x4], scale_factor=1.7, mode="bilinear", recompute_scale_factor=True)
    cases["interpolate nearest scale 2.5 recompute_scale_factor"] = case(
        "interpolate", [x3], scale_factor=2.5, mode="nearest", recompute_scale_factor=True)

    # Pixel shuffles.
    cases["pixel_shuffle 2"] = case("pixel_shuffle", [r(2, 8, 3, 2)], upscale_factor=2)
    cases["pixel_shuffle 3 unbatched"] = case("pixel_shuffle", [r(18, 2, 3)], upscale_factor=3)
    cases["pixel_shuffle 2, two batch dims"] = case("pixel_shuffle", [r(2, 2, 4, 2, 3)], upscale_factor=2)
    cases["pixel_unshuffle 2"] = case("pixel_unshuffle", [r(2, 2, 4, 6)], downscale_factor=2)
    cases["pixel_unshuffle 3 unbatched"] = case("pixel_unshuffle", [r(1, 3, 6)], downscale_factor=3)

    # Cases added later come last, so that the inputs above keep their values.
    # nearest keeps no exact copy for out = in or out = 2 in in 1-D (it does in
    # 2-D and 3-D); linear and bilinear with those sizes.
    cases["interpolate nearest scale 1.1 (out = in)"] = adjoint_case("interpolate", r(1, 2, 7), scale_factor=1.1,
                                                                    mode="nearest")
    cases["interpolate nearest scale 2.01 (out = 2 in)"] = adjoint_case("interpolate", r(1, 1, 50),
                                                                       scale_factor=2.01, mode="nearest")
    cases["interpolate nearest 2-D scale (1.1, 2.01)"] = case("interpolate", [r(1, 1, 7, 10)],
                                                             scale_factor=[1.1, 2.01], mode="nearest")
    cases["interpolate nearest 3-D scale (1.1, 2.01, 0.7)"] = case("interpolate", [r(1, 1, 7, 5, 4)],
                                                                  scale_factor=[1.1, 2.01, 0.7], mode="nearest")
    cases["interpolate linear scale 1.1 (out = in)"] = case("interpolate", [r(1, 2, 7)], scale_factor=1.1,
                                                           mode="linear")
    cases["interpolate linear scale 2.01 (out = 2 in)"] = case("interpolate", [r(1, 1, 9)], scale_factor=2.01,
                                                              mode="linear")
    cases["interpolate bilinear scale (1.1, 2.01)"] = case("interpolate", [r(1, 1, 7, 6)], scale_factor=[1.1, 2.01],
                                                          mode="bilinear")
    cases["interpolate bilinear scale (1.1, 2.01) recompute_scale_factor"] = case(
        "interpolate", [r(1, 1, 7, 6)], scale_factor=[1.1, 2.01], mode="bilinear", recompute_scale_factor=True)

    # ceil_mode: the output size rounds up, and a last window that would start
    # in the right padding is dropped; avg_pool divides a window reaching past
    # the right padding by what it covers of the padded input.
    cases["max_pool1d kernel 3 stride 2 padding 1 ceil_mode indices"] = case(
        "max_pool1d", [r(2, 3, 8)], kernel_size=3, stride=2, padding=1, ceil_mode=True, return_indices=True)
    cases["max_pool1d kernel 2 stride 2 dilation 2 ceil_mode"] = case(
        "max_pool1d", [r(1, 2, 8)], kernel_size=2, stride=2, dilation=2, ceil_mode=True)
    cases["max_pool1d kernel 3 stride 3 ceil_mode, kernel past the input"] = case(
        "max_pool1d", [r(1, 2, 2)], kernel_size=3, stride=3, ceil_mode=True)
    cases["max_pool1d unbatched kernel 2 indices"] = case("max_pool1d", [r(3, 7)], kernel_size=2,
                                                          return_indices=True)
    cases["max_pool1d kernel 3 stride 2 no ceil_mode"] = case("max_pool1d", [r(2, 2, 8)], kernel_size=3, stride=2)
    cases["max_pool2d kernel 3 stride 2 padding 1 ceil_mode indices"] = case(
        "max_pool2d", [r(2, 3, 6, 5)], kernel_size=3, stride=2, padding=1, ceil_mode=True, return_indices=True)
    cases["max_pool2d kernel (2, 3) stride 2 dilation (1, 2) ceil_mode"] = case(
        "max_pool2d", [r(1, 2, 5, 9)], kernel_size=[2, 3], stride=2, dilation=[1, 2], ceil_mode=True)
    cases["max_pool2d unbatched kernel 2 ceil_mode"] = case("max_pool2d", [r(2, 5, 3)], kernel_size=2,
                                                            ceil_mode=True)
    for cip in [True, False]:
        cases[f"avg_pool2d kernel 3 stride 2 padding 1 ceil_mode count_include_pad {cip}"] = case(
            "avg_pool2d", [r(2, 3, 6, 5)], kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=cip)
        cases[f"avg_pool1d kernel 3 stride 2 padding 1 ceil_mode count_include_pad {cip}"] = case(
            "avg_pool1d", [r(2, 3, 6)], kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=cip)
    cases["avg_pool2d kernel 2 ceil_mode odd sizes"] = case("avg_pool2d", [r(1, 2, 5, 7)], kernel_size=2,
                                                            ceil_mode=True)
    cases["avg_pool2d kernel (3, 2) stride (2, 3) padding (1, 1) ceil_mode"] = case(
        "avg_pool2d", [r(1, 2, 7, 8)], kernel_size=[3, 2], stride=[2, 3], padding=[1, 1], ceil_mode=True)
    cases["avg_pool1d kernel 4 stride 3 ceil_mode unbatched"] = case("avg_pool1d", [r(2, 9)], kernel_size=4, stride=3,
                                                                     ceil_mode=True)
    # Adaptive max pooling, with its indices.
    cases["adaptive_max_pool1d 7 -> 3"] = case("adaptive_max_pool1d", [r(2, 3, 7)], output_size=3,
                                               return_indices=True)
    cases["adaptive_max_pool1d 5 -> 8"] = case("adaptive_max_pool1d", [r(2, 3, 5)], output_size=8,
                                               return_indices=True)
    cases["adaptive_max_pool1d unbatched 6 -> 4"] = case("adaptive_max_pool1d", [r(3, 6)], output_size=4)
    cases["adaptive_max_pool2d 7x5 -> 3x4"] = case("adaptive_max_pool2d", [r(2, 3, 7, 5)], output_size=[3, 4],
                                                   return_indices=True)
    cases["adaptive_max_pool2d 5x5 -> 2"] = case("adaptive_max_pool2d", [r(1, 2, 5, 5)], output_size=2)
    cases["adaptive_max_pool2d unbatched 4x6 -> 5x3"] = case("adaptive_max_pool2d", [r(3, 4, 6)], output_size=[5, 3],
                                                             return_indices=True)

    # padding="same": d (k - 1) zeros in all, the odd one on the right; "valid": none.
    cases["conv2d padding same kernel (2, 3) dilation (3, 1)"] = case(
        "conv2d", [r(2, 2, 5, 4), r(3, 2, 2, 3), r(3)], padding="same", dilation=[3, 1])
    cases["conv2d padding same kernel 4 groups 2"] = case("conv2d", [r(1, 4, 6, 5), r(4, 2, 4, 4), r(4)],
                                                          padding="same", groups=2)
    cases["conv2d padding valid stride 2"] = case("conv2d", [r(1, 2, 5, 6), r(3, 2, 3, 2)], stride=2,
                                                  padding="valid")
    cases["conv1d padding same kernel 4"] = case("conv1d", [r(2, 3, 7), r(2, 3, 4), r(2)], padding="same")
    cases["conv1d padding same kernel 3 dilation 2 unbatched"] = case("conv1d", [r(3, 6), r(2, 3, 3)],
                                                                      padding="same", dilation=2)
    cases["conv1d padding valid"] = case("conv1d", [r(1, 2, 6), r(2, 2, 3), r(2)], padding="valid")

    # The source index of each output position of 'nearest' (interpolating
    # arange), where PyTorch's kernels round differently: per rank (1-D has
    # no exact copies), per dtype (1-D computes in the input's opmath type).
    sources = []
    for dtype in [torch.float64, torch.float32]:
        for rank in [1, 2, 3]:
            for inn, options in [(7, {"scale_factor": 1.1}), (50, {"scale_factor": 2.01}), (14, {"size": 46}),
                                 (21, {"size": 69}), (26, {"size": 22}), (9, {"scale_factor": 2.0}),
                                 (13, {"scale_factor": 0.7}), (7, {"scale_factor": 1.1, "recompute_scale_factor": True})]:
                x = torch.arange(inn, dtype=dtype).reshape([1, 1] + [1] * (rank - 1) + [inn])
                o = dict(options)
                if "size" in o:
                    o["size"] = [1] * (rank - 1) + [o["size"]]
                else:
                    o["scale_factor"] = [1.0] * (rank - 1) + [o["scale_factor"]]
                y = F.interpolate(x, mode="nearest", **o)
                sources.append({"dtype": str(dtype).replace("torch.", ""), "input": list(x.shape), "options": o,
                                "sources": [int(v) for v in y.reshape(-1).tolist()]})

    out = {"torch": torch.__version__, "cases": cases, "nearest_sources": sources}
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "conv_pool.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(f"wrote {len(cases)} cases to {path}")


if __name__ == "__main__":
    main()
