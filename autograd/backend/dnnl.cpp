// oneDNN wrapper: the engine and stream, a per-thread primitive cache, and the bf16 matmul,
// eltwise and softmax primitives. oneDNN errors are rethrown as kiln::Error naming the call.
#include "autograd/backend/dnnl.h"

#include <omp.h>

#include <bit>
#include <cstring>
#include <initializer_list>
#include <string>
#include <unordered_map>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "base/error.h"

namespace kiln::backend {

void dnnl_gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
               const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
               int64_t ldc) {
  dnnl_status_t status = dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, alpha, a,
                                    lda, b, ldb, beta, c, ldc);
  KILN_CHECK(status == dnnl_success, "dnnl_sgemm: expected success, got status ",
             static_cast<int>(status), " for M=", m, " N=", n, " K=", k);
}

namespace {

using dnnl::memory;
using dnnl::prop_kind;
using Tag = memory::format_tag;
constexpr auto kF32 = memory::data_type::f32;

dnnl::engine& engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

// One stream per thread: a stream must not be used by two threads at once, and the tape
// (hence every op) is per thread anyway.
dnnl::stream& stream() {
  thread_local dnnl::stream s(engine());
  return s;
}

// ---- the primitive cache ----------------------------------------------------------------

enum class Kind { kEltFwd, kEltBwd, kSmFwd, kSmBwd, kMatmulBf16, kMatmulBf16Sum, kMatmulF32 };

// What identifies a primitive: its kind, up to two sizes, and one word of flags (eps bits,
// algorithm, log; a matmul's K). A plain struct so that a lookup allocates nothing.
struct Key {
  Kind kind;
  int64_t a, b;
  uint32_t flags;
  int64_t c = 0;    // a third size (a matmul's leading dimension of C)
  int threads = 0;  // oneDNN splits the work for this many threads when it builds a primitive
  bool operator==(const Key&) const = default;
};

struct KeyHash {
  std::size_t operator()(const Key& k) const {
    std::size_t h = static_cast<std::size_t>(k.kind);
    for (uint64_t v : {static_cast<uint64_t>(k.a), static_cast<uint64_t>(k.b), uint64_t{k.flags},
                       static_cast<uint64_t>(k.c), static_cast<uint64_t>(k.threads)})
      h = (h ^ v) * 0x100000001b3ull;
    return h;
  }
};

// A built primitive with its argument map. The memory objects carry no buffer of their own:
// each call points them at the caller's buffers, so a cached call allocates nothing.
struct Cached {
  dnnl::primitive prim;
  std::unordered_map<int, memory> args;
};

// Per thread, so lookups need no lock and the memory objects are never shared.
std::unordered_map<Key, Cached, KeyHash>& cache() {
  thread_local std::unordered_map<Key, Cached, KeyHash> c;
  return c;
}

// The entry for `key`, built by make() the first time this thread asks for it.
// A primitive keeps the work split it was built for, so the thread count is part of the key: a
// product built on one thread must not serve a call that has the team.
template <typename Make>
Cached& lookup(Key key, Make&& make) {
  key.threads = omp_get_max_threads();
  auto it = cache().find(key);
  if (it == cache().end()) it = cache().emplace(key, make()).first;
  return it->second;
}

// Wraps `prim` with buffer-less memory objects for `arg_ids`, described as `pd` expects them.
Cached with_args(dnnl::primitive prim, const dnnl::primitive_desc_base& pd,
                 const std::vector<int>& arg_ids) {
  Cached c{std::move(prim), {}};
  for (int id : arg_ids)
    c.args.emplace(id,
                   memory(pd.query_md(dnnl::query::exec_arg_md, id), engine(), DNNL_MEMORY_NONE));
  return c;
}

struct Bind {
  int arg;
  const void* data;
};

// Points every argument at its buffer and runs the primitive to completion. oneDNN only
// reads inputs, so the const_cast never leads to a write through a const pointer.
void execute(Cached& c, std::initializer_list<Bind> binds) {
  for (const Bind& b : binds)  // a null one is an optional argument the primitive was built without
    if (b.data) c.args.at(b.arg).set_data_handle(const_cast<void*>(b.data));
  c.prim.execute(stream(), c.args);
  stream().wait();
}

// Runs fn(), turning a dnnl::error into kiln::Error naming the primitive and its sizes.
template <typename Fn>
void guarded(const char* what, int64_t a, int64_t b, Fn&& fn) {
  try {
    fn();
  } catch (const dnnl::error& e) {
    std::string sizes = b < 0 ? detail::concat("[", a, "]") : detail::concat("[", a, ", ", b, "]");
    throw Error(detail::concat("oneDNN ", what, ": expected success for ", sizes, ", got \"",
                               e.what(), "\" (status ", static_cast<int>(e.status), ")"));
  }
}

// ---- bf16 matmul ---------------------------------------------------------------------------

Cached make_matmul_bf16(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, int64_t ldc,
                        bool accumulate) {
  constexpr auto kBf16 = memory::data_type::bf16;
  // Transposed operands are described by their strides: oneDNN reads them in place.
  memory::desc a_md({m, k}, kBf16, trans_a ? memory::dims{1, m} : memory::dims{k, 1});
  memory::desc b_md({k, n}, kBf16, trans_b ? memory::dims{1, k} : memory::dims{n, 1});
  memory::desc c_md({m, n}, kF32, memory::dims{ldc, 1});
  dnnl::primitive_attr attr;
  if (accumulate) {
    dnnl::post_ops ops;
    ops.append_sum(1.0f);
    attr.set_post_ops(ops);
  }
  dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_md, b_md, c_md), attr, engine());
  return with_args(dnnl::matmul(pd), pd, {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST});
}

}  // namespace

