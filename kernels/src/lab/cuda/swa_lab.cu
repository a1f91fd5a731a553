// Lab for the SLIDING kernels (moba_window.cu, docs/moba-cuda.md "Sliding window") at D = 64: the
// production entry points and the other tile shapes tried for them, each against a reference (the
// shapes SLIDING had before: 32 keys a forward step at 3 CTAs per SM, the 128-key backward tile at
// 1), at awkward varlen sizes and at the trainer's shape (8 x 8192 tokens, 12 heads, W 256), with
// each pass of the backward timed apart. MobaParity checks the production kernels against the
// float64 CPU backend; this lab shows that a candidate computes what the reference computes (O,
// LSE, dK, dV bitwise where the arithmetic order is the same, else to a bf16 ulp; dQ up to the order
// of its fp32 atomics) and how long each takes.
//
// Build (repository root): nvcc -O3 -std=c++17 -lineinfo -gencode=arch=compute_90a,code=sm_90a \
//   -Ikernels/src/main/cuda -o swa_lab kernels/src/lab/cuda/swa_lab.cu
// Run: swa_lab            checks, then the timing table
//      swa_lab --profile  one launch of each kernel at the trainer's shape (for ncu)
#include "moba_bwd.cu"
#include "moba_window.cu"
#include "lab_host.cuh"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <vector>

// The window forward with KEYS keys a step at CTAS CTAs per SM.
#define LAB_FWD(KEYS, CTAS)                                                                      \
  extern "C" __global__ void __launch_bounds__(kThreads, CTAS) lab_fwd_k##KEYS##_x##CTAS(        \
      const bf16* q, const bf16* k, const bf16* v, bf16* o, float* lse, const int* cu_seqlens,  \
      const int* cu_qtiles, int seqs, int tokens, int heads, int kv_heads, int window,          \
      float scale) {                                                                            \
    fwd_window<64, KEYS>(q, k, v, o, lse, cu_seqlens, cu_qtiles, seqs, tokens, heads, kv_heads, \
                         window, scale);                                                        \
  }
LAB_FWD(32, 3)  // the reference
LAB_FWD(32, 4)
LAB_FWD(64, 3)
LAB_FWD(128, 2)
LAB_FWD(128, 3)
// The window backward tile of KT keys at CTAS CTAs per SM.
#define LAB_BWD(KT, CTAS)                                                                        \
  extern "C" __global__ void __launch_bounds__(2 * KT, CTAS) lab_bwd_k##KT##_x##CTAS(            \
      const bf16* q, const bf16* k, const bf16* v, const bf16* dout, const float* lse,          \
      const float* delta, float* dq_acc, bf16* dk, bf16* dv, const int* cu_seqlens,             \
      const int* cu_blocks, int seqs, int tokens, int heads, int kv_heads, int total_blocks,    \
      int block_size, int window, float scale, int b0, int g0, int ta) {                        \
    bwd_main<64, KT, true>(q, k, v, dout, lse, delta, nullptr, nullptr, dq_acc, dk, dv,         \
                           cu_seqlens, cu_blocks, seqs, tokens, heads, kv_heads, total_blocks,  \
                           block_size, window, scale, b0, g0, ta);                              \
  }
LAB_BWD(128, 1)  // the reference
LAB_BWD(128, 2)
LAB_BWD(64, 4)

using FwdKernel = void (*)(const bf16*, const bf16*, const bf16*, bf16*, float*, const int*,
                           const int*, int, int, int, int, int, float);
using BwdKernel = void (*)(const bf16*, const bf16*, const bf16*, const bf16*, const float*,
                           const float*, float*, bf16*, bf16*, const int*, const int*, int, int,
                           int, int, int, int, int, float, int, int, int);

template <typename T>
struct Buf {
  T* p = nullptr;
  size_t n = 0;
  explicit Buf(size_t count) : n(std::max<size_t>(count, 1)) { CK(cudaMalloc(&p, n * sizeof(T))); }
  Buf(const Buf&) = delete;
  ~Buf() { cudaFree(p); }
  std::vector<T> get() const {
    std::vector<T> h(n);
    CK(cudaMemcpy(h.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost));
    return h;
  }
  void put(const std::vector<T>& h) { CK(cudaMemcpy(p, h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice)); }
};

