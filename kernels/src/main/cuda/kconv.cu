// kconv, the causal depthwise key convolution of FlashMoBA (arXiv 2511.11571, App. C); KeyConvCpu is
// its definition, docs/moba.md its invariants. Per KV head g, channel d, token t at position p in
// its sequence, width W <= 5:
//   z_t  = sum_{l < W, l <= p} w[g, l, d] * k_{t-l}      (taps never cross a sequence start)
//   k'_t = k_t + silu(z_t)
// Layouts: k, out, dout, dk [T, Hkv, D] bf16 flattened to [T, C] with C = Hkv * D, D even; weight
// [Hkv, W, D] fp32; dweight [Hkv, W, D] fp32, accumulated. All arithmetic in fp32.
//
// A thread owns a pair of channels of one head (one 4-byte access per token, a warp's 32 pairs
// 128 contiguous bytes) and a short run of tokens, and issues every load of its run before the
// first use; a thread walking one channel token by token waited on each load and reached a third
// of the copy bandwidth. Pairs rather than wider packs keep the registers low: with the sigmoid's
// exp and division per element the kernels need many warps per SM to hide latency. The kernels are
// instantiated per width (kconv_forward_w3, ...) so that the registers hold exactly W taps.
#include <stdint.h>

#include "pack.cuh"
#include "varlen.cuh"

constexpr int kPack = 2;         // channels per thread (KeyConvCuda.PACK)
constexpr int kForwardRun = 8;   // tokens per forward thread (KeyConvCuda.FORWARD_RUN)
constexpr int kBackwardRun = 4;  // tokens per backward sub-run
constexpr int kPackBlock = 32;   // backward: pairs per CTA (64 channels), its x dimension
constexpr int kSubRuns = 8;      // backward: sub-run lanes per CTA, its y dimension

// The two bf16 channels of one token as a 32-bit word, and as fp32.
__device__ __forceinline__ uint32_t load_pair(const bf16* p) { return *reinterpret_cast<const uint32_t*>(p); }

__device__ __forceinline__ void unpack(uint32_t raw, float (&f)[kPack]) {
  const float2 two = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&raw));
  f[0] = two.x;
  f[1] = two.y;
}

__device__ __forceinline__ void store_pair(bf16* p, const float (&f)[kPack]) {
  *reinterpret_cast<__nv_bfloat162*>(p) = __floats2bfloat162_rn(f[0], f[1]);
}

__device__ __forceinline__ float sigmoidf_exact(float z) { return 1.0f / (1.0f + expf(-z)); }

// The sequence of consecutive tokens visited in ascending order: where the current one starts.
struct SeqCursor {
  const int* cu;
  int s;
  long start;
  long next;

  __device__ __forceinline__ SeqCursor(const int* __restrict__ cu_seqlens, int sequences, long t)
      : cu(cu_seqlens), s(sequence_of(cu_seqlens, sequences, t)) {
    start = cu[s];
    next = cu[s + 1];
  }

  // Position of token t (>= every token visited before, < tokens) in its sequence.
  __device__ __forceinline__ long position(long t) {
    while (t >= next) {
      start = next;
      next = cu[++s + 1];
    }
    return t - start;
  }
};

// w[l][0 .. 2) = the taps of channels c, c+1 (one head: D is even).
template <int W>
__device__ __forceinline__ void load_taps(float (&w)[W][kPack], const float* __restrict__ weight, int c,
                                          int head_dim) {
  const int g = c / head_dim, d = c - g * head_dim;
#pragma unroll
  for (int l = 0; l < W; l++) {
    const float2 two = *reinterpret_cast<const float2*>(weight + ((long)g * W + l) * head_dim + d);
    w[l][0] = two.x;
    w[l][1] = two.y;
  }
}

// raw[j] = the pair of token first + j, zero outside [0, tokens).
template <int N>
__device__ __forceinline__ void load_keys(uint32_t (&raw)[N], const bf16* __restrict__ k, long first, long tokens,
                                          int c, int channels) {
#pragma unroll
  for (int j = 0; j < N; j++) {
    const long t = first + j;
    raw[j] = t >= 0 && t < tokens ? load_pair(k + t * channels + c) : 0u;
  }
}

