// lrkit's fused CPU kernels for the optimizers that estimate their step size
// (Prodigy, D-Adaptation Adam and SGD; Note [distance estimation] in
// lrkit/optim/distance.py): each pass of their two-pass step as one pass over
// memory. Phase 1 updates the moments and writes per-row sums (in double) into
// a (total rows, 2) tensor, which the caller adds up (with the other groups' and
// the other ranks' sums) into the new ``d``; phase 2 applies the update.
// D-Adaptation's update does not read the new ``d``, so its one-pass kernels also
// apply it, row by row while the row is in cache (Note [update in pass 1]).
// Row layout, loop and checks: rows.h; what keeps the loops vectorized: the top
// of fused_cpu.cpp.

#include "rows.h"

namespace {

using namespace lrkit_fused;

// the (total rows, k) sums phase 1 returns, and row r of tensor t's first two of them
at::Tensor row_sums(const Layout& l, int64_t k = 2) {
  return at::zeros({l.total_rows, k}, at::TensorOptions().dtype(at::kDouble));
}

inline void put_sums(double* S, const Layout& l, int64_t t, int64_t r, double a, double b,
                     int64_t k = 2) {
  S[k * (l.offset[t] + r)] = a;
  S[k * (l.offset[t] + r) + 1] = b;
}

// Note [update in pass 1] (lrkit/optim/distance.py): the one-pass kernels of
// D-Adaptation return (total rows, 3) sums whose third column is 1 for the rows
// they also updated: those whose norm term is positive, so that the step will
// happen. The *_rest kernels update the other rows once the step is decided.
inline bool pending(const double* S, const Layout& l, int64_t t, int64_t r) {
  return S == nullptr || S[3 * (l.offset[t] + r) + 2] == 0;
}

inline void flag_done(double* S, const Layout& l, int64_t t, int64_t r) {
  S[3 * (l.offset[t] + r) + 2] = 1;
}

const double* done_flags(const at::Tensor& sums, const Layout& l) {
  TORCH_CHECK(sums.scalar_type() == at::kDouble && sums.is_contiguous() && sums.dim() == 2 &&
                  sums.size(0) == l.total_rows && sums.size(1) == 3,
              "lrkit fused: `sums` must be the one-pass kernel's (rows, 3) float64 sums");
  return sums.data_ptr<double>();
}

void check_flat(const Tensors& p, const Tensors& x, const char* what, bool scalar_ok) {
  TORCH_CHECK(p.size() == x.size(), "lrkit fused: ", what, " has ", x.size(),
              " tensors, expected ", p.size());
  for (size_t i = 0; i < p.size(); ++i) {
    bool whole = x[i].numel() == p[i].numel() && x[i].is_contiguous();
    bool scalar = scalar_ok && x[i].dim() == 0;
    TORCH_CHECK(p[i].is_contiguous() && x[i].device().is_cpu() &&
                    x[i].scalar_type() == p[i].scalar_type() && (whole || scalar),
                "lrkit fused: ", what, "[", i,
                "] must be contiguous with its contiguous param's dtype and size",
                scalar_ok ? " (or a 0-d zero)" : "");
  }
}

// -- Prodigy -------------------------------------------------------------------
// With g = grad + wd p (the coupled weight decay, 0 when decoupled), x0 = p0 (0
// where p0 is the 0-d zero of a zero param), s and p0 flat in p's element order
// (p contiguous, slice_p = 1):
// m <- beta1 m + a1 g (if m is given); v <- beta2 v + a2 g^2; s <- beta3 s + a3 g.
// Row sums: g.(x0 - p), |s|_1 (the new s).

at::Tensor prodigy_phase1(const Tensors& p, const Tensors& g, const Tensors& m,
                          const Tensors& v, const Tensors& s, const Tensors& p0, double wd,
                          double beta1, double a1, double beta2, double a2, double beta3,
                          double a3) {
  check_like(p, g, "grads");
  if (!m.empty()) check_like(p, m, "exp_avg");
  check_like(p, v, "exp_avg_sq");
  check_flat(p, s, "s", false);
  check_flat(p, p0, "p0", true);
  Layout l = layout_of(p);
  auto st = row_sums(l);
  if (p.empty()) return st;
  double* S = st.data_ptr<double>();
  auto kernel = [&]<typename T>() {
    with_flag(!m.empty(), [&](auto moment) {
      for_rows(l, [&](int64_t t, int64_t r, int64_t o, int64_t cols) {
        const T b1 = T(beta1), c1 = T(a1), b2 = T(beta2), c2 = T(a2);
        const T b3 = T(beta3), c3 = T(a3), w = T(wd);
        const T* __restrict__ P = ptr<T>(p, t) + o;
        const T* __restrict__ G = ptr<T>(g, t) + o;
        T* __restrict__ V = ptr<T>(v, t) + o;
        T* __restrict__ Sv = ptr<T>(s, t) + o;
        T* __restrict__ M = nullptr;
        if constexpr (decltype(moment)::value) M = ptr<T>(m, t) + o;
        const bool zero = p0[t].dim() == 0;
        const T* __restrict__ X0 = zero ? nullptr : ptr<T>(p0, t) + o;
        double dot = 0, l1 = 0;
        auto update = [&](int64_t j, T gi) {
          if constexpr (decltype(moment)::value) M[j] = M[j] * b1 + c1 * gi;
          V[j] = V[j] * b2 + c2 * (gi * gi);
          T si = Sv[j] * b3 + c3 * gi;
          Sv[j] = si;
          return si;
        };
        if (zero) {
#pragma omp simd reduction(+ : dot, l1)
          for (int64_t j = 0; j < cols; ++j) {
            T gi = G[j] + w * P[j];
            dot += double(gi) * double(-P[j]);
            l1 += double(std::abs(update(j, gi)));
          }
        } else {
#pragma omp simd reduction(+ : dot, l1)
          for (int64_t j = 0; j < cols; ++j) {
            T gi = G[j] + w * P[j];
            dot += double(gi) * double(X0[j] - P[j]);
            l1 += double(std::abs(update(j, gi)));
          }
        }
        put_sums(S, l, t, r, dot, l1);
      });
    });
  };
  AT_DISPATCH_FLOATING_TYPES(
      p[0].scalar_type(), "prodigy_phase1",
      [&] { kernel.template operator()<scalar_t>(); });
  return st;
}

// -- the Adam step of Prodigy and D-Adaptation Adam ------------------------------
// With n the first moment, or the grad plus ``coupled`` p (Prodigy without m):
// p <- p + decay p (decoupled: decay = -weight_decay * dlr, else 0), then
// p <- p + scale * n / (sqrt(v) + eps).

template <typename T>
inline void adam_row(T* __restrict__ P, const T* __restrict__ N, const T* __restrict__ V,
                     int64_t cols, T cw, T wd, T sc, T e) {
#pragma omp simd
  for (int64_t j = 0; j < cols; ++j) {
    T pj = P[j];
    T nj = N[j] + cw * pj;
    pj = pj + wd * pj;
    P[j] = pj + sc * (nj / (std::sqrt(V[j]) + e));
  }
}

// the rows of adam_step that ``done`` (a one-pass kernel's sums, or null) leaves
void adam_rows(const Tensors& p, const Tensors& n, const Tensors& v, double coupled,
               double decay, double scale, double eps, const double* done, const Layout& l) {
  auto kernel = [&]<typename T>() {
    for_rows(l, [&](int64_t t, int64_t r, int64_t o, int64_t cols) {
      if (!pending(done, l, t, r)) return;
      adam_row<T>(ptr<T>(p, t) + o, ptr<T>(n, t) + o, ptr<T>(v, t) + o, cols, T(coupled),
                  T(decay), T(scale), T(eps));
    });
  };
  AT_DISPATCH_FLOATING_TYPES(
      p[0].scalar_type(), "adam_step", [&] { kernel.template operator()<scalar_t>(); });
}

void adam_step(const Tensors& p, const Tensors& n, const Tensors& v, double coupled,
               double decay, double scale, double eps) {
  check_like(p, n, "exp_avg");
  check_like(p, v, "exp_avg_sq");
  Layout l = layout_of(p);
  if (p.empty()) return;
  adam_rows(p, n, v, coupled, decay, scale, eps, nullptr, l);
}

void adam_step_rest(const Tensors& p, const Tensors& n, const Tensors& v, double decay,
                    double scale, double eps, const at::Tensor& sums) {
  check_like(p, n, "exp_avg");
  check_like(p, v, "exp_avg_sq");
  Layout l = layout_of(p);
  if (p.empty()) return;
  adam_rows(p, n, v, 0.0, decay, scale, eps, done_flags(sums, l), l);
}

// -- D-Adaptation Adam -----------------------------------------------------------
// With g = grad + wd p (coupled decay; p is not read when wd = 0) and the old s
// and v: the row sums g.(s / (sqrt(v) + eps)) and then, after
// m <- beta1 m + a1 g, v <- beta2 v + (1 - beta2) g^2, s <- b s + a3 g, |s|_1.

// ``update``: also the Adam step (decoupled ``decay``, ``scale``) on the rows whose
// new |s|_1 is positive, flagged in a third column (Note [update in pass 1]).
at::Tensor dadapt_adam_pass(const Tensors& p, const Tensors& g, const Tensors& m,
                            const Tensors& v, const Tensors& s, double wd, double beta1,
                            double a1, double beta2, double b, double a3, double eps,
                            bool update, double decay, double scale) {
  check_like(g, p, "params");
  check_like(g, m, "exp_avg");
  check_like(g, v, "exp_avg_sq");
  check_like(g, s, "s");
  Layout l = layout_of(g);
  const int64_t k = update ? 3 : 2;
  auto st = row_sums(l, k);
  if (g.empty()) return st;
  double* S = st.data_ptr<double>();
  auto kernel = [&]<typename T>() {
    with_flag(wd != 0, [&](auto decayed) {
      for_rows(l, [&](int64_t t, int64_t r, int64_t o, int64_t cols) {
        const T b1 = T(beta1), c1 = T(a1), b2 = T(beta2), w2 = T(1 - beta2);
        const T bb = T(b), c3 = T(a3), e = T(eps), w = T(wd);
        T* __restrict__ P = ptr<T>(p, t) + o;
        const T* __restrict__ G = ptr<T>(g, t) + o;
        T* __restrict__ M = ptr<T>(m, t) + o;
        T* __restrict__ V = ptr<T>(v, t) + o;
        T* __restrict__ Sv = ptr<T>(s, t) + o;
        double dot = 0, l1 = 0;
#pragma omp simd reduction(+ : dot, l1)
        for (int64_t j = 0; j < cols; ++j) {
          T gi = G[j], vi = V[j], si = Sv[j];
          if constexpr (decltype(decayed)::value) gi = gi + w * P[j];
          dot += double(gi) * double(si / (std::sqrt(vi) + e));
          M[j] = M[j] * b1 + c1 * gi;
          V[j] = vi * b2 + w2 * (gi * gi);
          si = si * bb + c3 * gi;
          Sv[j] = si;
          l1 += double(std::abs(si));
        }
        put_sums(S, l, t, r, dot, l1, k);
        if (update && l1 > 0) {  // the row is in cache
          adam_row<T>(P, M, V, cols, T(0), T(decay), T(scale), e);
          flag_done(S, l, t, r);
        }
      });
    });
  };
  AT_DISPATCH_FLOATING_TYPES(
      g[0].scalar_type(), "dadapt_adam_pass",
      [&] { kernel.template operator()<scalar_t>(); });
  return st;
}

at::Tensor dadapt_adam_phase1(const Tensors& p, const Tensors& g, const Tensors& m,
                              const Tensors& v, const Tensors& s, double wd, double beta1,
                              double a1, double beta2, double b, double a3, double eps) {
  return dadapt_adam_pass(p, g, m, v, s, wd, beta1, a1, beta2, b, a3, eps, false, 0, 0);
}

at::Tensor dadapt_adam_one_pass(const Tensors& p, const Tensors& g, const Tensors& m,
                                const Tensors& v, const Tensors& s, double wd, double beta1,
                                double a1, double beta2, double b, double a3, double eps,
                                double decay, double scale) {
  return dadapt_adam_pass(p, g, m, v, s, wd, beta1, a1, beta2, b, a3, eps, true, decay,
                          scale);
}

// -- D-Adaptation SGD ------------------------------------------------------------
// With g = grad + wd p (p is not read when wd = 0): row sums g.s (the old s)
// and, after s <- s + dlr g, s.s; phase 2:
// z <- x0 - s, p <- (1 - c) p + c z.

template <typename T>
inline void sgd_row(T* __restrict__ P, T* __restrict__ Z, const T* __restrict__ X0,
                    const T* __restrict__ Sv, int64_t cols, T keep, T w) {
#pragma omp simd
  for (int64_t j = 0; j < cols; ++j) {
    T zj = X0[j] - Sv[j];
    Z[j] = zj;
    P[j] = P[j] * keep + w * zj;
  }
}

// ``update``: also phase 2 (z, p) on the rows whose new s.s is positive, flagged in
// a third column (Note [update in pass 1]); z and x0 are then needed.
at::Tensor dadapt_sgd_pass(const Tensors& p, const Tensors& g, const Tensors& s,
                           const Tensors& z, const Tensors& x0, double wd, double dlr,
                           bool update, double c) {
  check_like(g, p, "params");
  check_like(g, s, "s");
  if (update) {
    check_like(g, z, "z");
    check_like(g, x0, "x0");
  }
  Layout l = layout_of(g);
  const int64_t k = update ? 3 : 2;
  auto st = row_sums(l, k);
  if (g.empty()) return st;
  double* S = st.data_ptr<double>();
  auto kernel = [&]<typename T>() {
    with_flag(wd != 0, [&](auto decayed) {
      for_rows(l, [&](int64_t t, int64_t r, int64_t o, int64_t cols) {
        const T a = T(dlr), w = T(wd);
        T* __restrict__ P = ptr<T>(p, t) + o;
        const T* __restrict__ G = ptr<T>(g, t) + o;
        T* __restrict__ Sv = ptr<T>(s, t) + o;
        double dot = 0, sq = 0;
#pragma omp simd reduction(+ : dot, sq)
        for (int64_t j = 0; j < cols; ++j) {
          T gi = G[j], si = Sv[j];
          if constexpr (decltype(decayed)::value) gi = gi + w * P[j];
          dot += double(gi) * double(si);
          si = si + a * gi;
          Sv[j] = si;
          sq += double(si) * double(si);
        }
        put_sums(S, l, t, r, dot, sq, k);
        if (update && sq > 0) {  // the row is in cache
          sgd_row<T>(P, ptr<T>(z, t) + o, ptr<T>(x0, t) + o, Sv, cols, T(1 - c), T(c));
          flag_done(S, l, t, r);
        }
      });
    });
  };
  AT_DISPATCH_FLOATING_TYPES(
      g[0].scalar_type(), "dadapt_sgd_pass",
      [&] { kernel.template operator()<scalar_t>(); });
  return st;
}

at::Tensor dadapt_sgd_phase1(const Tensors& p, const Tensors& g, const Tensors& s, double wd,
                             double dlr) {
  return dadapt_sgd_pass(p, g, s, {}, {}, wd, dlr, false, 0);
}

at::Tensor dadapt_sgd_one_pass(const Tensors& p, const Tensors& g, const Tensors& s,
                               const Tensors& z, const Tensors& x0, double wd, double dlr,
                               double c) {
  return dadapt_sgd_pass(p, g, s, z, x0, wd, dlr, true, c);
}

void sgd_rows(const Tensors& p, const Tensors& z, const Tensors& x0, const Tensors& s, double c,
              const at::Tensor* sums) {
  check_like(p, z, "z");
  check_like(p, x0, "x0");
  check_like(p, s, "s");
  Layout l = layout_of(p);
  if (p.empty()) return;
  const double* done = sums == nullptr ? nullptr : done_flags(*sums, l);
  auto kernel = [&]<typename T>() {
    for_rows(l, [&](int64_t t, int64_t r, int64_t o, int64_t cols) {
      if (!pending(done, l, t, r)) return;
      sgd_row<T>(ptr<T>(p, t) + o, ptr<T>(z, t) + o, ptr<T>(x0, t) + o, ptr<T>(s, t) + o, cols,
                 T(1 - c), T(c));
    });
  };
  AT_DISPATCH_FLOATING_TYPES(
      p[0].scalar_type(), "dadapt_sgd_phase2",
      [&] { kernel.template operator()<scalar_t>(); });
}

void dadapt_sgd_phase2(const Tensors& p, const Tensors& z, const Tensors& x0, const Tensors& s,
                       double c) {
  sgd_rows(p, z, x0, s, c, nullptr);
}

void dadapt_sgd_phase2_rest(const Tensors& p, const Tensors& z, const Tensors& x0,
                            const Tensors& s, double c, const at::Tensor& sums) {
  sgd_rows(p, z, x0, s, c, &sums);
}

}  // namespace

