// Standalone lab of gemm_tma3st_swiglu_nt (gemm_swiglu.cuh, docs/gemm-cuda.md "SwiGLU in the
// epilogue") against the unfused path (mobaspark.swiglu.fused=false): gemm_tma3st_nt for gate, again
// for up, then swiglu_forward_bf16. Encodes the tensor maps itself (cuTensorMapEncodeTiled, GemmTensorMap's boxes).
//   swiglu_gemm_harness --check [small] awkward shapes: gate, up, act against float64, the unfused
//                                       path bit for bit, act-only leaves gate and up untouched
//                                       (small: three small cases, for compute-sanitizer)
//   swiglu_gemm_harness --bench T...    F 2048, C 768 (paper-125m): fused vs unfused, CUDA events,
//                                       median of 20 samples after 3 warm-ups
//   nvcc -O3 -std=c++17 -gencode=arch=compute_90a,code=sm_90a -Ikernels/src/main/cuda \
//        -o swiglu_gemm_harness kernels/src/lab/cuda/swiglu_gemm_harness.cu
#include "gemm.cu"
#include "swiglu.cu"
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "lab_check.cuh"

static int g_sms = 132;
static int g_blocks = 132;  // persistent blocks at most: the SM count, fewer in some checks

// ---- inputs and the float64 definition ---------------------------------------------------------------

// Values of standard deviation `scale` from an integer hash of (seed, i): a sum of three uniforms in
// [-1, 1) (variance 1) times scale.
__global__ void random_bf16(bf16* x, long count, uint32_t seed, float scale) {
  GRID_STRIDE(i, count) {
    float s = 0.0f;
    for (uint32_t r = 0; r < 3; r++) {
      uint64_t h = ((uint64_t)i << 8 | (seed * 3 + r)) * 0xD6E8FEB86659FD93ull;
      h ^= h >> 32;
      h *= 0xD6E8FEB86659FD93ull;
      h ^= h >> 29;
      s += (float)(h >> 40) * (2.0f / 16777216.0f) - 1.0f;
    }
    x[i] = __float2bfloat16_rn(s * scale);
  }
}

// gate[t, f] = sum_c x[t, c] w_gate[f, c], up likewise, in float64: one thread per (t, f).
__global__ void gate_up_f64(double* gate, double* up, const bf16* x, const bf16* w_gate, const bf16* w_up, int t,
                            int f, int c) {
  GRID_STRIDE(at, (long)t * f) {
    const long row = at / f, unit = at % f;
    double g = 0, u = 0;
    for (long k = 0; k < c; k++) {
      const double xv = __bfloat162float(x[row * c + k]);
      g += xv * __bfloat162float(w_gate[unit * c + k]);
      u += xv * __bfloat162float(w_up[unit * c + k]);
    }
    gate[at] = g;
    up[at] = u;
  }
}

// ---- launches ------------------------------------------------------------------------------------------

// A bf16 row-major [rows, cols] map with boxes of 64 columns x box_rows rows, 128B swizzle. The
// driver's encoder is looked up through the runtime, so the binary needs no -lcuda.
static CUtensorMap bf16_map(const void* base, long rows, long cols, int box_rows) {
  static decltype(&cuTensorMapEncodeTiled) encode = [] {
    void* fn = nullptr;
    cudaDriverEntryPointQueryResult found;
    CHECK(cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &fn, 12000, cudaEnableDefault, &found));
    if (found != cudaDriverEntryPointSuccess) {
      std::printf("cuTensorMapEncodeTiled not found in the driver\n");
      std::exit(1);
    }
    return reinterpret_cast<decltype(&cuTensorMapEncodeTiled)>(fn);
  }();
  CUtensorMap map;
  cuuint64_t dims[2] = {(cuuint64_t)cols, (cuuint64_t)rows}, strides[1] = {(cuuint64_t)cols * 2};
  cuuint32_t box[2] = {64, (cuuint32_t)box_rows}, unit[2] = {1, 1};
  CUresult r = encode(&map, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, 2, const_cast<void*>(base), dims,
                                      strides, box, unit, CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
                                      CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  if (r != CUDA_SUCCESS) {
    std::printf("cuTensorMapEncodeTiled failed (%d) for [%ld, %ld] box 64x%d\n", (int)r, rows, cols, box_rows);
    std::exit(1);
  }
  return map;
}

static int persistent_blocks(long tiles) { return (int)std::min<long>(tiles, g_blocks); }

// The MLP's tensors, x [T, C], w_gate and w_up [F, C], gate, up and act [T, F], and their maps
// (encoded once, as GemmCuda caches them): x's and the weights' with 128-row boxes (the candidate's
// operands, x also gemm_tma3st_nt's A), the weights' with 256-row boxes (gemm_tma3st_nt's B), the
// outputs' with 64-row boxes.
struct Mlp {
  int t, f, c;
  bf16 *x, *w_gate, *w_up, *gate, *up, *act;
  CUtensorMap x_map, w_gate_half, w_up_half, w_gate_whole, w_up_whole, gate_map, up_map, act_map;
};