// z = sum over taps l <= pos of w[l] * key (t - l), with key (t - l) = raw[at - l]; the taps in
// ascending order, as KeyConvCpu.
template <int W, int N>
__device__ __forceinline__ void conv(float (&z)[kPack], const float (&w)[W][kPack], const uint32_t (&raw)[N], int at,
                                     long pos) {
#pragma unroll
  for (int e = 0; e < kPack; e++) z[e] = 0.0f;
#pragma unroll
  for (int l = 0; l < W; l++) {
    if (l > pos) break;
    float key[kPack];
    unpack(raw[at - l], key);
#pragma unroll
    for (int e = 0; e < kPack; e++) z[e] = fmaf(w[l][e], key[e], z[e]);
  }
}

// Grid: 1-D over (forward runs x packs), packs fastest, so a warp's loads of one token are contiguous.
template <int W>
__device__ void kconv_forward(bf16* __restrict__ out, const bf16* __restrict__ k, const float* __restrict__ weight,
                              const int* __restrict__ cu_seqlens, int sequences, long tokens, int channels,
                              int head_dim) {
  const int packs = channels / kPack;
  const long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
  const long first = i / packs * kForwardRun;
  const int c = (int)(i % packs) * kPack;
  if (first >= tokens) return;
  float w[W][kPack];
  load_taps<W>(w, weight, c, head_dim);
  uint32_t raw[kForwardRun + W - 1];  // tokens first - (W-1) .. first + kForwardRun - 1
  load_keys(raw, k, first - (W - 1), tokens, c, channels);
  SeqCursor seq(cu_seqlens, sequences, first);
#pragma unroll
  for (int r = 0; r < kForwardRun; r++) {
    const long t = first + r;
    if (t >= tokens) break;
    float z[kPack], key[kPack], o[kPack];
    conv<W>(z, w, raw, r + W - 1, seq.position(t));
    unpack(raw[r + W - 1], key);
#pragma unroll
    for (int e = 0; e < kPack; e++) o[e] = key[e] + z[e] * sigmoidf_exact(z[e]);
    store_pair(out + t * channels + c, o);
  }
}