struct FwdCandidate {
  const char* name;
  FwdKernel f;
  size_t smem;
};
static const FwdCandidate kFwdRef = {"32 keys a step, 3 CTAs per SM", lab_fwd_k32_x3, FwdSmem<64, 32>::bytes};
static const FwdCandidate kFwdCandidates[] = {
    {"64 keys, 4 CTAs (production)", moba_fwd_window_d64, FwdSmem<64, 64>::bytes},
    {"32 keys, 4 CTAs", lab_fwd_k32_x4, FwdSmem<64, 32>::bytes},
    {"64 keys, 3 CTAs", lab_fwd_k64_x3, FwdSmem<64, 64>::bytes},
    {"128 keys, 2 CTAs", lab_fwd_k128_x2, FwdSmem<64, 128>::bytes},
    {"128 keys, 3 CTAs", lab_fwd_k128_x3, FwdSmem<64, 128>::bytes},
};
struct BwdCandidate {
  const char* name;
  BwdKernel f;
  int kt;
};
static const BwdCandidate kBwdRef = {"128-key tile, 1 CTA per SM", lab_bwd_k128_x1, 128};
static const BwdCandidate kBwdCandidates[] = {
    {"64-key tile, 3 CTAs (production)", moba_bwd_window_d64_k64, 64},
    {"128-key tile, 2 CTAs", lab_bwd_k128_x2, 128},
    {"64-key tile, 4 CTAs", lab_bwd_k64_x4, 64},
};

// One SLIDING problem as MobaAttentionCuda lays it out: one block per sequence of the longest
// sequence rounded up to 128 keys, 64-row query tiles, one backward slice.
struct Problem {
  std::vector<int> seqlens;
  int heads, kv_heads, window;
  static constexpr int D = 64;
  int tokens = 0, qtiles = 0, block = 0;
  Buf<int> *cu_seqlens, *cu_qtiles, *cu_blocks;
  Buf<bf16> *q, *k, *v, *dout, *o, *dq, *dk, *dv;
  Buf<float> *lse, *delta, *dq_acc;

  Problem(std::vector<int> lens, int h, int hkv, int w) : seqlens(lens), heads(h), kv_heads(hkv), window(w) {
    std::vector<int> cs{0}, cq{0}, cb{0};
    int longest = 0;
    for (int n : seqlens) {
      tokens += n;
      qtiles += (n + kTile - 1) / kTile;
      longest = std::max(longest, n);
      cs.push_back(tokens);
      cq.push_back(qtiles);
      cb.push_back((int)cb.size());
    }
    block = (longest + 127) / 128 * 128;
    window = std::min(window, longest);  // MobaGeometry's clamp
    cu_seqlens = new Buf<int>(cs.size()); cu_seqlens->put(cs);
    cu_qtiles = new Buf<int>(cq.size()); cu_qtiles->put(cq);
    cu_blocks = new Buf<int>(cb.size()); cu_blocks->put(cb);
    const size_t nq = (size_t)tokens * heads * D, nk = (size_t)tokens * kv_heads * D;
    q = new Buf<bf16>(nq); k = new Buf<bf16>(nk); v = new Buf<bf16>(nk); dout = new Buf<bf16>(nq);
    o = new Buf<bf16>(nq); dq = new Buf<bf16>(nq); dk = new Buf<bf16>(nk); dv = new Buf<bf16>(nk);
    lse = new Buf<float>((size_t)heads * tokens); delta = new Buf<float>((size_t)heads * tokens);
    dq_acc = new Buf<float>(nq);
    Buf<bf16>* in[] = {q, k, v, dout};
    for (int i = 0; i < 4; i++) lab_fill_normal<<<1024, 256>>>(in[i]->p, in[i]->n, 7 + i);
    CK(cudaDeviceSynchronize());
  }
  int seqs() const { return (int)seqlens.size(); }
  float scale() const { return 1.f / sqrtf((float)D); }

