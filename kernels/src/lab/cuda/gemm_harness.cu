// Standalone lab of gemm.cu (docs/gemm-cuda.md): checks every kernel family against a float64
// reference (a naive kernel) at awkward shapes and all four transpose combinations, then times the
// training shapes with CUDA events (median of 20 samples after 3 warm-ups, a sample being as many
// back-to-back products as fill about 1 ms, inputs rotated over > L2). The Java
// path (GemmLab) is the one that counts; this exists to iterate on the kernel without Java.
// Operands are generated on the GPU. `gemm_harness --no-check` times only; `--shape "fwd up T64K"` times
// that training shape alone (for ncu: --launch-skip 2 --launch-count 1 profiles a warm launch).
//   nvcc -O3 -std=c++17 -gencode=arch=compute_90a,code=sm_90a -Ikernels/src/main/cuda \
//        -o kernels/target-gemm/gemm_harness kernels/src/lab/cuda/gemm_harness.cu
#include "gemm.cu"
#ifdef GEMM_WS
#include "gemm_ws_pair.cu"  // the cluster pair of the warp-specialized kernel, family wspair
#endif
#include <algorithm>
#include <map>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "lab_check.cuh"

static int g_sms = 132;
// Persistent wgmma blocks launched: min(work items, g_blocks). The SM count, except in the checks
// that shrink it so that each block walks many items across tiles and splits.
static int g_blocks = 132;

static double fill(long blocks) {
  long waves = (blocks + g_sms - 1) / g_sms;
  return (double)blocks / (waves * g_sms);
}

// The launcher's split rule (GemmCuda.splits): only under 2 waves of tiles, at most 8 splits of at
// least 512 deep, more splits only while they fill the last wave better.
static int choose_splits(long tiles, int k) {
  if (tiles >= 2L * g_sms) return 1;
  int best = 1;
  double best_fill = fill(tiles);
  for (int s = 2; s <= 8 && k / s >= 512; s++) {
    if (fill(tiles * s) > best_fill + 0.02) {
      best = s;
      best_fill = fill(tiles * s);
    }
  }
  return best;
}

enum Family { MMA = 0, WGMMA = 1, WS = 2, WS_PAIR = 3 };
static const char* kFamilyNames[] = {"mma", "wgmma", "ws", "wspair"};
// The persistent 128 x 256 families this binary has: both launched kernels, and the pair if built in.
#ifdef GEMM_WS
static std::vector<int> g_persistent{WGMMA, WS, WS_PAIR};
#else
static std::vector<int> g_persistent{WGMMA, WS};
#endif
// Whether the mma.sync family is checked and timed too (not with --only).
static bool g_mma = true;

struct Run {
  Family family;
  int splits;
};

#ifdef GEMM_WS
// Clusters of two blocks of a pair kernel that fit on the GPU at once (a GPC with an odd number of
// free SMs leaves one out), so that the persistent grid never waits for a second wave of clusters.
static int max_pair_clusters(const void* kernel) {
  static std::map<const void*, int> known;
  if (known.count(kernel)) return known[kernel];
  cudaLaunchConfig_t config = {};
  config.gridDim = dim3(2 * g_sms, 1, 1);
  config.blockDim = dim3(WS_THREADS, 1, 1);
  config.dynamicSmemBytes = WS_SMEM_BYTES;
  int clusters = 0;
  CHECK(cudaOccupancyMaxActiveClusters(&clusters, kernel, &config));
  std::printf("pair kernel: %d clusters of 2 blocks fit at once\n", clusters);
  return known[kernel] = clusters;
}
#endif

static float* g_partials = nullptr;
static size_t g_partials_bytes = 0;