void dnnl_matmul_bf16(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                      const uint16_t* a, const uint16_t* b, float beta, float* c, int64_t ldc) {
  KILN_CHECK(beta == 0.0f || beta == 1.0f, "dnnl_matmul_bf16: expected beta 0 or 1, got ", beta);
  KILN_CHECK(k < (int64_t{1} << 30) && ldc >= n,
             "dnnl_matmul_bf16: expected K < 2^30 and ldc >= N, got K=", k, " ldc=", ldc, " N=", n);
  guarded("matmul (bf16)", m, n, [&] {
    const bool accumulate = beta == 1.0f;
    // The flags word holds K (below 2^30) and the two transposes.
    const uint32_t flags =
        static_cast<uint32_t>(k) | (trans_a ? 1u << 30 : 0u) | (trans_b ? 1u << 31 : 0u);
    Key key{accumulate ? Kind::kMatmulBf16Sum : Kind::kMatmulBf16, m, n, flags, ldc};
    Cached& cached =
        lookup(key, [&] { return make_matmul_bf16(trans_a, trans_b, m, n, k, ldc, accumulate); });
    execute(cached, {{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, b}, {DNNL_ARG_DST, c}});
  });
}

// ---- f32 matmul with a bias and a residual ----------------------------------------------

namespace {

// The argument that carries the residual: the first post-op's second source.
constexpr int kResidualArg = DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1;

Cached make_matmul_f32(bool trans_b, int64_t m, int64_t n, int64_t k, bool bias, bool residual) {
  memory::desc a_md({m, k}, kF32, memory::dims{k, 1});
  memory::desc b_md({k, n}, kF32, trans_b ? memory::dims{1, k} : memory::dims{n, 1});
  memory::desc c_md({m, n}, kF32, memory::dims{n, 1});
  dnnl::primitive_attr attr;
  if (residual) {
    dnnl::post_ops ops;
    ops.append_binary(dnnl::algorithm::binary_add, c_md);
    attr.set_post_ops(ops);
  }
  const dnnl::matmul::desc desc =
      bias ? dnnl::matmul::desc(a_md, b_md, memory::desc({1, n}, kF32, memory::dims{n, 1}), c_md)
           : dnnl::matmul::desc(a_md, b_md, c_md);
  dnnl::matmul::primitive_desc pd(desc, attr, engine());
  std::vector<int> args{DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST};
  if (bias) args.push_back(DNNL_ARG_BIAS);
  if (residual) args.push_back(kResidualArg);
  return with_args(dnnl::matmul(pd), pd, args);
}

}  // namespace

void dnnl_matmul_f32(bool trans_b, int64_t m, int64_t n, int64_t k, const float* a, const float* b,
                     const float* bias, const float* residual, float* c) {
  KILN_CHECK(k < (int64_t{1} << 30), "dnnl_matmul_f32: expected K < 2^30, got K=", k);
  guarded("matmul (f32)", m, n, [&] {
    // The flags word holds K (below 2^30), whether B is transposed and whether a bias is added;
    // the third size says whether a residual is.
    const uint32_t flags =
        static_cast<uint32_t>(k) | (bias ? 1u << 30 : 0u) | (trans_b ? 1u << 31 : 0u);
    Key key{Kind::kMatmulF32, m, n, flags, residual ? 1 : 0};
    Cached& cached = lookup(key, [&] {
      return make_matmul_f32(trans_b, m, n, k, bias != nullptr, residual != nullptr);
    });
    execute(cached, {{DNNL_ARG_SRC, a},
                     {DNNL_ARG_WEIGHTS, b},
                     {DNNL_ARG_DST, c},
                     {DNNL_ARG_BIAS, bias},
                     {kResidualArg, residual}});
  });
}