void register_distance(pybind11::module_& mod) {
  mod.def("prodigy_phase1", &prodigy_phase1, "Prodigy: moments, s and per-row sums");
  mod.def("adam_step", &adam_step, "Prodigy, D-Adaptation Adam: p <- p + wd p + s n/(sqrt(v)+e)");
  mod.def("dadapt_adam_phase1", &dadapt_adam_phase1, "D-Adaptation Adam: moments and sums");
  mod.def("dadapt_sgd_phase1", &dadapt_sgd_phase1, "D-Adaptation SGD: s and per-row sums");
  mod.def("dadapt_sgd_phase2", &dadapt_sgd_phase2, "D-Adaptation SGD: z and p");
  mod.def("dadapt_adam_one_pass", &dadapt_adam_one_pass,
          "D-Adaptation Adam: phase 1 and the step on rows with a positive |s|_1");
  mod.def("adam_step_rest", &adam_step_rest, "D-Adaptation Adam: the rows one_pass left");
  mod.def("dadapt_sgd_one_pass", &dadapt_sgd_one_pass,
          "D-Adaptation SGD: phase 1 and phase 2 on rows with a positive s.s");
  mod.def("dadapt_sgd_phase2_rest", &dadapt_sgd_phase2_rest,
          "D-Adaptation SGD: the rows one_pass left");
}