// w_scale: the weights' standard deviation (x's is 1), so gate and up have w_scale sqrt(C).
static Mlp mlp_alloc(int t, int f, int c, uint32_t seed, float w_scale) {
  Mlp m{t, f, c};
  CHECK(cudaMalloc(&m.x, (size_t)t * c * 2));
  CHECK(cudaMalloc(&m.w_gate, (size_t)f * c * 2));
  CHECK(cudaMalloc(&m.w_up, (size_t)f * c * 2));
  for (bf16** out : {&m.gate, &m.up, &m.act}) CHECK(cudaMalloc(out, (size_t)t * f * 2));
  random_bf16<<<4 * g_sms, 256>>>(m.x, (long)t * c, seed, 1.0f);
  random_bf16<<<4 * g_sms, 256>>>(m.w_gate, (long)f * c, seed + 1, w_scale);
  random_bf16<<<4 * g_sms, 256>>>(m.w_up, (long)f * c, seed + 2, w_scale);
  CHECK(cudaGetLastError());
  m.x_map = bf16_map(m.x, t, c, WG_BM);
  m.w_gate_half = bf16_map(m.w_gate, f, c, WG_BN / 2);
  m.w_up_half = bf16_map(m.w_up, f, c, WG_BN / 2);
  m.w_gate_whole = bf16_map(m.w_gate, f, c, WG_BN);
  m.w_up_whole = bf16_map(m.w_up, f, c, WG_BN);
  m.gate_map = bf16_map(m.gate, t, f, 64);
  m.up_map = bf16_map(m.up, t, f, 64);
  m.act_map = bf16_map(m.act, t, f, 64);
  return m;
}

static void mlp_free(Mlp& m) {
  for (bf16* p : {m.x, m.w_gate, m.w_up, m.gate, m.up, m.act}) CHECK(cudaFree(p));
}

// Shared-memory opt-in, once per kernel.
static void allow_smem(const void* kernel) {
  CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, ws_smem_bytes(3)));
}

// The candidate: act (and gate, up when save_gate_up) in one launch.
static void fused(const Mlp& m, bool save_gate_up) {
  const long tiles = (long)((m.t + WG_BM - 1) / WG_BM) * ((2 * m.f + WG_BN - 1) / WG_BN);
  gemm_tma3st_swiglu_nt<<<persistent_blocks(tiles), WS_THREADS, ws_smem_bytes(3)>>>(
      m.x_map, m.w_gate_half, m.w_up_half, m.gate_map, m.up_map, m.act_map, m.t, m.f, m.c, save_gate_up ? 1 : 0);
  CHECK(cudaGetLastError());
}

// gate or up [T, F] = x w^T by gemm_tma3st_nt, as GemmCuda launches it for one projection.
static void projection(const Mlp& m, bool gate) {
  const long tiles = (long)((m.t + WG_BM - 1) / WG_BM) * ((m.f + WG_BN - 1) / WG_BN);
  gemm_tma3st_nt<<<persistent_blocks(tiles), WS_THREADS, ws_smem_bytes(3)>>>(
      m.x_map, gate ? m.w_gate_whole : m.w_up_whole, gate ? m.gate_map : m.up_map, gate ? m.gate_map : m.up_map,
      gate ? m.gate : m.up, nullptr, m.t, m.f, m.c, m.c, 0, 0);
  CHECK(cudaGetLastError());
}

// act from gate and up by swiglu_forward_bf16, as SwigluCuda launches it.
static void swiglu_kernel(const Mlp& m) {
  const long n = (long)m.t * m.f;
  const long blocks = std::max(1L, std::min(1L << 16, ((n + 7) / 8 + 255) / 256));
  swiglu_forward_bf16<<<(int)blocks, 256>>>(m.act, m.gate, m.up, n);
  CHECK(cudaGetLastError());
}

// The trainer's path today: two projections, then SwiGLU.
static void unfused(const Mlp& m) {
  projection(m, true);
  projection(m, false);
  swiglu_kernel(m);
}

// ---- checks ----------------------------------------------------------------------------------------------

static std::vector<uint16_t> bits(const bf16* d, size_t count) {
  std::vector<uint16_t> h(count);
  CHECK(cudaMemcpy(h.data(), d, count * 2, cudaMemcpyDeviceToHost));
  return h;
}

static double value(uint16_t b) {
  uint32_t w = (uint32_t)b << 16;
  float f;
  std::memcpy(&f, &w, 4);
  return f;
}

