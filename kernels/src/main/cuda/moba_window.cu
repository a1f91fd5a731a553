// Sliding-window attention (AttentionKind.SLIDING: row t sees keys t - window < key <= t of its own
// sequence) on the MoBA kernels' tiles, laid out as DENSE is: one block per sequence, in multiples of
// 128 keys (MobaGeometry), no routing, no lists, no partials. docs/moba-cuda.md, "Sliding window".
//   moba_fwd_window_d{64,128}: moba_fwd_tile.cuh's attend over the keys of a 64-row query tile's
//     windows, with the row's window start as its lower bound (the own-block kernel's loop with
//     t - window + 1 in place of the block start). O and LSE as moba_fwd_own writes them.
//   moba_bwd_window_d64_k64, moba_bwd_window_d128_k128: moba_bwd_tile.cuh's key tile with
//     WINDOW = true: a tile [kt0, kt_hi) walks the consecutive rows kt0 .. kt_hi + window - 2 of its
//     sequence (the only rows whose window holds one of its keys) instead of a list, and masks
//     key > t - window beside the causal mask. moba_bwd.cu's delta and dq_convert, and its slices,
//     serve it unchanged.
// The shapes (keys per forward step, key tile, CTAs per SM) are the fastest of swa_lab.cu's
// candidates at the trainer's D = 64, W = 256 (docs/perf/moba.md, "Sliding window"); D = 128 keeps
// the MoBA tiles' shapes, unmeasured there. MobaKernelShapes mirrors them for the host.
// These entry points live apart from moba_fwd.cu and moba_bwd.cu so that the MoBA and DENSE kernels
// compile to the same SASS as before they existed (a second instantiation of the tiles in one file
// moves nvcc's instruction order in theirs).
#include "moba_bwd_tile.cuh"
#include "moba_fwd_tile.cuh"

namespace moba {

// Sliding-window forward: grid (query tiles, H), one CTA per 64 consecutive rows of one head; row t
// sees keys max(seq_start, t - window + 1) .. t (window >= 1, clamped by the host to the longest
// sequence). attend's per-row lower bound `lo` is the window's start instead of a block start, so
// the keys walked are those of the tile's first row's window up to its last row: window + 63 at most,
// in steps of KEYS.
template <int D, int KEYS>
__device__ void fwd_window(const bf16* __restrict__ q, const bf16* __restrict__ k,
                           const bf16* __restrict__ v, bf16* __restrict__ o, float* __restrict__ lse,
                           const int* __restrict__ cu_seqlens, const int* __restrict__ cu_qtiles,
                           int seqs, int tokens, int heads, int kv_heads, int window, float scale) {
  extern __shared__ __align__(128) unsigned char smem[];
  const int h = blockIdx.y, tile = blockIdx.x;
  const int s = find_segment(cu_qtiles, seqs, tile);
  const int seq_start = cu_seqlens[s];
  const int t0 = seq_start + (tile - cu_qtiles[s]) * kTile;
  const int rows = min(kTile, cu_seqlens[s + 1] - t0);
  int* tok = reinterpret_cast<int*>(smem + FwdSmem<D, KEYS>::tok);
  int* lo = reinterpret_cast<int*>(smem + FwdSmem<D, KEYS>::lo);
  if (threadIdx.x < kTile) {
    int r = threadIdx.x, t = t0 + min(r, rows - 1);
    tok[r] = r < rows ? t : -1;
    lo[r] = max(seq_start, t - window + 1);
  }
  __syncthreads();
  load_q<D, KEYS>(smem, q, heads, h);

  float acc[D / 8][4], m[2], l[2];
  attend<D, KEYS>(smem, k, v, kv_heads, h / (heads / kv_heads), max(seq_start, t0 - window + 1),
                  t0 + rows, scale * kLog2e, acc, m, l);

  const int lane = threadIdx.x & 31, ra = (threadIdx.x >> 5) * 16 + (lane >> 2);
#pragma unroll
  for (int i = 0; i < 2; i++) {
    const int r = ra + 8 * i, t = tok[r];
    if (t < 0) continue;
    const float inv = 1.f / l[i];  // l >= 1: every row sees its own key
    uint32_t* dst = reinterpret_cast<uint32_t*>(o + ((size_t)t * heads + h) * D) + (lane & 3);
#pragma unroll
    for (int n = 0; n < D / 8; n++) dst[n * 4] = pack_bf16(acc[n][2 * i] * inv, acc[n][2 * i + 1] * inv);
    if ((lane & 3) == 0) lse[(size_t)h * tokens + t] = (m[i] + log2f(l[i])) * kLn2;
  }
}

}  // namespace moba

using namespace moba;

// D = 64: 64 keys a step, 4 CTAs per SM (0.378 ms against 0.428 with MoBA's 32 keys and 3 CTAs at
// the trainer's shape; 128 ptxas registers with a 24-byte spill, which 3 CTAs avoid at 0.387 ms).
#define MOBA_FWD_WINDOW(D, KEYS, CTAS)                                                           \
  extern "C" __global__ void __launch_bounds__(kThreads, CTAS) moba_fwd_window_d##D(               \
      const bf16* q, const bf16* k, const bf16* v, bf16* o, float* lse, const int* cu_seqlens,  \
      const int* cu_qtiles, int seqs, int tokens, int heads, int kv_heads, int window,          \
      float scale) {                                                                            \
    fwd_window<D, KEYS>(q, k, v, o, lse, cu_seqlens, cu_qtiles, seqs, tokens, heads, kv_heads,  \
                        window, scale);                                                         \
  }
MOBA_FWD_WINDOW(64, 64, 4)
MOBA_FWD_WINDOW(128, kKeys, 3)

// D = 64: a 64-key tile (one warpgroup) at 3 CTAs per SM walks 64 + W - 1 rows per 64 keys instead of
// 128 + W - 1 per 128 (at W = 256 every 32-row chunk sees its keys: no idle half), 0.825 ms against
// 1.10 for the 128-key tile at 1 CTA per SM. The 128-key tile under 2 CTAs per SM (0.984) spills and
// serializes its wgmmas at 128 registers. Both tiles divide SLIDING's block (a multiple of 128).
#define MOBA_BWD_WINDOW(D, KT, CTAS)                                                             \
  extern "C" __global__ void __launch_bounds__(2 * KT, CTAS) moba_bwd_window_d##D##_k##KT(       \
      const bf16* q, const bf16* k, const bf16* v, const bf16* dout, const float* lse,          \
      const float* delta, float* dq_acc, bf16* dk, bf16* dv, const int* cu_seqlens,             \
      const int* cu_blocks, int seqs, int tokens, int heads, int kv_heads, int total_blocks,    \
      int block_size, int window, float scale, int b0, int g0, int ta) {                        \
    bwd_main<D, KT, true>(q, k, v, dout, lse, delta, nullptr, nullptr, dq_acc, dk, dv,          \
                          cu_seqlens, cu_blocks, seqs, tokens, heads, kv_heads, total_blocks,   \
                          block_size, window, scale, b0, g0, ta);                               \
  }
MOBA_BWD_WINDOW(64, 64, 3)
MOBA_BWD_WINDOW(128, 128, 1)
