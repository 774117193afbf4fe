// lrkit's fused CPU kernels: the optimizers with per-tensor reductions (AdamP,
// SGDP, LAMB) in two passes over memory instead of one pass per torch op.
// Built on first use by lrkit/optim/fused_cpu.py; see Note [fused cpu] there.
//
// The row layout and loop are rows.h's.
//
// phase 1 updates the moments and writes per-row sums (accumulated in double)
// into a (total rows, K) tensor; phase 2 recomputes the update ``u`` from the
// new moments (cheaper than storing it: the same 40 bytes per fp32 parameter
// in all, and no allocation) and applies ``p <- p d - s (u - k p)``.
//
// What keeps the row loops vectorized (each worth 2-3x, measured): scalars
// copied into locals and pointers marked __restrict__ inside each row loop
// (through the lambdas' captured references the compiler would otherwise
// reload them after every store); flags as compile-time constants
// (with_flag), not a runtime ternary per element; and the flags the loader
// passes, -fno-trapping-math (else GCC will not if-convert lerp's two arms)
// and -fno-math-errno (else sqrt keeps a scalar errno path).

#include "rows.h"

namespace {

using namespace lrkit_fused;

// -- AdamP ---------------------------------------------------------------------
// m <- lerp(m, g, 1 - beta1); v <- beta2 v + (1 - beta2) g^2;
// u = n / (sqrt(v) / c2 + eps), n = m, or lerp(m, g, 1 - beta1) under nesterov.
// Row sums: g.p, g.g, p.p, p.u.

at::Tensor adamp_phase1(const Tensors& p, const Tensors& g, const Tensors& m, const Tensors& v,
                        double gscale, double beta1, double beta2, double c2, double eps,
                        bool nesterov) {
  check_like(p, g, "grads");
  check_like(p, m, "exp_avg");
  check_like(p, v, "exp_avg_sq");
  Layout l = layout_of(p);
  auto st = at::zeros({l.total_rows, 4}, at::TensorOptions().dtype(at::kDouble));
  if (p.empty()) return st;
  double* S = st.data_ptr<double>();
  auto kernel = [&]<typename T>() {
    with_flag(nesterov, [&](auto nest) {
      for_rows(l, [&](int64_t t, int64_t r, int64_t o, int64_t cols) {
        const T w1 = T(1 - beta1), b2 = T(beta2), w2 = T(1 - beta2), gs = T(gscale);
        const T c = T(c2), e = T(eps);
        const T* __restrict__ P = ptr<T>(p, t) + o;
        const T* __restrict__ G = ptr<T>(g, t) + o;
        T* __restrict__ M = ptr<T>(m, t) + o;
        T* __restrict__ V = ptr<T>(v, t) + o;
        double gp = 0, gg = 0, pp = 0, pu = 0;
#pragma omp simd reduction(+ : gp, gg, pp, pu)
        for (int64_t j = 0; j < cols; ++j) {
          T gi = gs * G[j];
          T mi = lerp(M[j], gi, w1);
          T vi = V[j] * b2 + w2 * (gi * gi);
          M[j] = mi;
          V[j] = vi;
          T n = mi;
          if constexpr (decltype(nest)::value) n = lerp(mi, gi, w1);
          T ui = n / (std::sqrt(vi) / c + e);
          T pi = P[j];
          gp += double(gi) * double(pi);
          gg += double(gi) * double(gi);
          pp += double(pi) * double(pi);
          pu += double(pi) * double(ui);
        }
        double* s = S + 4 * (l.offset[t] + r);
        s[0] = gp;
        s[1] = gg;
        s[2] = pp;
        s[3] = pu;
      });
    });
  };
  AT_DISPATCH_FLOATING_TYPES(
      p[0].scalar_type(), "adamp_phase1",
      [&] { kernel.template operator()<scalar_t>(); });
  return st;
}

void adamp_phase2(const Tensors& p, const Tensors& g, const Tensors& m, const Tensors& v,
                  const at::Tensor& d, const at::Tensor& k, const at::Tensor& s, double gscale,
                  double beta1, double c2, double eps, bool nesterov) {
  check_like(p, g, "grads");
  check_like(p, m, "exp_avg");
  check_like(p, v, "exp_avg_sq");
  Layout l = layout_of(p);
  const double* D = doubles(d, l.total_rows, "d");
  const double* K = doubles(k, l.total_rows, "k");
  const double* Sc = doubles(s, static_cast<int64_t>(p.size()), "s");
  if (p.empty()) return;
  auto kernel = [&]<typename T>() {
    for_rows(l, [&](int64_t t, int64_t r, int64_t o, int64_t cols) {
      const T w1 = T(1 - beta1), gs = T(gscale), c = T(c2), e = T(eps);
      const T dr = T(D[l.offset[t] + r]), kr = T(K[l.offset[t] + r]), st = T(Sc[t]);
      const bool nest = nesterov;
      T* __restrict__ P = ptr<T>(p, t) + o;
      const T* __restrict__ G = ptr<T>(g, t) + o;
      const T* __restrict__ M = ptr<T>(m, t) + o;
      const T* __restrict__ V = ptr<T>(v, t) + o;
      if (nest) {
#pragma omp simd
        for (int64_t j = 0; j < cols; ++j) {
          T ui = lerp(M[j], gs * G[j], w1) / (std::sqrt(V[j]) / c + e);
          T pj = P[j];
          P[j] = pj * dr - st * (ui - kr * pj);
        }
      } else {
#pragma omp simd
        for (int64_t j = 0; j < cols; ++j) {
          T ui = M[j] / (std::sqrt(V[j]) / c + e);
          T pj = P[j];
          P[j] = pj * dr - st * (ui - kr * pj);
        }
      }
    });
  };
  AT_DISPATCH_FLOATING_TYPES(
      p[0].scalar_type(), "adamp_phase2",
      [&] { kernel.template operator()<scalar_t>(); });
}

// -- SGDP ----------------------------------------------------------------------
// b <- momentum b + (1 - dampening) g; u = g + momentum b under nesterov, else b
// (whose projection phase 2 writes back, as the official code projects the
// buffer itself). Row sums: g.p, g.g, p.p, p.u.

at::Tensor sgdp_phase1(const Tensors& p, const Tensors& g, const Tensors& b, double gscale,
                       double momentum, double dampening, bool nesterov) {
  check_like(p, g, "grads");
  check_like(p, b, "momentum");
  Layout l = layout_of(p);
  auto st = at::zeros({l.total_rows, 4}, at::TensorOptions().dtype(at::kDouble));
  if (p.empty()) return st;
  double* S = st.data_ptr<double>();
  auto kernel = [&]<typename T>() {
    with_flag(nesterov, [&](auto nest) {
      for_rows(l, [&](int64_t t, int64_t r, int64_t o, int64_t cols) {
        const T mu = T(momentum), w = T(1 - dampening), gs = T(gscale);
        const T* __restrict__ P = ptr<T>(p, t) + o;
        const T* __restrict__ G = ptr<T>(g, t) + o;
        T* __restrict__ B = ptr<T>(b, t) + o;
        double gp = 0, gg = 0, pp = 0, pu = 0;
#pragma omp simd reduction(+ : gp, gg, pp, pu)
        for (int64_t j = 0; j < cols; ++j) {
          T gi = gs * G[j];
          T bi = B[j] * mu + w * gi;
          B[j] = bi;
          T ui = bi;
          if constexpr (decltype(nest)::value) ui = gi + mu * bi;
          T pi = P[j];
          gp += double(gi) * double(pi);
          gg += double(gi) * double(gi);
          pp += double(pi) * double(pi);
          pu += double(pi) * double(ui);
        }
        double* s = S + 4 * (l.offset[t] + r);
        s[0] = gp;
        s[1] = gg;
        s[2] = pp;
        s[3] = pu;
      });
    });
  };
  AT_DISPATCH_FLOATING_TYPES(
      p[0].scalar_type(), "sgdp_phase1",
      [&] { kernel.template operator()<scalar_t>(); });
  return st;
}

void sgdp_phase2(const Tensors& p, const Tensors& g, const Tensors& b, const at::Tensor& d,
                 const at::Tensor& k, const at::Tensor& s, double gscale, double momentum,
                 bool nesterov) {
  check_like(p, g, "grads");
  check_like(p, b, "momentum");
  Layout l = layout_of(p);
  const double* D = doubles(d, l.total_rows, "d");
  const double* K = doubles(k, l.total_rows, "k");
  const double* Sc = doubles(s, static_cast<int64_t>(p.size()), "s");
  if (p.empty()) return;
  auto kernel = [&]<typename T>() {
    for_rows(l, [&](int64_t t, int64_t r, int64_t o, int64_t cols) {
      const T mu = T(momentum), gs = T(gscale);
      const T dr = T(D[l.offset[t] + r]), kr = T(K[l.offset[t] + r]), st = T(Sc[t]);
      T* __restrict__ P = ptr<T>(p, t) + o;
      const T* __restrict__ G = ptr<T>(g, t) + o;
      T* __restrict__ B = ptr<T>(b, t) + o;
      if (nesterov) {
#pragma omp simd
        for (int64_t j = 0; j < cols; ++j) {
          T pj = P[j];
          P[j] = pj * dr - st * ((gs * G[j] + mu * B[j]) - kr * pj);
        }
      } else if (kr != T(0)) {
#pragma omp simd
        for (int64_t j = 0; j < cols; ++j) {
          T pj = P[j];
          T uj = B[j] - kr * pj;
          B[j] = uj;
          P[j] = pj * dr - st * uj;
        }
      } else {
#pragma omp simd
        for (int64_t j = 0; j < cols; ++j) P[j] = P[j] * dr - st * B[j];
      }
    });
  };
  AT_DISPATCH_FLOATING_TYPES(
      p[0].scalar_type(), "sgdp_phase2",
      [&] { kernel.template operator()<scalar_t>(); });
}

// -- LAMB (timm) -----------------------------------------------------------------
// m <- lerp(m, g, 1 - beta1) (beta1 m + g without grad averaging);
// v <- beta2 v + (1 - beta2) g^2; u = (m / bc1) / (sqrt(v) / sqrt(bc2) + eps),
// times the mask [u g > 0] under caution (the division by the mask's mean is
// left to the scale). Row sums: mask count, u.u, u.p, p.p and f.f with
// f = u + wd p (``wd`` the coupled weight decay, 0 when decoupled).

at::Tensor lamb_phase1(const Tensors& p, const Tensors& g, const Tensors& m, const Tensors& v,
                       double gscale, double beta1, double beta2, double bc1, double sqrt_bc2,
                       double eps, double wd, bool averaging, bool caution) {
  check_like(p, g, "grads");
  check_like(p, m, "exp_avg");
  check_like(p, v, "exp_avg_sq");
  Layout l = layout_of(p);
  auto st = at::zeros({l.total_rows, 5}, at::TensorOptions().dtype(at::kDouble));
  if (p.empty()) return st;
  double* S = st.data_ptr<double>();
  auto kernel = [&]<typename T>() {
    with_flag(averaging, [&](auto avg) {
      with_flag(caution, [&](auto cau) {
        for_rows(l, [&](int64_t t, int64_t r, int64_t o, int64_t cols) {
          const T b1 = T(beta1), w1 = T(1 - beta1), b2 = T(beta2), w2 = T(1 - beta2);
          const T gs = T(gscale), c1 = T(bc1), c2 = T(sqrt_bc2), e = T(eps), dec = T(wd);
          const T* __restrict__ P = ptr<T>(p, t) + o;
          const T* __restrict__ G = ptr<T>(g, t) + o;
          T* __restrict__ M = ptr<T>(m, t) + o;
          T* __restrict__ V = ptr<T>(v, t) + o;
          double cnt = 0, uu = 0, up = 0, pp = 0, ff = 0;
#pragma omp simd reduction(+ : cnt, uu, up, pp, ff)
          for (int64_t j = 0; j < cols; ++j) {
            T gi = gs * G[j];
            T mi;
            if constexpr (decltype(avg)::value) {
              mi = lerp(M[j], gi, w1);
            } else {
              mi = M[j] * b1 + gi;
            }
            T vi = V[j] * b2 + w2 * (gi * gi);
            M[j] = mi;
            V[j] = vi;
            T ui = (mi / c1) / (std::sqrt(vi) / c2 + e);
            T keep = T(1);
            if constexpr (decltype(cau)::value) {
              keep = ui * gi > T(0) ? T(1) : T(0);
              ui = ui * keep;
            }
            T pi = P[j];
            T fi = ui + dec * pi;
            cnt += double(keep);
            uu += double(ui) * double(ui);
            up += double(ui) * double(pi);
            pp += double(pi) * double(pi);
            ff += double(fi) * double(fi);
          }
          double* s = S + 5 * (l.offset[t] + r);
          s[0] = cnt;
          s[1] = uu;
          s[2] = up;
          s[3] = pp;
          s[4] = ff;
        });
      });
    });
  };
  AT_DISPATCH_FLOATING_TYPES(
      p[0].scalar_type(), "lamb_phase1",
      [&] { kernel.template operator()<scalar_t>(); });
  return st;
}

// p <- p d - s u, with u (masked under caution) recomputed and d, s per tensor
void lamb_phase2(const Tensors& p, const Tensors& g, const Tensors& m, const Tensors& v,
                 const at::Tensor& d, const at::Tensor& s, double gscale, double bc1,
                 double sqrt_bc2, double eps, bool caution) {
  check_like(p, g, "grads");
  check_like(p, m, "exp_avg");
  check_like(p, v, "exp_avg_sq");
  Layout l = layout_of(p);
  const double* D = doubles(d, static_cast<int64_t>(p.size()), "d");
  const double* Sc = doubles(s, static_cast<int64_t>(p.size()), "s");
  if (p.empty()) return;
  auto kernel = [&]<typename T>() {
    for_rows(l, [&](int64_t t, int64_t, int64_t o, int64_t cols) {
      const T gs = T(gscale), c1 = T(bc1), c2 = T(sqrt_bc2), e = T(eps);
      const T dt = T(D[t]), st = T(Sc[t]);
      const bool cau = caution;
      T* __restrict__ P = ptr<T>(p, t) + o;
      const T* __restrict__ G = ptr<T>(g, t) + o;
      const T* __restrict__ M = ptr<T>(m, t) + o;
      const T* __restrict__ V = ptr<T>(v, t) + o;
      if (cau) {
#pragma omp simd
        for (int64_t j = 0; j < cols; ++j) {
          T ui = (M[j] / c1) / (std::sqrt(V[j]) / c2 + e);
          T keep = ui * (gs * G[j]) > T(0) ? T(1) : T(0);
          P[j] = P[j] * dt - st * (ui * keep);
        }
      } else {
#pragma omp simd
        for (int64_t j = 0; j < cols; ++j) {
          P[j] = P[j] * dt - st * ((M[j] / c1) / (std::sqrt(V[j]) / c2 + e));
        }
      }
    });
  };
  AT_DISPATCH_FLOATING_TYPES(
      p[0].scalar_type(), "lamb_phase2",
      [&] { kernel.template operator()<scalar_t>(); });
}

}  // namespace

void register_distance(pybind11::module_& mod);  // distance_cpu.cpp

PYBIND11_MODULE(TORCH_EXTENSION_NAME, mod) {
  mod.def("adamp_phase1", &adamp_phase1, "AdamP: moments and per-row sums");
  mod.def("adamp_phase2", &adamp_phase2, "AdamP: p <- p d - s (u - k p)");
  mod.def("sgdp_phase1", &sgdp_phase1, "SGDP: momentum and per-row sums");
  mod.def("sgdp_phase2", &sgdp_phase2, "SGDP: p <- p d - s (u - k p), the buffer projected");
  mod.def("lamb_phase1", &lamb_phase1, "LAMB: moments and per-row sums");
  mod.def("lamb_phase2", &lamb_phase2, "LAMB: p <- p d - s u");
  register_distance(mod);
}