  void forward(const FwdCandidate& c) {
    c.f<<<dim3(qtiles, heads), kThreads, c.smem>>>(q->p, k->p, v->p, o->p, lse->p,
        cu_seqlens->p, cu_qtiles->p, seqs(), tokens, heads, kv_heads, window, scale());
    CK(cudaGetLastError());
  }
  void delta_pass() {
    const size_t rows = (size_t)tokens * heads, per_cta = 128 * 8 / D;
    moba_bwd_delta<<<(rows + per_cta - 1) / per_cta, 128>>>(o->p, dout->p, delta->p, tokens, heads, D);
    CK(cudaGetLastError());
  }
  void zero_acc() { CK(cudaMemsetAsync(dq_acc->p, 0, dq_acc->n * sizeof(float))); }
  void main_pass(const BwdCandidate& c) {
    const int kt = c.kt;
    const size_t smem = kt == 128 ? BwdSmem<D, 128>::bytes : BwdSmem<D, 64>::bytes;
    c.f<<<dim3(seqs() * (block / kt), kv_heads), 2 * kt, smem>>>(q->p, k->p, v->p,
        dout->p, lse->p, delta->p, dq_acc->p, dk->p, dv->p, cu_seqlens->p, cu_blocks->p, seqs(),
        tokens, heads, kv_heads, seqs(), block, window, scale(), 0, 0, 0);
    CK(cudaGetLastError());
  }
  void convert() {
    const size_t quads = dq_acc->n / 4;
    moba_bwd_dq_convert<<<(quads + 255) / 256, 256>>>(dq_acc->p, dq->p, tokens, heads * D, heads, D,
                                                      0, 0, scale());
    CK(cudaGetLastError());
  }
  void backward(const BwdCandidate& c) { delta_pass(); zero_acc(); main_pass(c); convert(); }
};

static float f32(bf16 x) { return __bfloat162float(x); }

// Max |a - b| over the elements, and how many differ at all.
template <typename T>
static void diff(const char* what, const std::vector<T>& a, const std::vector<T>& b, bool& ok, bool exact) {
  double worst = 0, ref = 0;
  size_t differ = 0;
  for (size_t i = 0; i < a.size(); i++) {
    double x, y;
    if constexpr (std::is_same_v<T, bf16>) { x = f32(a[i]); y = f32(b[i]); } else { x = a[i]; y = b[i]; }
    if (memcmp(&a[i], &b[i], sizeof(T)) != 0) differ++;
    worst = std::max(worst, std::fabs(x - y));
    ref = std::max(ref, std::fabs(y));
  }
  // dQ's atomics add in any order: allow a few fp32 roundings of the largest value, seen as bf16.
  const bool pass = exact ? differ == 0 : worst <= 1e-2 * ref;
  ok = ok && pass;
  printf("  %-4s %s: %zu of %zu differ, max |new - ref| %.3g (max |ref| %.3g)\n", what,
         pass ? "ok  " : "FAIL", differ, a.size(), worst, ref);
}

// The candidates' outputs against the reference's, every output poisoned first.
static bool check(Problem& p, const char* name) {
  printf("%s\n", name);
  bool ok = true;
  p.forward(kFwdRef);
  const auto o_ref = p.o->get();
  const auto lse_ref = p.lse->get();
  p.backward(kBwdRef);
  const auto dq_ref = p.dq->get(), dk_ref = p.dk->get(), dv_ref = p.dv->get();
  for (const FwdCandidate& c : kFwdCandidates) {
    CK(cudaMemset(p.o->p, 0xff, p.o->n * sizeof(bf16)));
    CK(cudaMemset(p.lse->p, 0xff, p.lse->n * sizeof(float)));
    p.forward(c);
    printf(" forward, %s\n", c.name);
    // Another key step rounds P V and moves the running max in another order: a bf16 ulp.
    const bool same_order = c.smem == kFwdRef.smem;
    diff("O", p.o->get(), o_ref, ok, same_order);
    diff("LSE", p.lse->get(), lse_ref, ok, same_order);
  }
  p.forward(kFwdRef);  // the O and LSE that the backward reads
  for (const BwdCandidate& c : kBwdCandidates) {
    for (Buf<bf16>* g : {p.dq, p.dk, p.dv}) CK(cudaMemset(g->p, 0xff, g->n * sizeof(bf16)));
    p.backward(c);
    printf(" backward, %s\n", c.name);
    diff("dQ", p.dq->get(), dq_ref, ok, false);
    // Either tile adds a key's rows in the same 32-row chunks: dK, dV bitwise.
    diff("dK", p.dk->get(), dk_ref, ok, true);
    diff("dV", p.dv->get(), dv_ref, ok, true);
  }
  return ok;
}

