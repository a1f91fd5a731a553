// kconv, the causal depthwise key convolution of FlashMoBA (arXiv 2511.11571, App. C); KeyConvCpu is
// its definition, docs/moba.md its invariants. Per KV head g, channel d, token t at position p in
// its sequence, width W <= 5:
//   z_t  = sum_{l < W, l <= p} w[g, l, d] * k_{t-l}      (taps never cross a sequence start)
//   k'_t = k_t + silu(z_t)
// Layouts: k, out, dout, dk [T, Hkv, D] bf16 flattened to [T, C] with C = Hkv * D; weight [Hkv, W, D]
// fp32; dweight [Hkv, W, D] fp32, accumulated. All arithmetic in fp32.
//
// Each thread owns one channel and walks a run of consecutive tokens, keeping the last taps in
// registers, so every key is read from memory about once; a warp covers 32 neighbouring channels,
// so its loads are contiguous.
#include <cuda_bf16.h>
#include "varlen.cuh"

#define KCONV_MAX_WIDTH 5

__device__ __forceinline__ float sigmoidf_exact(float z) { return 1.0f / (1.0f + expf(-z)); }

// w[l] for l < width, zero beyond: one code path serves every width up to KCONV_MAX_WIDTH.
__device__ __forceinline__ void load_taps(float (&w)[KCONV_MAX_WIDTH], const float* __restrict__ weight,
                                          int c, int head_dim, int width) {
  int g = c / head_dim;
  int d = c - g * head_dim;
#pragma unroll
  for (int l = 0; l < KCONV_MAX_WIDTH; l++) {
    w[l] = l < width ? weight[((long)g * width + l) * head_dim + d] : 0.0f;
  }
}

// Window of keys kw[l] = k_{t-l} (zero before the sequence start) for the token t = `first`.
__device__ __forceinline__ void load_window(float (&kw)[KCONV_MAX_WIDTH], const __nv_bfloat16* __restrict__ k,
                                            long first, long seq_start, int c, int channels) {
#pragma unroll
  for (int l = 0; l < KCONV_MAX_WIDTH; l++) {
    kw[l] = first - l >= seq_start ? __bfloat162float(k[(first - l) * channels + c]) : 0.0f;
  }
}

__device__ __forceinline__ float conv(const float (&w)[KCONV_MAX_WIDTH], const float (&kw)[KCONV_MAX_WIDTH]) {
  float z = 0.0f;
#pragma unroll
  for (int l = 0; l < KCONV_MAX_WIDTH; l++) {
    z = fmaf(w[l], kw[l], z);
  }
  return z;
}

// One thread's walk over consecutive tokens of channel c: its taps, the key window of the current
// token and where the current sequence starts and the next one begins. Fully unrolled loops keep
// the arrays in registers.
struct ChannelWalk {
  float w[KCONV_MAX_WIDTH];
  float kw[KCONV_MAX_WIDTH];
  int s;
  long seq_start;
  long next_start;

  __device__ __forceinline__ ChannelWalk(const float* __restrict__ weight, const __nv_bfloat16* __restrict__ k,
                                         const int* __restrict__ cu_seqlens, int sequences, long first,
                                         int c, int channels, int head_dim, int width) {
    load_taps(w, weight, c, head_dim, width);
    s = sequence_of(cu_seqlens, sequences, first);
    seq_start = cu_seqlens[s];
    next_start = cu_seqlens[s + 1];
    load_window(kw, k, first, seq_start, c, channels);
  }

  // Moves to token t, the one after the current; a token that starts a sequence has no history.
  __device__ __forceinline__ void advance(const __nv_bfloat16* __restrict__ k, const int* __restrict__ cu_seqlens,
                                          long t, int c, int channels) {
    bool restart = t == next_start;
    if (restart) {
      seq_start = t;
      next_start = cu_seqlens[++s + 1];
    }
#pragma unroll
    for (int l = KCONV_MAX_WIDTH - 1; l > 0; l--) kw[l] = restart ? 0.0f : kw[l - 1];
    kw[0] = __bfloat162float(k[t * channels + c]);
  }
};

