// Fused softmax cross-entropy (CrossEntropyCpu is the definition), one block per row of V logits:
//   losses[t]  = lse - logits[t, y],  lse = logsumexp(logits[t]),  y = targets[t]
//   dLogits[t] = grad_scale * (softmax(logits[t]) - onehot(y))     (when dlogits is not null)
// A target of -1 gives loss 0 and a zero gradient row; any other target outside [0, V) gives NaN
// (targets are not read back on the host). logits bf16 or fp32, dLogits bf16 or fp32, losses fp32,
// arithmetic in fp32.
//
// Pass 1 keeps an online (max, sum of exp(x - max)) per thread, rescaling once per pack, and merges
// the threads' pairs in a fixed tree; pass 2 re-reads the row and writes the gradient with
// streaming stores. At V = 50304 the re-read mostly misses L2 (docs/perf/training.md, "Pointwise ops"). Every thread reads its elements in pass 2
// before writing them, after the whole block finished pass 1, so dLogits may be the logits tensor.
#include <math.h>
#include "pack.cuh"

#define IGNORE_TARGET (-1)
#define MAX_WARPS 32

// (m, s) represents s * exp(m): the merge rescales both sums to the larger maximum.
__device__ __forceinline__ void merge(float& m, float& s, float m2, float s2) {
  float mx = fmaxf(m, m2);
  if (mx == -INFINITY) return;  // both empty
  s = s * expf(m - mx) + s2 * expf(m2 - mx);
  m = mx;
}

// The block's (max, sum) in every thread: a butterfly within each warp, then warp 0 merges the
// warps' pairs by another butterfly and lane 0's result is broadcast. One fixed tree on every run,
// and about 10 exps per thread rather than one per warp.
__device__ __forceinline__ void block_merge(float& m, float& s) {
  __shared__ float warp_m[MAX_WARPS], warp_s[MAX_WARPS];
  __shared__ float block_m, block_s;
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) {
    merge(m, s, __shfl_xor_sync(0xffffffffu, m, offset), __shfl_xor_sync(0xffffffffu, s, offset));
  }
  int warp = threadIdx.x / 32;
  int lane = threadIdx.x % 32;
  if (lane == 0) {
    warp_m[warp] = m;
    warp_s[warp] = s;
  }
  __syncthreads();
  if (warp == 0) {
    bool present = lane < (int)blockDim.x / 32;
    m = present ? warp_m[lane] : -INFINITY;
    s = present ? warp_s[lane] : 0.0f;
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) {
      merge(m, s, __shfl_xor_sync(0xffffffffu, m, offset), __shfl_xor_sync(0xffffffffu, s, offset));
    }
    if (lane == 0) {
      block_m = m;
      block_s = s;
    }
  }
  __syncthreads();
  m = block_m;
  s = block_s;
}

template <typename L, typename D, int N>
__device__ void cross_entropy(float* losses, D* dlogits, const L* logits, const int* targets, int vocab,
                              float grad_scale) {
  long row = blockIdx.x;
  const L* x = logits + row * vocab;
  D* dx = dlogits == nullptr ? nullptr : dlogits + row * vocab;
  int target = targets[row];
  if (target == IGNORE_TARGET || target < 0 || target >= vocab) {
    float fill = target == IGNORE_TARGET ? 0.0f : NAN;
    if (threadIdx.x == 0) losses[row] = fill;
    if (dx != nullptr) {
      float f[N];
#pragma unroll
      for (int k = 0; k < N; k++) f[k] = fill;
      for (int c = threadIdx.x * N; c < vocab; c += blockDim.x * N) store<N, true>(dx + c, f);
    }
    return;
  }
  float m = -INFINITY;
  float s = 0.0f;
  for (int c = threadIdx.x * N; c < vocab; c += blockDim.x * N) {
    float f[N];
    load<N>(x + c, f);
    float pack_max = f[0];
#pragma unroll
    for (int k = 1; k < N; k++) pack_max = fmaxf(pack_max, f[k]);
    float mx = fmaxf(m, pack_max);
    float sum = s * expf(m - mx);
#pragma unroll
    for (int k = 0; k < N; k++) sum += expf(f[k] - mx);
    m = mx;
    s = sum;
  }
  // Read before block_merge's barrier: in place, pass 2 of another thread may overwrite it after.
  float target_logit = threadIdx.x == 0 ? to_f32(x[target]) : 0.0f;
  block_merge(m, s);
  float lse = m + logf(s);
  if (threadIdx.x == 0) losses[row] = lse - target_logit;
  if (dx == nullptr) return;
  for (int c = threadIdx.x * N; c < vocab; c += blockDim.x * N) {
    float f[N];
    load<N>(x + c, f);
#pragma unroll
    for (int k = 0; k < N; k++) {
      f[k] = grad_scale * expf(f[k] - lse);
      if (c + k == target) f[k] -= grad_scale;
    }
    store<N, true>(dx + c, f);
  }
}

#define CROSS_ENTROPY(L, D, N)                                                                     \
  extern "C" __global__ void cross_entropy_##L##_##D##_x##N(                                       \
      float* losses, D* dlogits, const L* logits, const int* targets, int vocab, float grad_scale) { \
    cross_entropy<L, D, N>(losses, dlogits, logits, targets, vocab, grad_scale);                   \
  }
CROSS_ENTROPY(bf16, bf16, 8)
CROSS_ENTROPY(bf16, bf16, 1)
CROSS_ENTROPY(bf16, f32, 8)
CROSS_ENTROPY(bf16, f32, 1)
CROSS_ENTROPY(f32, bf16, 8)
CROSS_ENTROPY(f32, bf16, 1)
CROSS_ENTROPY(f32, f32, 8)
CROSS_ENTROPY(f32, f32, 1)
