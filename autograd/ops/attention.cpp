// scaled_dot_product_attention: the fused forward and backward kernels
// (core/kernels/attention.h) and the unfused math path, which is also the
// backward's formula when a higher derivative is asked for.
#include <cmath>
#include <limits>
#include <mutex>

#include <fmt/format.h>

#include <tapegrad/autograd/function.h>
#include <tapegrad/autograd/grad_mode.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/kernels/attention.h>
#include <tapegrad/core/profiler.h>
#include <tapegrad/core/random.h>

namespace tg {

using autograd::Backward;
using autograd::SavedTensor;

namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

double resolve_scale(const Tensor& q, std::optional<double> scale) {
  if (scale) return *scale;
  if (q.dim() >= 2 && q.size(-1) == 0)
    throw ValueError(
        fmt::format("scaled_dot_product_attention: query {} has E = 0 features, so the default scale "
                    "1 / sqrt(E) is infinite; pass a scale",
                    shape_str(q.sizes())));
  return 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
}

std::uint64_t draw_seed(double dropout_p, Generator* generator) {
  if (!(dropout_p > 0)) return 0;
  Generator& gen = generator ? *generator : default_generator();
  std::lock_guard lock(gen.mutex());
  return gen.next_u64();
}

// The mask in two parts, either or both undefined: the keys each query may
// attend (is_causal's lower triangle or a bool mask), and a float addend.
struct ScoreMask {
  Tensor allowed, addend;
};
ScoreMask score_mask(const Tensor& mask, bool is_causal, std::int64_t L, std::int64_t S) {
  if (is_causal) return {tg::tril(tg::ones({L, S}, {.dtype = kBool})), {}};
  if (!mask.defined()) return {};
  if (mask.dtype() == kBool) return {mask, {}};
  return {{}, mask};
}

// softmax(scale q k^T + mask) along the keys, with rows that attend nothing
// all zero (not NaN), as the fused kernel defines them.
Tensor attention_weights(const Tensor& q, const Tensor& k, const ScoreMask& mask, double scale) {
  Tensor scores = tg::mul(tg::matmul(q, k.transpose(-2, -1)), scale);
  // A bool mask selects, as the fused kernel does: an excluded key's score
  // is -inf even when it is NaN (adding -inf would keep the NaN).
  if (mask.allowed.defined()) scores = tg::where(mask.allowed, scores, kNegInf);
  if (mask.addend.defined()) scores = tg::add(scores, mask.addend);
  // No keys (S = 0): the weights are empty and the output zero; there is no
  // row to reduce.
  if (scores.size(-1) == 0) return scores;
  // A row attends nothing when every score is -inf. NaN and +inf scores
  // stay in the softmax, which makes their row NaN (amax would skip a NaN).
  const Tensor valid = tg::any(scores.detach() != kNegInf, -1, /*keepdim=*/true);
  return tg::where(valid, tg::softmax(tg::where(valid, scores, 0.0), -1), 0.0);
}

// The math path's gradients of out = (P * Z) v for output gradient dout,
// composed of differentiable ops (so that they have derivatives themselves).
struct MathGrads {
  Tensor dq, dk, dv, dmask;
};
MathGrads math_backward(const Tensor& dout, const Tensor& q, const Tensor& k, const Tensor& v, const ScoreMask& mask,
                        const Tensor& drop, double scale) {
  const Tensor P = attention_weights(q, k, mask, scale);
  const Tensor Pd = drop.defined() ? tg::mul(P, drop) : P;
  MathGrads g;
  g.dv = tg::matmul(Pd.transpose(-2, -1), dout);
  Tensor dP = tg::matmul(dout, v.transpose(-2, -1));
  if (drop.defined()) dP = tg::mul(dP, drop);
  // softmax backward: dS = P (dP - sum_j P dP)
  Tensor dS = tg::mul(P, tg::sub(dP, tg::sum(tg::mul(dP, P), Dims{-1}, /*keepdim=*/true)));
  // A key the mask excludes had its score replaced by -inf: no gradient,
  // even in a NaN row, whose P is NaN there (attention_weights' where).
  if (mask.allowed.defined()) dS = tg::where(mask.allowed, dS, 0.0);
  g.dq = tg::mul(tg::matmul(dS, k), scale);
  g.dk = tg::mul(tg::matmul(dS.transpose(-2, -1), q), scale);
  g.dmask = dS;
  return g;
}

Dims batch_dims_of(const Tensor& out) {
  Dims b;
  for (int d = 0; d + 2 < out.dim(); ++d) b.push_back(out.size(d));
  return b;
}

}  // namespace