// Grid: x = token runs of `run` tokens, y = channel blocks of blockDim.x channels.
extern "C" __global__ void kconv_forward(__nv_bfloat16* __restrict__ out, const __nv_bfloat16* __restrict__ k,
                                         const float* __restrict__ weight, const int* __restrict__ cu_seqlens,
                                         int sequences, long tokens, int channels, int head_dim, int width,
                                         int run) {
  int c = blockIdx.y * blockDim.x + threadIdx.x;
  long first = (long)blockIdx.x * run;
  if (c >= channels || first >= tokens) return;
  long end = min(first + run, tokens);

  ChannelWalk walk(weight, k, cu_seqlens, sequences, first, c, channels, head_dim, width);
  for (long t = first;;) {
    float z = conv(walk.w, walk.kw);
    out[t * channels + c] = __float2bfloat16_rn(walk.kw[0] + z * sigmoidf_exact(z));
    if (++t >= end) break;
    walk.advance(k, cu_seqlens, t, c, channels);
  }
}

// Backward, first pass. With gz_u = dout_u * silu'(z_u):
//   dk_t = dout_t + sum_l w_l * gz_{t+l}   over t+l in t's sequence, i.e. position(t+l) >= l
//   partial[chunk, l, c] = sum over the chunk's tokens u of gz_u * k_{u-l}
// A thread walks u over its chunk plus the KCONV_MAX_WIDTH-1 tokens after it, since dk of the chunk's
// last tokens needs gz of the next ones; dk of token u-(MAX-1) is complete once u is processed.
// Grid: x = chunks of `run` tokens, y = channel blocks.
extern "C" __global__ void kconv_backward_tokens(__nv_bfloat16* __restrict__ dk, float* __restrict__ partial,
                                                 const __nv_bfloat16* __restrict__ dout,
                                                 const __nv_bfloat16* __restrict__ k,
                                                 const float* __restrict__ weight,
                                                 const int* __restrict__ cu_seqlens, int sequences,
                                                 long tokens, int channels, int head_dim, int width,
                                                 int run) {
  int c = blockIdx.y * blockDim.x + threadIdx.x;
  long first = (long)blockIdx.x * run;
  if (c >= channels || first >= tokens) return;
  long end = min(first + run, tokens);
  long last = min(end + KCONV_MAX_WIDTH - 1, tokens);  // one past the last token whose gz is needed

  ChannelWalk walk(weight, k, cu_seqlens, sequences, first, c, channels, head_dim, width);
  float pending[KCONV_MAX_WIDTH] = {};  // pending[l]: sum of w * gz so far for token u-l
  float dw[KCONV_MAX_WIDTH] = {};
  for (long u = first; u < last + KCONV_MAX_WIDTH - 1; u++) {
    if (u > first && u < last) walk.advance(k, cu_seqlens, u, c, channels);
    // Tokens u-l for l = MAX-1 .. 1 keep accumulating; slot 0 is token u.
#pragma unroll
    for (int l = KCONV_MAX_WIDTH - 1; l > 0; l--) pending[l] = pending[l - 1];
    pending[0] = 0.0f;
    if (u < last) {
      float z = conv(walk.w, walk.kw);
      float sg = sigmoidf_exact(z);
      float gz = __bfloat162float(dout[u * channels + c]) * sg * (1.0f + z * (1.0f - sg));
      long position = u - walk.seq_start;
#pragma unroll
      for (int l = 0; l < KCONV_MAX_WIDTH; l++) {
        if (l <= position) pending[l] = fmaf(walk.w[l], gz, pending[l]);
      }
      if (u < end) {
#pragma unroll
        for (int l = 0; l < KCONV_MAX_WIDTH; l++) dw[l] = fmaf(gz, walk.kw[l], dw[l]);
      }
    }
    long done = u - (KCONV_MAX_WIDTH - 1);
    if (done >= first && done < end) {
      dk[done * channels + c] =
          __float2bfloat16_rn(__bfloat162float(dout[done * channels + c]) + pending[KCONV_MAX_WIDTH - 1]);
    }
  }
  float* mine = partial + (long)blockIdx.x * width * channels;
#pragma unroll
  for (int l = 0; l < KCONV_MAX_WIDTH; l++) {
    if (l < width) mine[(long)l * channels + c] = dw[l];
  }
}

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