static long differing(const std::vector<uint16_t>& a, const std::vector<uint16_t>& b) {
  long n = 0;
  for (size_t i = 0; i < a.size(); i++) n += a[i] != b[i];
  return n;
}

// One shape: returns whether every comparison held.
static bool check(int t, int f, int c, int blocks, uint32_t seed) {
  g_blocks = blocks;
  const size_t count = (size_t)t * f;
  // Unit weights: gate and up of some sqrt(C), so that a good share of silu's arguments lies below
  // -44 where the epilogue takes its exact fallback (swiglu_chunk).
  Mlp m = mlp_alloc(t, f, c, seed, 1.0f);
  double *dg, *du;
  CHECK(cudaMalloc(&dg, count * 8));
  CHECK(cudaMalloc(&du, count * 8));
  gate_up_f64<<<4 * g_sms, 256>>>(dg, du, m.x, m.w_gate, m.w_up, t, f, c);
  std::vector<double> rg(count), ru(count);

  // The unfused path's bits first, then the candidate's over NaN-poisoned outputs (0xFFFF).
  unfused(m);
  const std::vector<uint16_t> ug = bits(m.gate, count), uu = bits(m.up, count), ua = bits(m.act, count);
  for (bf16* p : {m.gate, m.up, m.act}) CHECK(cudaMemset(p, 0xFF, count * 2));
  fused(m, true);
  const std::vector<uint16_t> fg = bits(m.gate, count), fu = bits(m.up, count), fa = bits(m.act, count);
  for (bf16* p : {m.gate, m.up, m.act}) CHECK(cudaMemset(p, 0xFF, count * 2));
  fused(m, false);
  const std::vector<uint16_t> og = bits(m.gate, count), ou = bits(m.up, count), oa = bits(m.act, count);
  CHECK(cudaMemcpy(rg.data(), dg, count * 8, cudaMemcpyDeviceToHost));
  CHECK(cudaMemcpy(ru.data(), du, count * 8, cudaMemcpyDeviceToHost));

  // gate and up: bf16 rounding (2^-8 relative) and fp32 accumulation, as gemm_harness's bf16 bound.
  // act: against silu(g') * u' in float64 of the kernel's own bf16 gate g' and up u' (checked above),
  // relative to that value. Not against the float64 g and u: a GEMM output carries an absolute error
  // from the fp32 sum (about 2^-24 sqrt(C) sum |x w|, not proportional to |g|), which silu(g) * u
  // turns into a large relative error wherever g or u is near 0 (the 2.3e-2 .. 1.2e-1 of the first
  // device run, with act equal to the unfused path's bit for bit). What the epilogue adds is the fp32
  // evaluation (a few 2^-24) and act's rounding to bf16 (2^-8): bound 2^-8 (1 + 2^-10); the floor
  // 1e-30 covers fp32 subnormals of silu(g') for g' far below 0.
  double worst_gu = 0, ref_max = 0, worst_act = 0;
  for (size_t i = 0; i < count; i++) {
    const double g = rg[i], u = ru[i];
    for (double d : {std::fabs(value(fg[i]) - g), std::fabs(value(fu[i]) - u)})
      if (!(d <= worst_gu)) worst_gu = std::isnan(d) ? INFINITY : d;
    ref_max = std::max({ref_max, std::fabs(g), std::fabs(u)});
    const double g16 = value(fg[i]), act = g16 / (1.0 + std::exp(-g16)) * value(fu[i]);
    const double r = std::fabs(value(fa[i]) - act) / (std::fabs(act) + 1e-30);
    if (!(r <= worst_act)) worst_act = std::isnan(r) ? INFINITY : r;
  }
  const double bound_gu = std::max(1.0, ref_max) / 128, bound_act = (1.0 + 1.0 / 1024) / 256;
  const long bit_g = differing(fg, ug), bit_u = differing(fu, uu), bit_a = differing(fa, ua);
  const long only_act = differing(oa, fa);
  const std::vector<uint16_t> poison(count, 0xFFFF);
  const bool untouched = og == poison && ou == poison;
  const bool ok = worst_gu <= bound_gu && worst_act <= bound_act && bit_g == 0 && bit_u == 0 && bit_a == 0 &&
                  only_act == 0 && untouched;
  std::printf("T %5d F %4d C %4d blocks %3d  gate/up err %.3e (bound %.3e)  act rel err %.3e (bound %.3e)  "
              "bits != unfused: gate %ld up %ld act %ld  act-only: act %ld, gate/up %s  %s\n",
              t, f, c, blocks, worst_gu, bound_gu, worst_act, bound_act, bit_g, bit_u, bit_a, only_act,
              untouched ? "untouched" : "WRITTEN", ok ? "ok" : "FAIL");
  CHECK(cudaFree(dg));
  CHECK(cudaFree(du));
  mlp_free(m);
  return ok;
}

