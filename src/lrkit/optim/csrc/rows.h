// The shared pieces of lrkit's fused CPU kernels (fused_cpu.cpp, distance_cpu.cpp):
// the row layout, the parallel row loop and the argument checks. See the top of
// fused_cpu.cpp and Note [fused cpu] in lrkit/optim/fused_cpu.py.
//
// Every tensor is seen as (rows, cols): rows = size(0) for a tensor of more
// than one dimension, else 1. The caller passes tensors whose rows are
// contiguous blocks of memory, with grads and state of the same strides, so
// the kernels walk raw pointers (elementwise, so the order inside a row does
// not matter). Work is cut on row boundaries into items of about kBlock
// elements and shared among ATen's threads.

#pragma once

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/zeros.h>
#include <torch/python.h>

#include <cmath>
#include <vector>

namespace lrkit_fused {

using Tensors = std::vector<at::Tensor>;

constexpr int64_t kBlock = 1 << 14;

struct Item {
  int64_t t, r0, r1;  // rows [r0, r1) of tensor t
};

struct Layout {
  std::vector<int64_t> cols, offset;  // offset: the tensor's first row in the stacked sums
  std::vector<Item> items;
  int64_t total_rows = 0;
};

inline Layout layout_of(const Tensors& ts) {
  Layout l;
  for (size_t t = 0; t < ts.size(); ++t) {
    const auto& x = ts[t];
    TORCH_CHECK(x.device().is_cpu(), "lrkit fused: tensor ", t, " is not on the CPU");
    int64_t rows = x.dim() > 1 ? x.size(0) : 1;
    int64_t n = x.numel();
    int64_t cols = rows > 0 ? n / rows : 0;
    bool blocks =
        x.dim() > 1 ? (rows <= 1 || x.stride(0) == cols) : (x.dim() == 0 || x.stride(0) == 1);
    TORCH_CHECK(blocks, "lrkit fused: tensor ", t, " has rows that are not contiguous blocks");
    l.cols.push_back(cols);
    l.offset.push_back(l.total_rows);
    l.total_rows += rows;
    if (n == 0) continue;
    int64_t per = std::max<int64_t>(1, kBlock / std::max<int64_t>(1, cols));
    for (int64_t r = 0; r < rows; r += per) {
      l.items.push_back({static_cast<int64_t>(t), r, std::min(rows, r + per)});
    }
  }
  return l;
}

inline void check_like(const Tensors& ref, const Tensors& other, const char* what) {
  TORCH_CHECK(ref.size() == other.size(), "lrkit fused: ", what, " has ", other.size(),
              " tensors, expected ", ref.size());
  for (size_t i = 0; i < ref.size(); ++i) {
    TORCH_CHECK(other[i].device().is_cpu() && other[i].scalar_type() == ref[i].scalar_type() &&
                    other[i].sizes() == ref[i].sizes() && other[i].strides() == ref[i].strides(),
                "lrkit fused: ", what, "[", i,
                "] differs from its param in device, dtype, shape or strides");
  }
  if (!ref.empty()) {
    TORCH_CHECK(ref[0].scalar_type() == at::kFloat || ref[0].scalar_type() == at::kDouble,
                "lrkit fused: float32 or float64 tensors only");
    for (const auto& x : ref) {
      TORCH_CHECK(x.scalar_type() == ref[0].scalar_type(), "lrkit fused: mixed dtypes");
    }
  }
}

inline const double* doubles(const at::Tensor& x, int64_t n, const char* what) {
  TORCH_CHECK(x.scalar_type() == at::kDouble && x.is_contiguous() && x.numel() == n,
              "lrkit fused: `", what, "` must be a contiguous float64 tensor of ", n, " values");
  return x.data_ptr<double>();
}

template <typename T>
inline T lerp(T a, T b, T w) {  // torch's lerp
  return w < T(0.5) ? a + w * (b - a) : b - (b - a) * (T(1) - w);
}

// f(t, row, first element of the row, cols) for every row, in parallel over items
template <typename F>
void for_rows(const Layout& l, const F& f) {
  at::parallel_for(0, static_cast<int64_t>(l.items.size()), 1, [&](int64_t a, int64_t b) {
    for (int64_t i = a; i < b; ++i) {
      const Item& it = l.items[i];
      const int64_t cols = l.cols[it.t];
      for (int64_t r = it.r0; r < it.r1; ++r) f(it.t, r, r * cols, cols);
    }
  });
}

// f(std::true_type) or f(std::false_type): a flag as a compile-time constant, so
// that the row loops carry no per-element branch
template <typename F>
void with_flag(bool flag, const F& f) {
  if (flag) {
    f(std::true_type{});
  } else {
    f(std::false_type{});
  }
}

template <typename T>
T* ptr(const Tensors& ts, int64_t t) {
  return ts[t].data_ptr<T>();
}

}  // namespace lrkit_fused