// ---- eltwise ----------------------------------------------------------------------------

namespace {

// tanh uses the variant whose backward reads the forward output, so the op saves y, not x.
dnnl::algorithm to_dnnl(Eltwise alg) {
  switch (alg) {
    case Eltwise::kTanh:
      return dnnl::algorithm::eltwise_tanh_use_dst_for_bwd;
  }
  throw Error("eltwise: expected a known algorithm, got " + std::to_string(static_cast<int>(alg)));
}

dnnl::eltwise_forward::primitive_desc eltwise_pd(Eltwise alg, int64_t n) {
  memory::desc md({n}, kF32, Tag::a);
  return {{prop_kind::forward_training, to_dnnl(alg), md}, engine()};
}

}  // namespace

void eltwise_forward(Eltwise alg, int64_t n, const float* x, float* y) {
  if (n == 0) return;
  guarded("eltwise_forward", n, -1, [&] {
    Cached& c = lookup({Kind::kEltFwd, n, 0, static_cast<uint32_t>(alg)}, [&] {
      auto pd = eltwise_pd(alg, n);
      return with_args(dnnl::eltwise_forward(pd), pd, {DNNL_ARG_SRC, DNNL_ARG_DST});
    });
    execute(c, {{DNNL_ARG_SRC, x}, {DNNL_ARG_DST, y}});
  });
}

void eltwise_backward(Eltwise alg, int64_t n, const float* saved, const float* dy, float* dx) {
  if (n == 0) return;
  // The *_use_dst_for_bwd algorithms take the forward output as DNNL_ARG_DST.
  const int saved_arg = alg == Eltwise::kTanh ? DNNL_ARG_DST : DNNL_ARG_SRC;
  guarded("eltwise_backward", n, -1, [&] {
    Cached& c = lookup({Kind::kEltBwd, n, 0, static_cast<uint32_t>(alg)}, [&] {
      auto fwd_pd = eltwise_pd(alg, n);
      memory::desc md = fwd_pd.src_desc();
      dnnl::eltwise_backward::primitive_desc pd({to_dnnl(alg), md, md}, engine(), fwd_pd);
      return with_args(dnnl::eltwise_backward(pd), pd,
                       {saved_arg, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_SRC});
    });
    execute(c, {{saved_arg, saved}, {DNNL_ARG_DIFF_DST, dy}, {DNNL_ARG_DIFF_SRC, dx}});
  });
}

// ---- softmax ----------------------------------------------------------------------------

namespace {

dnnl::softmax_v2_forward::primitive_desc softmax_pd(int64_t rows, int64_t channels, bool log) {
  memory::desc md({rows, channels}, kF32, Tag::ab);
  auto alg = log ? dnnl::algorithm::softmax_log : dnnl::algorithm::softmax_accurate;
  return {{prop_kind::forward_training, alg, md, md, /*softmax_axis=*/1}, engine()};
}

}  // namespace

void softmax_forward(int64_t rows, int64_t channels, const float* x, float* y, bool log) {
  if (rows == 0 || channels == 0) return;
  guarded(log ? "softmax_v2_forward(log)" : "softmax_v2_forward", rows, channels, [&] {
    Cached& c = lookup({Kind::kSmFwd, rows, channels, log}, [&] {
      auto pd = softmax_pd(rows, channels, log);
      return with_args(dnnl::softmax_v2_forward(pd), pd, {DNNL_ARG_SRC, DNNL_ARG_DST});
    });
    execute(c, {{DNNL_ARG_SRC, x}, {DNNL_ARG_DST, y}});
  });
}

void softmax_backward(int64_t rows, int64_t channels, const float* y, const float* dy, float* dx,
                      bool log) {
  if (rows == 0 || channels == 0) return;
  guarded(log ? "softmax_v2_backward(log)" : "softmax_v2_backward", rows, channels, [&] {
    Cached& c = lookup({Kind::kSmBwd, rows, channels, log}, [&] {
      auto fwd_pd = softmax_pd(rows, channels, log);
      memory::desc md = fwd_pd.dst_desc();
      auto alg = log ? dnnl::algorithm::softmax_log : dnnl::algorithm::softmax_accurate;
      dnnl::softmax_v2_backward::primitive_desc pd({alg, md, md, md, /*softmax_axis=*/1}, engine(),
                                                   fwd_pd);
      return with_args(dnnl::softmax_v2_backward(pd), pd,
                       {DNNL_ARG_DST, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_SRC});
    });
    execute(c, {{DNNL_ARG_DST, y}, {DNNL_ARG_DIFF_DST, dy}, {DNNL_ARG_DIFF_SRC, dx}});
  });
}

}  // namespace kiln::backend
