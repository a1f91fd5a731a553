// Fused softmax cross-entropy (CrossEntropyCpu is the definition), one block per row of V logits:
//   losses[t]  = lse - logits[t, y],  lse = logsumexp(logits[t]),  y = targets[t]
//   dLogits[t] = grad_scale * (softmax(logits[t]) - onehot(y))     (when dlogits is not null)
// A target of -1 gives loss 0 and a zero gradient row; any other target outside [0, V) gives NaN
// (targets are not read back on the host). logits bf16 or fp32, dLogits bf16 or fp32, losses fp32,
// arithmetic in fp32.
//
// Two entry points share the row's arithmetic (cross_entropy_row):
// - cross_entropy_staged_L_D copies the row into shared memory first (cp.async, 16 bytes a copy, all
//   of the row in flight at once) and reads it from there twice: every logit leaves DRAM once, the
//   floor of this op. It needs rows of whole 16-byte chunks (V % 8 == 0) that fit in shared memory
//   (a bf16 row of V = 50304 is 100.6 KB: two blocks per SM on an H100/H200). The launcher uses it
//   only with a gradient: losses alone read each logit once anyway, and faster unstaged (more rows
//   in flight per SM).
// - cross_entropy_L_D_xN reads the row from global memory twice: any V, N = 8 when V % 8 == 0. At
//   V = 50304 its second read mostly misses L2 (docs/perf/training.md, "Pointwise ops").
// Pass 1 keeps an online (max, sum) per thread, rescaling once per pack, and merges the threads'
// pairs in a fixed tree; pass 2 writes the gradient with streaming stores, and the thread whose pack
// holds the target then rewrites that one element minus grad_scale. The exps are base 2
// (ex2.approx, one special-function op each, two per logit: the pass they bound is the SFU's), with
// the maximum and lse carried in base-2 units so that the shift's rounding cancels between them.
// In place (dLogits = logits): the staged kernel has the row on chip before any write; the unstaged
// one has every thread read its elements in pass 2 before writing them, after the whole block
// finished pass 1, and the target logit read before pass 1 ends.
#include <math.h>
#include "pack.cuh"

#define IGNORE_TARGET (-1)
#define MAX_WARPS 32
#define LOG2E 1.4426950408889634f
#define LN2 0.6931471805599453f

// 2^x for x <= 0 (underflow flushes to 0, far below any tolerance here): one MUFU.EX2. exp2f
// without fast math adds a denormal range fix-up of three more instructions around it.
__device__ __forceinline__ float exp2_approx(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}

