// Standalone lab of gemm.cu (docs/gemm-cuda.md): checks both kernel families against a float64 CPU
// reference at awkward shapes and all four transpose combinations, then times the training shapes
// with CUDA events (median of 20 after 3 warm-ups, inputs rotated over > L2). The Java path
// (GemmLab) is the one that counts; this exists to iterate on the kernel without Java.
//   nvcc -O3 -std=c++17 -gencode=arch=compute_90a,code=sm_90a -Ikernels/src/main/cuda \
//        -o kernels/target-gemm/gemm_harness kernels/src/lab/cuda/gemm_harness.cu
#include "gemm.cu"
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#define CHECK(x)                                                                      \
  do {                                                                                \
    cudaError_t e = (x);                                                              \
    if (e != cudaSuccess) {                                                           \
      std::printf("CUDA error %s at %s:%d\n", cudaGetErrorString(e), __FILE__, __LINE__); \
      std::exit(1);                                                                   \
    }                                                                                 \
  } while (0)

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

enum Family { MMA = 0, WGMMA = 1 };
static const char* kFamilyNames[] = {"mma", "wgmma"};

struct Run {
  Family family;
  int splits;
};

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

static float bf16_round(float x) { return __bfloat162float(__float2bfloat16_rn(x)); }

// One correctness case: fresh normal inputs, out poisoned (NaN) unless accumulating, fp64 reference.
static bool check(int m, int n, int k, bool ta, bool tb, bool out_f32, bool acc, int family, int splits,
                  std::mt19937& rng) {
  std::normal_distribution<float> normal;
  std::vector<__nv_bfloat16> ha((size_t)m * k), hb((size_t)k * n);
  for (auto& x : ha) x = __float2bfloat16_rn(normal(rng));
  for (auto& x : hb) x = __float2bfloat16_rn(normal(rng));
  std::vector<double> init((size_t)m * n);
  for (auto& x : init) x = acc ? (out_f32 ? normal(rng) : bf16_round(normal(rng))) : NAN;
  __nv_bfloat16 *da, *db;
  void* dout;
  size_t ob = out_f32 ? 4 : 2;
  CHECK(cudaMalloc(&da, ha.size() * 2));
  CHECK(cudaMalloc(&db, hb.size() * 2));
  CHECK(cudaMalloc(&dout, (size_t)m * n * ob));
  CHECK(cudaMemcpy(da, ha.data(), ha.size() * 2, cudaMemcpyHostToDevice));
  CHECK(cudaMemcpy(db, hb.data(), hb.size() * 2, cudaMemcpyHostToDevice));
  if (out_f32) {
    std::vector<float> f(init.begin(), init.end());
    CHECK(cudaMemcpy(dout, f.data(), f.size() * 4, cudaMemcpyHostToDevice));
  } else {
    std::vector<__nv_bfloat16> f(init.size());
    for (size_t i = 0; i < f.size(); i++) f[i] = __float2bfloat16_rn((float)init[i]);
    CHECK(cudaMemcpy(dout, f.data(), f.size() * 2, cudaMemcpyHostToDevice));
  }
  Run run = gemm(dout, da, db, m, n, k, ta, tb, out_f32, acc, family, splits);
  CHECK(cudaDeviceSynchronize());
  std::vector<double> got((size_t)m * n);
  if (out_f32) {
    std::vector<float> f(got.size());
    CHECK(cudaMemcpy(f.data(), dout, f.size() * 4, cudaMemcpyDeviceToHost));
    std::copy(f.begin(), f.end(), got.begin());
  } else {
    std::vector<__nv_bfloat16> f(got.size());
    CHECK(cudaMemcpy(f.data(), dout, f.size() * 2, cudaMemcpyDeviceToHost));
    for (size_t i = 0; i < f.size(); i++) got[i] = __bfloat162float(f[i]);
  }
  double worst = 0, ref_max = 0;
  for (int i = 0; i < m; i++)
    for (int j = 0; j < n; j++) {
      double s = acc ? init[(size_t)i * n + j] : 0.0;
      for (int p = 0; p < k; p++) {
        double x = __bfloat162float(ha[ta ? (size_t)p * m + i : (size_t)i * k + p]);
        double y = __bfloat162float(hb[tb ? (size_t)j * k + p : (size_t)p * n + j]);
        s += x * y;
      }
      double d = std::fabs(got[(size_t)i * n + j] - s);
      if (!(d <= worst)) worst = std::isnan(d) ? INFINITY : d;
      ref_max = std::max(ref_max, std::fabs(s));
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

static void time_shape(const Shape& s, int family) {
  size_t a_elems = (size_t)s.m * s.k, b_elems = (size_t)s.k * s.n;
  size_t set_bytes = (a_elems + b_elems) * 2;
  int sets = (int)std::max<size_t>(1, std::min<size_t>(8, (size_t)200e6 / set_bytes + 1));
  std::vector<__nv_bfloat16*> as(sets), bs(sets);
  std::mt19937 rng(7);
  std::normal_distribution<float> normal;
  std::vector<__nv_bfloat16> host(std::max(a_elems, b_elems));
  for (auto& x : host) x = __float2bfloat16_rn(normal(rng));
  for (int i = 0; i < sets; i++) {
    CHECK(cudaMalloc(&as[i], a_elems * 2));
    CHECK(cudaMalloc(&bs[i], b_elems * 2));
    CHECK(cudaMemcpy(as[i], host.data(), a_elems * 2, cudaMemcpyHostToDevice));
    CHECK(cudaMemcpy(bs[i], host.data(), b_elems * 2, cudaMemcpyHostToDevice));
  }
  void* out;
  CHECK(cudaMalloc(&out, (size_t)s.m * s.n * (s.out_f32 ? 4 : 2)));
  CHECK(cudaMemset(out, 0, (size_t)s.m * s.n * (s.out_f32 ? 4 : 2)));
  cudaEvent_t e0, e1;
  CHECK(cudaEventCreate(&e0));
  CHECK(cudaEventCreate(&e1));
  std::vector<float> ms;
  Run run{};
  for (int rep = -3; rep < 20; rep++) {
    int i = (rep + 3) % sets;
    CHECK(cudaEventRecord(e0));
    run = gemm(out, as[i], bs[i], s.m, s.n, s.k, s.ta, s.tb, s.out_f32, s.acc, family, 0);
    CHECK(cudaEventRecord(e1));
    CHECK(cudaEventSynchronize(e1));
    float t;
    CHECK(cudaEventElapsedTime(&t, e0, e1));
    if (rep >= 0) ms.push_back(t);
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

int main() {
  cudaDeviceProp prop;
  CHECK(cudaGetDeviceProperties(&prop, 0));
  g_sms = prop.multiProcessorCount;
  g_blocks = g_sms;
  std::printf("device %s, %d SMs\n", prop.name, g_sms);
  std::mt19937 rng(1);
  int failures = 0;
  struct C { int m, n, k; };
  const C awkward[] = {{1, 1, 1}, {113, 203, 77}, {1023, 1, 65}, {64, 72, 136}, {200, 264, 1032}, {256, 512, 2048}};
  for (int family = 0; family < 2; family++)
    for (const C& c : awkward)
      for (int t = 0; t < 4; t++) {
        bool ta = t & 2, tb = t & 1;
        bool aligned = (ta ? c.m % 8 == 0 : c.k % 8 == 0) && (tb ? c.k % 8 == 0 : c.n % 8 == 0);
        if (family != MMA && !aligned) continue;
        failures += !check(c.m, c.n, c.k, ta, tb, t % 2 == 0, t == 3, family, 1, rng);
      }
  // Split-K, both out dtypes, accumulate.
  failures += !check(136, 264, 3000, true, false, true, true, 1, 3, rng);
  failures += !check(136, 264, 3000, true, false, false, false, 1, 5, rng);
  failures += !check(136, 264, 3000, true, false, true, true, 0, 3, rng);
  // More tiles than SMs (a second wave of blocks).
  failures += !check(1024, 8192, 200, false, false, false, false, 1, 1, rng);
  // Few persistent blocks, each walking many items: the copies run from one tile (and split) into the
  // next; edge tiles in M and N, N % 8 != 0 (no staged epilogue), a short last split.
  g_blocks = 3;
  for (int t = 0; t < 4; t++) {
    bool ta = t & 2, tb = t & 1;
    failures += !check(392, 776, 200, ta, tb, false, false, 1, 1, rng);
    failures += !check(392, 776, 200, ta, tb, true, true, 1, 1, rng);
    failures += !check(264, 520, 3000, ta, tb, t % 2 == 0, t == 3, 1, 5, rng);
  }
  failures += !check(264, 521, 136, false, true, false, false, 1, 1, rng);
  failures += !check(264, 521, 136, false, true, false, true, 1, 1, rng);
  failures += !check(130, 1000, 64, false, true, false, false, 1, 1, rng);
  g_blocks = g_sms;
  std::printf("correctness: %d failure(s)\n\n", failures);

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
  for (const Shape& s : shapes) time_shape(s, -1);
  std::printf("\nmma.sync path for comparison:\n");
  time_shape(shapes[2], MMA);
  time_shape(shapes[6], MMA);
  return failures == 0 ? 0 : 1;
}