static Run gemm(void* out, const __nv_bfloat16* a, const __nv_bfloat16* b, int m, int n, int k, bool ta, bool tb,
                bool out_f32, bool acc, int force_family /* -1 auto, else a Family */, int force_splits) {
  bool aligned = (ta ? m % 8 == 0 : k % 8 == 0) && (tb ? k % 8 == 0 : n % 8 == 0);
  Family family = force_family >= 0 ? (Family)force_family : aligned ? WGMMA : MMA;
  bool wg = family != MMA;
  int bm = wg ? WG_BM : MMA_BM, bn = wg ? WG_BN : MMA_BN;
  long tiles = (long)((m + bm - 1) / bm) * ((n + bn - 1) / bn);
  int splits = force_splits > 0 ? force_splits : choose_splits(tiles, k);
  int k_split = ((k + splits - 1) / splits + 63) / 64 * 64;
  splits = (k + k_split - 1) / k_split;
  size_t need = (size_t)splits * m * n * 4;
  if (splits > 1 && need > g_partials_bytes) {
    if (g_partials) CHECK(cudaFree(g_partials));
    CHECK(cudaMalloc(&g_partials, need));
    g_partials_bytes = need;
  }
  dim3 grid((n + bn - 1) / bn, (m + bm - 1) / bm, splits);
  int of = out_f32, ac = acc;
  if (family == WGMMA) {
    auto kern = ta ? (tb ? gemm_wgmma_tt : gemm_wgmma_tn) : (tb ? gemm_wgmma_nt : gemm_wgmma_nn);
    CHECK(cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, WG_SMEM_BYTES));
    int blocks = (int)std::min<long>(tiles * splits, g_blocks);
    kern<<<blocks, WG_THREADS, WG_SMEM_BYTES>>>(out, g_partials, a, b, m, n, k, k_split, of, ac);
  } else if (family == WS) {
    auto kern = ta ? (tb ? gemm_ws_tt : gemm_ws_tn) : (tb ? gemm_ws_nt : gemm_ws_nn);
    CHECK(cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, WS_SMEM_BYTES));
    int blocks = (int)std::min<long>(tiles * splits, g_blocks);
    kern<<<blocks, WS_THREADS, WS_SMEM_BYTES>>>(out, g_partials, a, b, m, n, k, k_split, of, ac);
#ifdef GEMM_WS
  } else if (family == WS_PAIR) {
    auto kern = ta ? (tb ? gemm_ws_pair_tt : gemm_ws_pair_tn) : (tb ? gemm_ws_pair_nt : gemm_ws_pair_nn);
    CHECK(cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, WS_SMEM_BYTES));
    long pairs = (long)((m + 2 * WG_BM - 1) / (2 * WG_BM)) * ((n + WG_BN - 1) / WG_BN) * splits;
    const int fit = std::max(1, max_pair_clusters((const void*)kern));  // 0 would launch nothing
    int clusters = (int)std::min<long>(pairs, std::min(fit, std::max(1, g_blocks / 2)));
    kern<<<2 * clusters, WS_THREADS, WS_SMEM_BYTES>>>(out, g_partials, a, b, m, n, k, k_split, of, ac);
#endif
  } else {
    auto kern = ta ? (tb ? gemm_mma_tt : gemm_mma_tn) : (tb ? gemm_mma_nt : gemm_mma_nn);
    kern<<<grid, MMA_THREADS>>>(out, g_partials, a, b, m, n, k, k_split, of, ac);
  }
  CHECK(cudaGetLastError());
  if (splits > 1) {
    long total = (long)m * n;
    gemm_reduce_splits<<<(int)std::min<long>((total + 255) / 256, 4L * g_sms * 8), 256>>>(out, g_partials, splits,
                                                                                          total, of, ac);
    CHECK(cudaGetLastError());
  }
  return {family, splits};
}

// Normal-ish values (sum of 4 uniforms, centred, scaled to unit variance) from a hash of (seed, index):
// generated on the GPU, since 2e9 values from a host generator took minutes of device time.
__device__ float hashed_normal(uint32_t seed, size_t i) {
  float sum = 0.0f;
  for (uint32_t j = 0; j < 4; j++) {
    uint32_t h = (uint32_t)i * 0x9E3779B1u ^ (uint32_t)(i >> 32) * 0x85EBCA77u ^ (seed * 4 + j) * 0xC2B2AE3Du;
    h ^= h >> 15;
    h *= 0x2C1B3C6Du;
    h ^= h >> 12;
    h *= 0x297A2D39u;
    h ^= h >> 15;
    sum += (h >> 8) * (1.0f / 16777216.0f);
  }
  return (sum - 2.0f) * 1.7320508f;  // 4 uniforms: mean 2, variance 1/3
}

__global__ void fill_bf16(__nv_bfloat16* x, size_t count, uint32_t seed) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < count; i += (size_t)gridDim.x * blockDim.x)
    x[i] = __float2bfloat16_rn(hashed_normal(seed, i));
}

__global__ void fill_f32(float* x, size_t count, uint32_t seed) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < count; i += (size_t)gridDim.x * blockDim.x)
    x[i] = hashed_normal(seed, i);
}