// (m, s) represents s * 2^m: the merge rescales both sums to the larger maximum.
__device__ __forceinline__ void merge(float& m, float& s, float m2, float s2) {
  float mx = fmaxf(m, m2);
  if (mx == -INFINITY) return;  // both empty
  s = s * exp2_approx(m - mx) + s2 * exp2_approx(m2 - mx);
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

// True when the row is skipped: loss 0 and a zero gradient for the ignore target, NaN for a target
// outside [0, V).
template <typename D, int N>
__device__ __forceinline__ bool skip_row(float* loss, D* dx, int target, int vocab) {
  if (target != IGNORE_TARGET && target >= 0 && target < vocab) return false;
  float fill = target == IGNORE_TARGET ? 0.0f : NAN;
  if (threadIdx.x == 0) *loss = fill;
  if (dx != nullptr) {
    float f[N];
#pragma unroll
    for (int k = 0; k < N; k++) f[k] = fill;
    for (int c = threadIdx.x * N; c < vocab; c += blockDim.x * N) store<N, true>(dx + c, f);
  }
  return true;
}

// The loss and gradient of one row whose target is in [0, V): src is the row, in shared memory
// (staged) or global memory; dx the gradient row or null.
template <typename L, typename D, int N>
__device__ __forceinline__ void cross_entropy_row(float* loss, D* dx, const L* src, int target,
                                                  int vocab, float grad_scale) {
  float m = -INFINITY;  // this thread's maximum, in base-2 units (logit * log2 e)
  float s = 0.0f;       // sum of 2^(logit * log2 e - m) over this thread's elements
  for (int c = threadIdx.x * N; c < vocab; c += blockDim.x * N) {
    float f[N];
    load<N>(src + c, f);
    float pack_max = f[0];
#pragma unroll
    for (int k = 1; k < N; k++) pack_max = fmaxf(pack_max, f[k]);
    float mx = fmaxf(m, pack_max * LOG2E);
    float sum = s * exp2_approx(m - mx);
#pragma unroll
    for (int k = 0; k < N; k++) sum += exp2_approx(fmaf(f[k], LOG2E, -mx));
    m = mx;
    s = sum;
  }
  // Read before block_merge's barrier: in place and unstaged, another thread's pass 2 may overwrite it.
  float target_logit = to_f32(src[target]);
  block_merge(m, s);
  float lse2 = m + log2f(s);  // logsumexp in base-2 units
  if (threadIdx.x == 0) *loss = lse2 * LN2 - target_logit;
  if (dx == nullptr) return;
  for (int c = threadIdx.x * N; c < vocab; c += blockDim.x * N) {
    float f[N];
    load<N>(src + c, f);
#pragma unroll
    for (int k = 0; k < N; k++) f[k] = grad_scale * exp2_approx(fmaf(f[k], LOG2E, -lse2));
    store<N, true>(dx + c, f);
  }
  // The pack holding the target was stored by this same thread: program order makes this store win.
  if ((target / N) % blockDim.x == threadIdx.x) {
    dx[target] = from_f32<D>(grad_scale * exp2_approx(fmaf(target_logit, LOG2E, -lse2)) - grad_scale);
  }
}

template <typename L, typename D, int N>
__device__ void cross_entropy(float* losses, D* dlogits, const L* logits, const int* targets, int vocab,
                              float grad_scale) {
  long row = blockIdx.x;
  D* dx = dlogits == nullptr ? nullptr : dlogits + row * vocab;
  int target = targets[row];
  if (skip_row<D, N>(losses + row, dx, target, vocab)) return;
  cross_entropy_row<L, D, N>(losses + row, dx, logits + row * vocab, target, vocab, grad_scale);
}

// Launched with vocab * sizeof(L) bytes of dynamic shared memory; vocab % 8 == 0.
template <typename L, typename D>
__device__ void cross_entropy_staged(float* losses, D* dlogits, const L* logits, const int* targets,
                                     int vocab, float grad_scale) {
  extern __shared__ uint4 staged_row[];  // [vocab * sizeof(L) / 16] chunks of the row
  long row = blockIdx.x;
  D* dx = dlogits == nullptr ? nullptr : dlogits + row * vocab;
  int target = targets[row];
  if (skip_row<D, 8>(losses + row, dx, target, vocab)) return;
  const uint4* chunks = reinterpret_cast<const uint4*>(logits + row * vocab);
  int count = vocab * (int)sizeof(L) / 16;
  for (int i = threadIdx.x; i < count; i += blockDim.x) {
    unsigned dst = (unsigned)__cvta_generic_to_shared(staged_row + i);
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" ::"r"(dst), "l"(chunks + i) : "memory");
  }
  asm volatile("cp.async.wait_all;" ::: "memory");
  __syncthreads();
  cross_entropy_row<L, D, 8>(losses + row, dx, reinterpret_cast<const L*>(staged_row), target, vocab,
                             grad_scale);
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

#define CROSS_ENTROPY_STAGED(L, D)                                                                 \
  extern "C" __global__ void cross_entropy_staged_##L##_##D(                                       \
      float* losses, D* dlogits, const L* logits, const int* targets, int vocab, float grad_scale) { \
    cross_entropy_staged<L, D>(losses, dlogits, logits, targets, vocab, grad_scale);               \
  }
CROSS_ENTROPY_STAGED(bf16, bf16)
CROSS_ENTROPY_STAGED(bf16, f32)
CROSS_ENTROPY_STAGED(f32, bf16)
CROSS_ENTROPY_STAGED(f32, f32)
