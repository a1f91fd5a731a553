// Kernel lab for the fused softmax cross-entropy (cross_entropy.cu): checks both entry points against
// a float64 CPU reference at awkward sizes, then times them at the trainer's shapes beside a
// device-to-device copy of the same bytes (the ceiling). The Java parity lab (OpsParity, through
// CrossEntropyCuda) is the standard; this lab adds what the CPU backend cannot express (targets
// outside [0, V) give NaN) and a before/after comparison in one command: built from an older
// cross_entropy.cu without -DSTAGED, it checks and times that version's unstaged kernel alone.
//
// Build (from the repository root):
//   nvcc -O3 -std=c++17 -DSTAGED -gencode=arch=compute_90a,code=sm_90a -Ikernels/src/main/cuda \
//        -o xent_harness kernels/src/lab/cuda/xent_harness.cu
// Run: xent_harness [--check] [--bench]   (both when neither is given)
//
// The kernel file is included as source so that the lab launches exactly the production entry points.
#include "cross_entropy.cu"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "lab_host.cuh"

typedef void (*XentKernel)(float*, void*, const void*, const int*, int, float);

// The entry points by logits and gradient dtype (true = bf16); staged ones are null without STAGED.
struct Kernels {
  XentKernel x8, x1, staged;
};
#define KERNEL(name) reinterpret_cast<XentKernel>(name)
#ifdef STAGED
#define STAGED_KERNEL(L, D) KERNEL(cross_entropy_staged_##L##_##D)
#else
#define STAGED_KERNEL(L, D) nullptr
#endif
#define KERNELS(L, D) \
  Kernels { KERNEL(cross_entropy_##L##_##D##_x8), KERNEL(cross_entropy_##L##_##D##_x1), STAGED_KERNEL(L, D) }
static Kernels kernels(bool bf16_logits, bool bf16_grad) {
  if (bf16_logits) return bf16_grad ? KERNELS(bf16, bf16) : KERNELS(bf16, f32);
  return bf16_grad ? KERNELS(f32, bf16) : KERNELS(f32, f32);
}

// Whole warps, one pack each, up to 512: CrossEntropyCuda.threads.
static int threads_for(int vocab, int pack) {
  int packs = (vocab + pack - 1) / pack;
  return std::max(32, std::min(512, (packs + 31) / 32 * 32));
}

static void launch(XentKernel k, bool staged, int threads, float* losses, void* dlogits,
                   const void* logits, const int* targets, int rows, int vocab, size_t logit_bytes,
                   float scale) {
  size_t shared = staged ? vocab * logit_bytes : 0;
  if (shared > 48 * 1024) {
    CK(cudaFuncSetAttribute(reinterpret_cast<const void*>(k),
                            cudaFuncAttributeMaxDynamicSharedMemorySize, (int)shared));
  }
  void* args[] = {&losses, &dlogits, &logits, &targets, &vocab, &scale};
  CK(cudaLaunchKernel(reinterpret_cast<const void*>(k), dim3(rows), dim3(threads), args, shared, 0));
  LAUNCHED();
}

// ---- checks ----------------------------------------------------------------------------------------

struct Case {
  int rows, vocab;
  bool bf16_logits, bf16_grad, in_place, with_grad;
};

// Runs one entry point twice on poisoned outputs; returns the losses and gradient of the first run
// and whether the second repeated it bit for bit.
static bool run_twice(const Case& c, XentKernel k, bool staged, int pack, const std::vector<uint8_t>& logits,
                      const std::vector<int>& targets, float scale, std::vector<float>& losses,
                      std::vector<uint8_t>& grad) {
  size_t lb = c.bf16_logits ? 2 : 4, gb = c.bf16_grad ? 2 : 4;
  size_t n = (size_t)c.rows * c.vocab;
  void *d_logits, *d_grad = nullptr;
  float* d_losses;
  int* d_targets;
  CK(cudaMalloc(&d_logits, n * lb));
  CK(cudaMalloc(&d_losses, c.rows * 4));
  CK(cudaMalloc(&d_targets, c.rows * 4));
  if (c.with_grad && !c.in_place) CK(cudaMalloc(&d_grad, n * gb));
  CK(cudaMemcpy(d_targets, targets.data(), c.rows * 4, cudaMemcpyHostToDevice));
  std::vector<float> first_losses;
  std::vector<uint8_t> first_grad;
  bool repeats = true;
  for (int run = 0; run < 2; run++) {
    CK(cudaMemcpy(d_logits, logits.data(), n * lb, cudaMemcpyHostToDevice));
    CK(cudaMemset(d_losses, 0xff, c.rows * 4));  // NaN poison
    if (d_grad) CK(cudaMemset(d_grad, 0xff, n * gb));
    void* dx = c.in_place ? d_logits : d_grad;
    launch(k, staged, threads_for(c.vocab, pack), d_losses, dx, d_logits, d_targets, c.rows,
           c.vocab, lb, scale);
    CK(cudaDeviceSynchronize());
    losses.resize(c.rows);
    grad.assign(c.with_grad ? n * gb : 0, 0);
    CK(cudaMemcpy(losses.data(), d_losses, c.rows * 4, cudaMemcpyDeviceToHost));
    if (c.with_grad) CK(cudaMemcpy(grad.data(), dx, n * gb, cudaMemcpyDeviceToHost));
    if (run == 0) {
      first_losses = losses;
      first_grad = grad;
    } else {
      repeats = memcmp(first_losses.data(), losses.data(), c.rows * 4) == 0 && first_grad == grad;
    }
  }
  CK(cudaFree(d_logits));
  CK(cudaFree(d_losses));
  CK(cudaFree(d_targets));
  if (d_grad) CK(cudaFree(d_grad));
  return repeats;
}

// Max errors against float64 on the stored inputs, relative to the bf16/fp32 output's own rounding
// scale: losses within 2e-5 * max(1, |ref|), gradients within 2 ulps of their dtype plus 1e-6 * scale.
// NaN where the reference is NaN (targets outside [0, V)) and nowhere else.
static bool check_case(const Case& c, const char* entry, XentKernel k, bool staged, int pack, uint64_t seed,
                       std::vector<float>* losses_out, std::vector<uint8_t>* grad_out) {
  Rng rng(seed);
  size_t n = (size_t)c.rows * c.vocab;
  size_t lb = c.bf16_logits ? 2 : 4;
  std::vector<uint8_t> logits(n * lb);
  std::vector<double> x(n);
  for (size_t i = 0; i < n; i++) {
    float v = 3 * rng.normal();
    if (c.bf16_logits) {
      uint16_t h = to_bf16(v);
      memcpy(&logits[2 * i], &h, 2);
      x[i] = from_bf16(h);
    } else {
      memcpy(&logits[4 * i], &v, 4);
      x[i] = v;
    }
  }
  std::vector<int> targets(c.rows);
  int counted = 0;
  for (int t = 0; t < c.rows; t++) {
    int r = c.rows > 1 ? rng.below(20) : 2;
    targets[t] = r == 0 ? IGNORE_TARGET : r == 1 ? (t % 2 ? c.vocab : -2) : rng.below(c.vocab);
    counted += targets[t] >= 0 && targets[t] < c.vocab;
  }
  float scale = counted ? 1.0f / counted : 1.0f;
  std::vector<float> losses;
  std::vector<uint8_t> grad;
  bool repeats = run_twice(c, k, staged, pack, logits, targets, scale, losses, grad);
  double loss_err = 0, grad_err = 0;
  bool nan_ok = true;
  double ulp = c.bf16_grad ? 1.0 / 128 : 1.0 / (1 << 22);  // two ulps, relative
  for (int t = 0; t < c.rows; t++) {
    int y = targets[t];
    bool valid = y >= 0 && y < c.vocab;
    const double* row = &x[(size_t)t * c.vocab];
    double mx = -INFINITY, sum = 0;
    for (int v = 0; v < c.vocab; v++) mx = std::max(mx, row[v]);
    for (int v = 0; v < c.vocab; v++) sum += exp(row[v] - mx);
    double lse = mx + log(sum);
    double ref_loss = y == IGNORE_TARGET ? 0 : valid ? lse - row[y] : NAN;
    if (std::isnan(ref_loss) != std::isnan(losses[t])) nan_ok = false;
    if (!std::isnan(ref_loss)) loss_err = std::max(loss_err, fabs(losses[t] - ref_loss) / std::max(1.0, fabs(ref_loss)) / 2e-5);
    if (!c.with_grad) continue;
    for (int v = 0; v < c.vocab; v++) {
      size_t i = (size_t)t * c.vocab + v;
      double g;
      if (c.bf16_grad) {
        uint16_t h;
        memcpy(&h, &grad[2 * i], 2);
        g = from_bf16(h);
      } else {
        float f;
        memcpy(&f, &grad[4 * i], 4);
        g = f;
      }
      double ref = y == IGNORE_TARGET ? 0 : valid ? scale * (exp(row[v] - lse) - (v == y)) : NAN;
      if (std::isnan(ref) != std::isnan(g)) nan_ok = false;
      if (!std::isnan(ref)) grad_err = std::max(grad_err, fabs(g - ref) / (ulp * fabs(ref) + 1e-6 * scale));
    }
  }
  bool pass = nan_ok && repeats && loss_err <= 1 && grad_err <= 1;
  printf("%-7s T=%-5d V=%-6d logits:%-4s d:%-4s %-8s  loss %.3f  grad %.3f  nan %s  repro %s  %s\n", entry,
         c.rows, c.vocab, c.bf16_logits ? "bf16" : "f32", !c.with_grad ? "none" : c.bf16_grad ? "bf16" : "f32",
         c.in_place ? "in-place" : "", loss_err, grad_err, nan_ok ? "ok" : "BAD", repeats ? "yes" : "NO",
         pass ? "PASS" : "FAIL");
  if (losses_out) *losses_out = losses;
  if (grad_out) *grad_out = grad;
  return pass;
}

static int checks() {
  const Case cases[] = {
      {1, 1, true, true, false, true},          {113, 97, false, false, false, true},
      {113, 97, true, true, false, false},      {1023, 96, true, false, false, true},
      {113, 8, false, true, false, true},       {113, 50257, true, true, true, true},
      {257, 50304, true, true, false, true},    {257, 50304, true, true, true, true},
      {113, 50304, true, true, false, false},   {61, 50304, false, false, false, true},
      {61, 50304, false, false, true, true},     {17, 131072, true, true, false, true},
  };
  int failed = 0, count = 0;
  uint64_t seed = 900;
  for (const Case& c : cases) {
    Kernels k = kernels(c.bf16_logits, c.bf16_grad);
    seed++;
    if (c.vocab % 8 != 0) {
      failed += !check_case(c, "x1", k.x1, false, 1, seed, nullptr, nullptr);
      count++;
      continue;
    }
    std::vector<float> l8, ls;
    std::vector<uint8_t> g8, gs;
    failed += !check_case(c, "x8", k.x8, false, 8, seed, &l8, &g8);
    count++;
    size_t shared = (size_t)c.vocab * (c.bf16_logits ? 2 : 4);
    if (k.staged && shared <= 227 * 1024 - 1024) {
      failed += !check_case(c, "staged", k.staged, true, 8, seed, &ls, &gs);
      count++;
      // Same packs, same order, same arithmetic: the two entry points must agree bit for bit.
      bool same = memcmp(l8.data(), ls.data(), l8.size() * 4) == 0 && g8 == gs;
      printf("        staged == x8 bit for bit: %s\n", same ? "yes" : "NO");
      failed += !same;
    }
  }
  printf("checks: %d entry-point runs, %d failed\n", count, failed);
  return failed;
}

// ---- timing ----------------------------------------------------------------------------------------

// Median ms of 20 CUDA-event timings after 3 warm-ups. No L2 flush: every operand is over 800 MB.
template <typename F>
static float median_ms(F&& op) {
  cudaEvent_t a, b;
  CK(cudaEventCreate(&a));
  CK(cudaEventCreate(&b));
  std::vector<float> ms;
  for (int rep = -3; rep < 20; rep++) {
    CK(cudaEventRecord(a));
    op();
    CK(cudaEventRecord(b));
    CK(cudaEventSynchronize(b));
    float t;
    CK(cudaEventElapsedTime(&t, a, b));
    if (rep >= 0) ms.push_back(t);
  }
  CK(cudaEventDestroy(a));
  CK(cudaEventDestroy(b));
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

static void row(const char* what, int rows, int vocab, int threads, float ms, double bytes) {
  printf("%-26s [%6d, %6d] %5d %9.3f %8.0f %6.1f%%\n", what, rows, vocab, threads, ms, bytes / ms / 1e6,
         100 * bytes / ms / 1e6 / 4800);
}

static void bench() {
  const int vocab = 50304;
  printf("%-26s %16s %5s %9s %8s %7s\n", "variant", "shape", "thr", "ms", "GB/s", "of 4.8T");
  for (int rows : {65536, 8192}) {
    size_t n = (size_t)rows * vocab;
    bf16 *logits, *grad;
    float* losses;
    int* targets;
    CK(cudaMalloc(&logits, n * 2));
    CK(cudaMalloc(&grad, n * 2));
    CK(cudaMalloc(&losses, rows * 4));
    CK(cudaMalloc(&targets, rows * 4));
    lab_fill_normal<<<1024, 256>>>(logits, n, rows);
    LAUNCHED();
    std::vector<int> t(rows);
    Rng rng(rows);
    for (int& y : t) y = rng.below(vocab);
    CK(cudaMemcpy(targets, t.data(), rows * 4, cudaMemcpyHostToDevice));
    double both = 4.0 * n + 8.0 * rows, once = 2.0 * n + 8.0 * rows;
    row("copy (ceiling)", rows, vocab, 0,
        median_ms([&] { CK(cudaMemcpyAsync(grad, logits, n * 2, cudaMemcpyDeviceToDevice)); }), 4.0 * n);
    Kernels k = kernels(true, true);
    float scale = 1.0f / rows;
    row("unstaged + dLogits", rows, vocab, 512, median_ms([&] {
          launch(k.x8, false, 512, losses, grad, logits, targets, rows, vocab, 2, scale);
        }), both);
    row("unstaged losses only", rows, vocab, 512, median_ms([&] {
          launch(k.x8, false, 512, losses, nullptr, logits, targets, rows, vocab, 2, scale);
        }), once);
    if (k.staged) {
      for (int threads : {256, 512, 1024}) {
        row("staged + dLogits", rows, vocab, threads, median_ms([&] {
              launch(k.staged, true, threads, losses, grad, logits, targets, rows, vocab, 2, scale);
            }), both);
      }
      for (int threads : {512, 1024}) {
        row("staged losses only", rows, vocab, threads, median_ms([&] {
              launch(k.staged, true, threads, losses, nullptr, logits, targets, rows, vocab, 2, scale);
            }), once);
      }
    }
    CK(cudaFree(logits));
    CK(cudaFree(grad));
    CK(cudaFree(losses));
    CK(cudaFree(targets));
  }
}

int main(int argc, char** argv) {
  bool check = argc == 1, timing = argc == 1;
  for (int i = 1; i < argc; i++) {
    check |= strcmp(argv[i], "--check") == 0;
    timing |= strcmp(argv[i], "--bench") == 0;
  }
  int failed = check ? checks() : 0;
  if (timing) bench();
  return failed ? 1 : 0;
}