Tensor scaled_dot_product_attention(const Tensor& query, const Tensor& key, const Tensor& value,
                                    const Tensor& attn_mask, double dropout_p, StrictBool is_causal,
                                    std::optional<double> scale, Generator* generator) {
  TG_PROFILE_OP("scaled_dot_product_attention", query, key, value, attn_mask);
  kernel::AttentionOptions o;
  o.mask = attn_mask;
  o.is_causal = is_causal;
  o.dropout_p = dropout_p;
  if (query.defined() && query.dim() >= 1) o.scale = resolve_scale(query, scale);
  kernel::attention_batch_shape(query, key, value, o);  // checks before a seed is drawn
  o.dropout_seed = draw_seed(dropout_p, generator);
  const bool record = autograd::needs_grad(query, key, value, attn_mask);
  const bool mask_grad = attn_mask.defined() && autograd::requires_grad_of(attn_mask);
  // A float mask that wants its gradient takes the math path's backward,
  // which does not read kept weights.
  kernel::AttentionForward forward =
      kernel::attention_forward(query, key, value, o, /*keep_weights=*/record && !mask_grad);
  Tensor out = forward.out;
  if (record) {
    const Tensor lse = forward.logsumexp, weights = forward.weights;
    autograd::record("scaled_dot_product_attention", {&query, &key, &value, &attn_mask}, {&out},
                     [sq = SavedTensor(query, false), sk = SavedTensor(key, false), sv = SavedTensor(value, false),
                      sm = SavedTensor(attn_mask, false), so = SavedTensor(out, true), slse = SavedTensor(lse, false),
                      sw = SavedTensor(weights, false), o, mask_grad](Backward& bw) {
                       const Tensor q = bw.unpack(sq), k = bw.unpack(sk), v = bw.unpack(sv);
                       const Tensor& dout = bw.grad();
                       // First derivatives: the fused kernel (from the kept weights, or
                       // recomputing the score tiles). With create_graph (or a float mask that wants its own
                       // gradient) the math path's formula instead, made of recorded ops.
                       if (mask_grad || autograd::needs_grad(dout, q, k, v)) {
                         kernel::AttentionOptions mo = o;
                         const Tensor mask = bw.unpack(sm);
                         const ScoreMask smask = score_mask(mask, o.is_causal, q.size(-2), k.size(-2));
                         const Tensor out = bw.unpack(so);
                         const Tensor drop =
                             o.dropout_p > 0
                                 ? Tensor(kernel::attention_dropout_mask(batch_dims_of(out), q.size(-2), k.size(-2),
                                                                         q.dtype(), o.dropout_p, o.dropout_seed))
                                 : Tensor();
                         const MathGrads g = math_backward(dout, q, k, v, smask, drop, o.scale);
                         if (bw.needs(0)) bw.add(0, g.dq);
                         if (bw.needs(1)) bw.add(1, g.dk);
                         if (bw.needs(2)) bw.add(2, g.dv);
                         if (bw.needs(3)) bw.add(3, g.dmask);
                         return;
                       }
                       auto [dq, dk, dv] =
                           kernel::attention_backward(dout, q, k, v, bw.unpack(so), bw.unpack(slse), bw.unpack(sw), o);
                       if (bw.needs(0)) bw.add(0, dq);
                       if (bw.needs(1)) bw.add(1, dk);
                       if (bw.needs(2)) bw.add(2, dv);
                     });
  }
  return out;
}

std::tuple<Tensor, Tensor> scaled_dot_product_attention_math(const Tensor& query, const Tensor& key,
                                                             const Tensor& value, const Tensor& attn_mask,
                                                             double dropout_p, StrictBool is_causal,
                                                             std::optional<double> scale, Generator* generator) {
  TG_PROFILE_OP("scaled_dot_product_attention_math", query, key, value, attn_mask);
  kernel::AttentionOptions o;
  o.mask = attn_mask;
  o.is_causal = is_causal;
  o.dropout_p = dropout_p;
  if (query.defined() && query.dim() >= 1) o.scale = resolve_scale(query, scale);
  const Dims batch = kernel::attention_batch_shape(query, key, value, o);
  o.dropout_seed = draw_seed(dropout_p, generator);
  const std::int64_t L = query.size(-2), S = key.size(-2);
  Tensor weights = attention_weights(query, key, score_mask(attn_mask, is_causal, L, S), o.scale);
  if (dropout_p > 0)
    weights =
        tg::mul(weights, Tensor(kernel::attention_dropout_mask(batch, L, S, query.dtype(), dropout_p, o.dropout_seed)));
  return {tg::matmul(weights, value), weights};
}

}  // namespace tg