// Median milliseconds of `run` over 20 launches after 3 warm-ups, by CUDA events.
static double median_ms(const std::function<void()>& run) {
  cudaEvent_t a, b;
  CK(cudaEventCreate(&a)); CK(cudaEventCreate(&b));
  std::vector<float> ms;
  for (int rep = -3; rep < 20; rep++) {
    CK(cudaEventRecord(a)); run(); CK(cudaEventRecord(b)); CK(cudaEventSynchronize(b));
    float t; CK(cudaEventElapsedTime(&t, a, b));
    if (rep >= 0) ms.push_back(t);
  }
  std::sort(ms.begin(), ms.end());
  cudaEventDestroy(a); cudaEventDestroy(b);
  return ms[ms.size() / 2];
}

int main(int argc, char** argv) {
  const bool profile = argc > 1 && !strcmp(argv[1], "--profile");
  for (const FwdCandidate* c : {&kFwdRef, &kFwdCandidates[0], &kFwdCandidates[1], &kFwdCandidates[2],
                                &kFwdCandidates[3], &kFwdCandidates[4]}) {
    CK(cudaFuncSetAttribute(c->f, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)c->smem));
  }
  for (const BwdCandidate* c : {&kBwdRef, &kBwdCandidates[0], &kBwdCandidates[1], &kBwdCandidates[2]}) {
    const size_t smem = c->kt == 128 ? BwdSmem<64, 128>::bytes : BwdSmem<64, 64>::bytes;
    CK(cudaFuncSetAttribute(c->f, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
  }
  Problem p({8192, 8192, 8192, 8192, 8192, 8192, 8192, 8192}, 12, 12, 256);
  if (profile) {
    p.forward(kFwdRef);
    p.forward(kFwdCandidates[0]);
    p.backward(kBwdRef);
    p.backward(kBwdCandidates[0]);
    CK(cudaDeviceSynchronize());
    return 0;
  }
  bool ok = true;
  {
    Problem small({300, 1, 517, 64, 129}, 4, 4, 33);
    ok = check(small, "varlen {300, 1, 517, 64, 129}, H 4, W 33") && ok;
  }
  {
    Problem gqa({1, 777, 199, 1000}, 4, 2, 256);
    ok = check(gqa, "varlen {1, 777, 199, 1000}, GQA 4 : 2, W 256") && ok;
  }
  ok = check(p, "trainer shape 8 x 8192, H 12, W 256") && ok;
  printf("checks: %s\n", ok ? "PASS" : "FAIL");
  if (!ok) return 1;

  // Pairs = per sequence the sum of min(pos + 1, W); FA2's count of 4 D (forward) and 10 D
  // (backward) flops a pair and head.
  const double w = p.window, n = 8192, flop = 8 * (w * n - w * (w - 1) / 2) * 12 * 64;
  printf("\ntrainer shape (one layer): 8 x 8192 tokens, H 12, D 64, W 256; median of 20 launches\n");
  printf("  forward                                   ms   TFLOP/s\n");
  for (const FwdCandidate* c : {&kFwdRef, &kFwdCandidates[0], &kFwdCandidates[1], &kFwdCandidates[2],
                                &kFwdCandidates[3], &kFwdCandidates[4]}) {
    const double ms = median_ms([&] { p.forward(*c); });
    printf("  %-36s %8.4f %7.0f\n", c->name, ms, 4 * flop / ms / 1e9);
  }
  printf("  backward main tile (+ delta, memset, convert = all)   ms   all ms   TFLOP/s (all)\n");
  const double delta = median_ms([&] { p.delta_pass(); });
  const double zero = median_ms([&] { p.zero_acc(); });
  const double conv = median_ms([&] { p.convert(); });
  for (const BwdCandidate* c : {&kBwdRef, &kBwdCandidates[0], &kBwdCandidates[1], &kBwdCandidates[2]}) {
    const double main_ms = median_ms([&] { p.main_pass(*c); });
    const double all_ms = median_ms([&] { p.backward(*c); });
    printf("  %-36s %8.4f %8.4f %7.0f\n", c->name, main_ms, all_ms, 10 * flop / all_ms / 1e9);
  }
  printf("  delta %.4f, dq_acc memset %.4f, dq convert %.4f ms\n", delta, zero, conv);
  return 0;
}