// The definition in float64, one thread per output: ref[i, j] = init[i, j] + sum_p op(a)[i, p] op(b)[p, j].
__global__ void reference_f64(double* ref, const __nv_bfloat16* a, const __nv_bfloat16* b, int m, int n, int k,
                              bool ta, bool tb) {
  const long at = blockIdx.x * (long)blockDim.x + threadIdx.x;
  if (at >= (long)m * n) return;
  const long i = at / n, j = at % n;
  double s = ref[at];
  for (long p = 0; p < k; p++)
    s += (double)__bfloat162float(a[ta ? p * m + i : i * k + p]) * (double)__bfloat162float(b[tb ? j * k + p : p * n + j]);
  ref[at] = s;
}

// Output [m, n] (bf16 or fp32) as float64 on the host.
static std::vector<double> download(const void* out, size_t count, bool out_f32) {
  std::vector<double> got(count);
  if (out_f32) {
    std::vector<float> f(count);
    CHECK(cudaMemcpy(f.data(), out, count * 4, cudaMemcpyDeviceToHost));
    std::copy(f.begin(), f.end(), got.begin());
  } else {
    std::vector<__nv_bfloat16> f(count);
    CHECK(cudaMemcpy(f.data(), out, count * 2, cudaMemcpyDeviceToHost));
    for (size_t i = 0; i < count; i++) got[i] = __bfloat162float(f[i]);
  }
  return got;
}

static uint32_t g_seed = 1;

// One correctness case: fresh normal inputs, out poisoned (NaN) unless accumulating, float64 reference.
static bool check(int m, int n, int k, bool ta, bool tb, bool out_f32, bool acc, int family, int splits) {
  const size_t count = (size_t)m * n;
  __nv_bfloat16 *da, *db;
  void* dout;
  double* dref;
  CHECK(cudaMalloc(&da, (size_t)m * k * 2));
  CHECK(cudaMalloc(&db, (size_t)k * n * 2));
  CHECK(cudaMalloc(&dout, count * (out_f32 ? 4 : 2)));
  CHECK(cudaMalloc(&dref, count * 8));
  fill_bf16<<<264, 256>>>(da, (size_t)m * k, g_seed++);
  fill_bf16<<<264, 256>>>(db, (size_t)k * n, g_seed++);
  if (!acc) {
    CHECK(cudaMemset(dout, 0xFF, count * (out_f32 ? 4 : 2)));  // all-ones bits: NaN in bf16 and fp32
  } else if (out_f32) {
    fill_f32<<<264, 256>>>(static_cast<float*>(dout), count, g_seed++);
  } else {
    fill_bf16<<<264, 256>>>(static_cast<__nv_bfloat16*>(dout), count, g_seed++);
  }
  CHECK(cudaGetLastError());
  std::vector<double> ref = acc ? download(dout, count, out_f32) : std::vector<double>(count, 0.0);
  CHECK(cudaMemcpy(dref, ref.data(), count * 8, cudaMemcpyHostToDevice));
  reference_f64<<<(int)((count + 255) / 256), 256>>>(dref, da, db, m, n, k, ta, tb);
  CHECK(cudaGetLastError());
  Run run = gemm(dout, da, db, m, n, k, ta, tb, out_f32, acc, family, splits);
  CHECK(cudaDeviceSynchronize());
  std::vector<double> got = download(dout, count, out_f32);
  CHECK(cudaMemcpy(ref.data(), dref, count * 8, cudaMemcpyDeviceToHost));
  double worst = 0, ref_max = 0;
  for (size_t i = 0; i < count; i++) {
    double d = std::fabs(got[i] - ref[i]);
    if (!(d <= worst)) worst = std::isnan(d) ? INFINITY : d;
    ref_max = std::max(ref_max, std::fabs(ref[i]));
  }
  // bf16 output rounding is 2^-8 relative; fp32 accumulation error of K products ~ 1e-6 * sqrt(K) * |x|.
  double bound = (out_f32 ? 1e-5 * std::sqrt((double)k) * 4 : 1.0 / 128) * std::max(1.0, ref_max);
  bool ok = worst <= bound;
  std::printf("%-5s %s%s %5d x %5d x %5d out %s acc %d splits %d blocks %3d  max err %.3e  bound %.3e  %s\n",
              kFamilyNames[run.family], ta ? "t" : "n", tb ? "t" : "n", m, n, k, out_f32 ? "f32 " : "bf16", acc,
              run.splits, g_blocks, worst, bound, ok ? "ok" : "FAIL");
  CHECK(cudaFree(da));
  CHECK(cudaFree(db));
  CHECK(cudaFree(dout));
  CHECK(cudaFree(dref));
  return ok;
}