// small: the first three cases only (for compute-sanitizer).
static int run_checks(bool small) {
  // Partial tiles in T, in F (2F not a multiple of 256, F past a box), K not a multiple of 64, a few
  // blocks walking many items, and a paper-125m width.
  const int cases[][4] = {{113, 200, 136, 132}, {1000, 520, 768, 7}, {129, 8, 64, 3},
                          {300, 2056, 200, 5},  {4113, 2048, 768, 132}, {777, 136, 1000, 2}};
  const int count = small ? 3 : (int)(sizeof(cases) / sizeof(cases[0]));
  int failed = 0, n = 0;
  for (; n < count; n++) failed += !check(cases[n][0], cases[n][1], cases[n][2], cases[n][3], 11 + 7 * n);
  g_blocks = g_sms;
  std::printf("CHECKS: %d cases, %d failed\n", n, failed);
  return failed == 0 ? 0 : 1;
}

// ---- timings ---------------------------------------------------------------------------------------------

// A sample is `launches` runs of op back to back between two events, launches = 1 ms / the last
// warm-up's time (at most 20), so that host launch time stops counting (gemm_harness: same).
template <typename Op>
static double median_ms(Op op) {
  cudaEvent_t e0, e1;
  CHECK(cudaEventCreate(&e0));
  CHECK(cudaEventCreate(&e1));
  std::vector<float> ms;
  int launches = 1;
  for (int rep = -3; rep < 20; rep++) {
    CHECK(cudaEventRecord(e0));
    for (int l = 0; l < launches; l++) op();
    CHECK(cudaEventRecord(e1));
    CHECK(cudaEventSynchronize(e1));
    float v;
    CHECK(cudaEventElapsedTime(&v, e0, e1));
    if (rep == -1) launches = std::min(20, std::max(1, (int)std::ceil(1.0 / v)));
    if (rep >= 0) ms.push_back(v / launches);
  }
  CHECK(cudaEventDestroy(e0));
  CHECK(cudaEventDestroy(e1));
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

// Per T: each variant's median, the bytes of [T, F] activations it moves, and the saving at the
// model's 12 layers. Launch gaps of the unfused path's three kernels count, as in the trainer.
static void bench(int t) {
  const int f = 2048, c = 768;
  // Weights of 1 / sqrt(C), gate and up of about 1 as the model's (mlp_norm_out of unit scale, weights
  // initialized at 0.02 ~ 1 / sqrt(768)): the unit weights of the checks put some 36% of the 8-value
  // chunks on the epilogue's exact fallback, a path the trainer's values do not take.
  Mlp m = mlp_alloc(t, f, c, 5, 1.0f / std::sqrt((float)c));
  const double tf_bytes = 2.0 * t * f, flops = 2.0 * 2 * t * f * c;
  const double proj = median_ms([&] { projection(m, true); });
  const double act_kernel = median_ms([&] { swiglu_kernel(m); });
  const double old = median_ms([&] { unfused(m); });
  const double save = median_ms([&] { fused(m, true); });
  const double only = median_ms([&] { fused(m, false); });
  std::printf("T %6d  one projection %.3f ms (%.0f TFLOP/s)  swiglu kernel %.3f ms (%.0f GB/s)\n", t, proj,
              flops / 2 / (proj * 1e9), act_kernel, 3 * tf_bytes / (act_kernel * 1e6));
  std::printf("T %6d  unfused %.3f ms  fused+gate/up %.3f ms (%.2fx, %.0f TFLOP/s)  fused act-only %.3f ms "
              "(%.2fx)  saved x12 layers: %.2f ms (save) %.2f ms (act-only)\n",
              t, old, save, old / save, flops / (save * 1e9), only, old / only, 12 * (old - save),
              12 * (old - only));
  mlp_free(m);
}

int main(int argc, char** argv) {
  cudaDeviceProp prop;
  CHECK(cudaGetDeviceProperties(&prop, 0));
  g_sms = g_blocks = prop.multiProcessorCount;
  if (prop.major != 9) {
    std::printf("needs sm_90a (found sm_%d%d)\n", prop.major, prop.minor);
    return 2;
  }
  for (const void* k : {(const void*)gemm_tma3st_swiglu_nt, (const void*)gemm_tma3st_nt}) allow_smem(k);
  if (argc >= 2 && std::strcmp(argv[1], "--check") == 0) return run_checks(argc >= 3 && !std::strcmp(argv[2], "small"));
  if (argc >= 3 && std::strcmp(argv[1], "--bench") == 0) {
    std::printf("%s, %d SMs\n", prop.name, g_sms);
    for (int i = 2; i < argc; i++) bench(std::atoi(argv[i]));
    return 0;
  }
  std::printf("usage: swiglu_gemm_harness --check [small] | --bench T...\n");
  return 2;
}