// Backward, first pass. With gz_u = dout_u * silu'(z_u):
//   dk_t = dout_t + sum_l w_l * gz_{t+l}   over t+l in t's sequence, i.e. position(t+l) >= l
//   partial[chunk, l, c] = sum over the chunk's tokens u of gz_u * k_{u-l}
// Grid: x = chunks of `run` tokens, y = blocks of kPackBlock packs; CTA (kPackBlock, kSubRuns).
// Thread (x, y) takes the sub-runs y, y + kSubRuns, ... of kBackwardRun tokens of its chunk; a
// sub-run [a, b) needs gz up to b + W - 2 (recomputed by the next sub-run's thread as well), hence
// keys a - (W-1) .. b + W - 2. The CTA then adds its threads' dWeight terms in y order: one fixed
// order for each T, no atomics.
template <int W>
__device__ void kconv_backward_tokens(bf16* __restrict__ dk, float* __restrict__ partial,
                                      const bf16* __restrict__ dout, const bf16* __restrict__ k,
                                      const float* __restrict__ weight, const int* __restrict__ cu_seqlens,
                                      int sequences, long tokens, int channels, int head_dim, int run) {
  constexpr int G = kBackwardRun + W - 1;  // tokens whose gz a sub-run needs
  __shared__ float dw_rows[kSubRuns][W][kPackBlock * kPack];
  const int packs = channels / kPack;
  const int pack = blockIdx.y * kPackBlock + threadIdx.x;
  const bool active = pack < packs;
  const int c = pack * kPack;
  const long chunk_start = (long)blockIdx.x * run, chunk_end = min(chunk_start + run, tokens);

  float w[W][kPack], dw[W][kPack];
#pragma unroll
  for (int l = 0; l < W; l++) {
#pragma unroll
    for (int e = 0; e < kPack; e++) dw[l][e] = 0.0f;
  }
  if (active) {
    load_taps<W>(w, weight, c, head_dim);
    for (long a = chunk_start + threadIdx.y * kBackwardRun; a < chunk_end; a += kSubRuns * kBackwardRun) {
      const long b = min(a + kBackwardRun, chunk_end);
      uint32_t keys[G + W - 1], douts[G];  // tokens a - (W-1) .. a + G - 1; a .. a + G - 1
      load_keys(keys, k, a - (W - 1), tokens, c, channels);
      load_keys(douts, dout, a, tokens, c, channels);

      // gz of tokens u = a + m, zero past b + W - 2 or the end; pos[m] = position of u (-1 there).
      float gz[G][kPack];
      int pos[G];
      SeqCursor seq(cu_seqlens, sequences, a);
#pragma unroll
      for (int m = 0; m < G; m++) {
        const long u = a + m;
        pos[m] = u < b + W - 1 && u < tokens ? (int)seq.position(u) : -1;
        float z[kPack], d[kPack];
        conv<W>(z, w, keys, m + W - 1, pos[m]);
        unpack(douts[m], d);
#pragma unroll
        for (int e = 0; e < kPack; e++) {
          const float sg = sigmoidf_exact(z[e]);
          gz[m][e] = pos[m] < 0 ? 0.0f : d[e] * sg * (1.0f + z[e] * (1.0f - sg));
        }
        if (u < b) {
#pragma unroll
          for (int l = 0; l < W; l++) {
            if (l > pos[m]) break;
            float key[kPack];
            unpack(keys[m + W - 1 - l], key);
#pragma unroll
            for (int e = 0; e < kPack; e++) dw[l][e] = fmaf(gz[m][e], key[e], dw[l][e]);
          }
        }
      }
      // dk_t, t = a + r: the terms of tokens t + l of t's sequence in ascending l, as KeyConvCpu.
#pragma unroll
      for (int r = 0; r < kBackwardRun; r++) {
        if (a + r >= b) break;
        float d[kPack], acc[kPack];
        unpack(douts[r], d);
#pragma unroll
        for (int e = 0; e < kPack; e++) acc[e] = 0.0f;
#pragma unroll
        for (int l = 0; l < W; l++) {
          if (pos[r + l] < l) continue;
#pragma unroll
          for (int e = 0; e < kPack; e++) acc[e] = fmaf(w[l][e], gz[r + l][e], acc[e]);
        }
#pragma unroll
        for (int e = 0; e < kPack; e++) d[e] += acc[e];
        store_pair(dk + (a + r) * channels + c, d);
      }
    }
  }
#pragma unroll
  for (int l = 0; l < W; l++) {
#pragma unroll
    for (int e = 0; e < kPack; e++) dw_rows[threadIdx.y][l][threadIdx.x * kPack + e] = dw[l][e];
  }
  __syncthreads();
  const int tid = threadIdx.y * kPackBlock + threadIdx.x, c0 = blockIdx.y * kPackBlock * kPack;
  float* mine = partial + (long)blockIdx.x * W * channels;
  for (int j = tid; j < W * kPackBlock * kPack; j += kPackBlock * kSubRuns) {
    const int l = j / (kPackBlock * kPack), ch = j % (kPackBlock * kPack);
    if (c0 + ch >= channels) continue;
    float sum = 0.0f;
    for (int y = 0; y < kSubRuns; y++) sum += dw_rows[y][l][ch];
    mine[(long)l * channels + c0 + ch] = sum;
  }
}

#define KCONV(W)                                                                                          \
  extern "C" __global__ void kconv_forward_w##W(bf16* out, const bf16* k, const float* weight,            \
                                                const int* cu_seqlens, int sequences, long tokens,        \
                                                int channels, int head_dim) {                             \
    kconv_forward<W>(out, k, weight, cu_seqlens, sequences, tokens, channels, head_dim);                  \
  }                                                                                                       \
  extern "C" __global__ void __launch_bounds__(kPackBlock * kSubRuns) kconv_backward_tokens_w##W(         \
      bf16* dk, float* partial, const bf16* dout, const bf16* k, const float* weight,                     \
      const int* cu_seqlens, int sequences, long tokens, int channels, int head_dim, int run) {           \
    kconv_backward_tokens<W>(dk, partial, dout, k, weight, cu_seqlens, sequences, tokens, channels,       \
                             head_dim, run);                                                              \
  }
KCONV(1)
KCONV(2)
KCONV(3)
KCONV(4)
KCONV(5)

// Backward, second pass: dweight[g, l, d] += sum over chunks, in chunk order, of
// partial[chunk, l, g*D + d]. A fixed order and no atomics: the result is bitwise reproducible.
// One thread per (l, c); grid covers width * channels.
extern "C" __global__ void kconv_backward_weight(float* __restrict__ dweight, const float* __restrict__ partial,
                                                 int chunks, int channels, int head_dim, int width) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;  // = l * channels + c
  if (i >= width * channels) return;
  int l = i / channels;
  int c = i - l * channels;
  float sum = 0.0f;
  for (int chunk = 0; chunk < chunks; chunk++) sum += partial[(long)chunk * width * channels + i];
  int g = c / head_dim;
  int d = c - g * head_dim;
  dweight[((long)g * width + l) * head_dim + d] += sum;
}