struct Shape {
  const char* name;
  int m, n, k;
  bool ta, tb;
  bool out_f32, acc;
};

static double median(std::vector<float> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

static const int kMaxLaunches = 20;

static void time_shape(const Shape& s, int family) {
  size_t a_elems = (size_t)s.m * s.k, b_elems = (size_t)s.k * s.n;
  size_t set_bytes = (a_elems + b_elems) * 2;
  int sets = (int)std::max<size_t>(1, std::min<size_t>(8, (size_t)200e6 / set_bytes + 1));
  std::vector<__nv_bfloat16*> as(sets), bs(sets);
  for (int i = 0; i < sets; i++) {
    CHECK(cudaMalloc(&as[i], a_elems * 2));
    CHECK(cudaMalloc(&bs[i], b_elems * 2));
    fill_bf16<<<4 * g_sms, 256>>>(as[i], a_elems, g_seed++);
    fill_bf16<<<4 * g_sms, 256>>>(bs[i], b_elems, g_seed++);
  }
  CHECK(cudaGetLastError());
  void* out;
  CHECK(cudaMalloc(&out, (size_t)s.m * s.n * (s.out_f32 ? 4 : 2)));
  CHECK(cudaMemset(out, 0, (size_t)s.m * s.n * (s.out_f32 ? 4 : 2)));
  cudaEvent_t e0, e1;
  CHECK(cudaEventCreate(&e0));
  CHECK(cudaEventCreate(&e1));
  // A sample is `launches` products back to back between two events (operand sets rotating), so that
  // host launch time between the events stops counting once a product is shorter than a millisecond:
  // launches = 1 ms / the last warm-up's time, at most kMaxLaunches (tools/gemm_peer.py, GemmLab: same).
  std::vector<float> ms;
  Run run{};
  int launches = 1, next_set = 0;
  for (int rep = -3; rep < 20; rep++) {
    CHECK(cudaEventRecord(e0));
    for (int l = 0; l < launches; l++, next_set = (next_set + 1) % sets)
      run = gemm(out, as[next_set], bs[next_set], s.m, s.n, s.k, s.ta, s.tb, s.out_f32, s.acc, family, 0);
    CHECK(cudaEventRecord(e1));
    CHECK(cudaEventSynchronize(e1));
    float t;
    CHECK(cudaEventElapsedTime(&t, e0, e1));
    if (rep == -1) launches = std::min(kMaxLaunches, std::max(1, (int)std::ceil(1.0 / t)));
    if (rep >= 0) ms.push_back(t / launches);
  }
  double med = median(ms);
  double tflops = 2.0 * s.m * s.n * s.k / (med * 1e-3) / 1e12;
  std::printf("%-22s %s%s %6d x %6d x %6d %-5s splits %d  %8.3f ms  %7.1f TFLOP/s\n", s.name, s.ta ? "t" : "n",
              s.tb ? "t" : "n", s.m, s.n, s.k, kFamilyNames[run.family], run.splits, med, tflops);
  for (int i = 0; i < sets; i++) {
    CHECK(cudaFree(as[i]));
    CHECK(cudaFree(bs[i]));
  }
  CHECK(cudaFree(out));
}

// Every kernel family at awkward shapes against float64; returns the number of failed cases.
static int correctness_failures() {
  int failures = 0;
  struct C { int m, n, k; };
  const C awkward[] = {{1, 1, 1}, {113, 203, 77}, {1023, 1, 65}, {64, 72, 136}, {200, 264, 1032}, {256, 512, 2048}};
  std::vector<int> families = g_persistent;
  if (g_mma) families.insert(families.begin(), MMA);
  for (int family : families)
    for (const C& c : awkward)
      for (int t = 0; t < 4; t++) {
        bool ta = t & 2, tb = t & 1;
        bool aligned = (ta ? c.m % 8 == 0 : c.k % 8 == 0) && (tb ? c.k % 8 == 0 : c.n % 8 == 0);
        if (family != MMA && !aligned) continue;
        failures += !check(c.m, c.n, c.k, ta, tb, t % 2 == 0, t == 3, family, 1);
      }
  for (const int family : g_persistent) {
    // Split-K, both out dtypes, accumulate.
    failures += !check(136, 264, 3000, true, false, true, true, family, 3);
    failures += !check(136, 264, 3000, true, false, false, false, family, 5);
    // More tiles than SMs (a second wave of blocks).
    failures += !check(1024, 8192, 200, false, false, false, false, family, 1);
    // Few persistent blocks, each walking many items: the copies run from one tile (and split) into the
    // next; edge tiles in M and N, N % 8 != 0 (no staged epilogue), a short last split.
    g_blocks = 3;
    for (int t = 0; t < 4; t++) {
      bool ta = t & 2, tb = t & 1;
      failures += !check(392, 776, 200, ta, tb, false, false, family, 1);
      failures += !check(392, 776, 200, ta, tb, true, true, family, 1);
      failures += !check(264, 520, 3000, ta, tb, t % 2 == 0, t == 3, family, 5);
    }
    failures += !check(264, 521, 136, false, true, false, false, family, 1);
    failures += !check(264, 521, 136, false, true, false, true, family, 1);
    failures += !check(130, 1000, 64, false, true, false, false, family, 1);
    g_blocks = g_sms;
  }
  if (g_mma) failures += !check(136, 264, 3000, true, false, true, true, MMA, 3);
  return failures;
}

// --no-check skips the correctness cases (timing builds of experimental variants that compute wrong
// results on purpose, e.g. without some of their copies). --only FAMILY checks and times that one
// persistent family alone (wgmma, ws, wspair), so that a hang in one leaves the others' results.
// --checks-only skips the timings (runs under compute-sanitizer).
int main(int argc, char** argv) {
  bool checks = true, timings = true;
  std::string only_shape;  // --shape NAME: time that training shape alone (e.g. under ncu)
  for (int i = 1; i < argc; i++) {
    const std::string arg = argv[i];
    if (arg == "--no-check") {
      checks = false;
    } else if (arg == "--checks-only") {
      timings = false;
    } else if (arg == "--shape" && i + 1 < argc) {
      only_shape = argv[++i];
    } else if (arg == "--only" && i + 1 < argc) {
      const std::string name = argv[++i];
      const auto known = std::find_if(g_persistent.begin(), g_persistent.end(),
                                      [&](int f) { return name == kFamilyNames[f]; });
      if (known == g_persistent.end()) {
        std::printf("--only %s: not a persistent family of this build\n", name.c_str());
        return 2;
      }
      g_persistent = {*known};
      g_mma = false;
    }
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // whole lines reach the log even if a timeout kills the run
  cudaDeviceProp prop;
  CHECK(cudaGetDeviceProperties(&prop, 0));
  g_sms = prop.multiProcessorCount;
  g_blocks = g_sms;
  std::printf("device %s, %d SMs\n", prop.name, g_sms);
  const int failures = checks ? correctness_failures() : 0;
  std::printf("correctness: %d failure(s)\n\n", failures);
  if (!timings) return failures == 0 ? 0 : 1;

  // GemmLab.SHAPES / tools/gemm_peer.py SHAPES: keep in step.
  const Shape shapes[] = {
      {"fwd qkv T16K", 16384, 2304, 768, false, true, false, false},
      {"fwd up T8K", 8192, 3072, 768, false, true, false, false},
      {"fwd up T64K", 65536, 3072, 768, false, true, false, false},
      {"fwd down T64K", 65536, 768, 3072, false, true, false, false},
      {"dx up T64K", 65536, 768, 3072, false, false, false, false},
      {"dx down T64K", 65536, 3072, 768, false, false, false, false},
      {"dW attn 768x768 T64K", 768, 768, 65536, true, false, true, true},
      {"dW up T64K", 3072, 768, 65536, true, false, true, true},
      {"dW down T64K", 768, 3072, 65536, true, false, true, true},
      {"fwd lmhead T16K", 16384, 50304, 768, false, true, false, false},
      {"dx lmhead T16K", 16384, 768, 50304, false, false, false, false},
      {"dW lmhead T16K", 50304, 768, 16384, true, false, true, true},
      {"tt 4096", 4096, 4096, 4096, true, true, false, false},
  };
  for (const Shape& s : shapes)
    for (const int family : g_persistent)
      if (only_shape.empty() || only_shape == s.name) time_shape(s, family);
  if (g_mma && only_shape.empty()) {
    std::printf("\nmma.sync path for comparison:\n");
    time_shape(shapes[2], MMA);
    time_shape(shapes[6], MMA);
  }
  return failures == 0 ? 0 : 1;
}
