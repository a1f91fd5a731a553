// MoBA attention forward (docs/moba.md, "Forward and the LSE convention"), a hybrid of the two
// designs FlashMoBA's paper weighs (docs/moba-cuda.md says why):
//   moba_fwd_past_d{64,128}: key-block-centric gather-and-densify over the *past* blocks. A CTA
//     takes one chunk of 64 query rows that all selected key block b (from the key-block lists of
//     moba_router.cu), gathers their q rows into a dense tile, and runs a FlashAttention-2 inner loop
//     over b's keys. Each (row, past block) result is written once, normalized, as a partial:
//     part_o [hn, R, topk-1, D] bf16 and part_lse [hn, R, topk-1] fp32, at the routing slot of b.
//     Every chunk costs the same (64 rows x B keys), so the grid load-balances by itself.
//   moba_fwd_own_d{64,128}: query-centric over the *own* block. A CTA owns 64 consecutive rows of one
//     head, attends to their own block causally with O in registers, then merges the partials of
//     each row's past blocks with the log-sum-exp rule and writes O (bf16) and LSE (fp32, natural
//     log of the softmax denominator of the scaled scores, [H, T]).
// Slices bound the partials' workspace: the host runs the forward as a sequence of slices, each
// hn heads [h0, h0+hn) by the R rows [ta, tb) of whole 64-row query tiles [q0, q1). Because every
// (head, block) list is sorted by token, a slice's rows are one contiguous run of each list;
// moba_fwd_plan finds those runs and their 64-row chunks, and the partials of one slice are merged
// before the next slice overwrites them.
// A row's output depends only on its own q row and its selected keys, in a fixed order: the forward
// is deterministic whatever the list order and the slicing.
#include "moba_fwd_tile.cuh"

namespace moba {

// One forward slice (see the top of the file): seg [hn*NB][2] the run [lo, hi) of past entries of
// each (head h0 + i / NB, block i % NB) list with rows in [ta, tb), chunk_off [hn*NB + 1] the
// exclusive scan of its 64-row chunks. grid: an upper bound of the chunk count
// (hn*NB + hn*R*(topk-1)/64); CTAs past chunk_off[hn*NB] exit.
template <int D>
__device__ void fwd_past(const bf16* __restrict__ q, const bf16* __restrict__ k,
                         const bf16* __restrict__ v, bf16* __restrict__ part_o,
                         float* __restrict__ part_lse, const int* __restrict__ lists,
                         const int* __restrict__ seg, const int* __restrict__ chunk_off,
                         const int* __restrict__ cu_seqlens, const int* __restrict__ cu_blocks,
                         int seqs, int heads, int kv_heads, int total_blocks, int block_size,
                         int topk, float scale, int h0, int hn, int ta, int tb) {
  extern __shared__ __align__(128) unsigned char smem[];
  const int pairs = hn * total_blocks;
  const int item = blockIdx.x;
  if (item >= chunk_off[pairs]) return;
  const int idx = find_segment(chunk_off, pairs, item);
  const int h = h0 + idx / total_blocks, b = idx % total_blocks, chunk = item - chunk_off[idx];
  const int s = find_segment(cu_blocks, seqs, b);
  const int key_lo = cu_seqlens[s] + (b - cu_blocks[s]) * block_size;
  const int key_hi = min(key_lo + block_size, cu_seqlens[s + 1]);
  const int e0 = seg[2 * idx] + chunk * kTile;
  const int rows = min(kTile, seg[2 * idx + 1] - e0);

  int* tok = reinterpret_cast<int*>(smem + FwdSmem<D>::tok);
  int* lo = reinterpret_cast<int*>(smem + FwdSmem<D>::lo);
  int* slot = reinterpret_cast<int*>(smem + FwdSmem<D>::slot);
  if (threadIdx.x < kTile) {
    int r = threadIdx.x, e = r < rows ? lists[e0 + r] : -1;
    tok[r] = r < rows ? e >> kSlotBits : -1;
    slot[r] = e & ((1 << kSlotBits) - 1);
    lo[r] = key_lo;
  }
  __syncthreads();
  load_q<D>(smem, q, heads, h);

  float acc[D / 8][4], m[2], l[2];
  attend<D>(smem, k, v, kv_heads, h / (heads / kv_heads), key_lo, key_hi, scale * kLog2e, acc, m,
            l);

  const int lane = threadIdx.x & 31, ra = (threadIdx.x >> 5) * 16 + (lane >> 2);
#pragma unroll
  for (int i = 0; i < 2; i++) {
    const int r = ra + 8 * i, t = tok[r];
    if (t < 0) continue;
    const size_t p = ((size_t)(h - h0) * (tb - ta) + (t - ta)) * (topk - 1) + slot[r];
    const float inv = 1.f / l[i];
    uint32_t* dst = reinterpret_cast<uint32_t*>(part_o + p * D) + (lane & 3);
#pragma unroll
    for (int n = 0; n < D / 8; n++) dst[n * 4] = pack_bf16(acc[n][2 * i] * inv, acc[n][2 * i + 1] * inv);
    if ((lane & 3) == 0) part_lse[p] = (m[i] + log2f(l[i])) * kLn2;
  }
}

// One forward slice: grid (q1 - q0, hn), query tile q0 + x of head h0 + y; the slice's rows
// [ta, tb) index the partials.
template <int D>
__device__ void fwd_own(const bf16* __restrict__ q, const bf16* __restrict__ k,
                        const bf16* __restrict__ v, bf16* __restrict__ o, float* __restrict__ lse,
                        const bf16* __restrict__ part_o, const float* __restrict__ part_lse,
                        const int* __restrict__ routing, const int* __restrict__ cu_seqlens,
                        const int* __restrict__ cu_qtiles, int seqs, int tokens, int heads,
                        int kv_heads, int block_size, int topk, float scale, int h0, int q0,
                        int ta, int tb) {
  extern __shared__ __align__(128) unsigned char smem[];
  const int h = h0 + blockIdx.y, tile = q0 + blockIdx.x;
  const int s = find_segment(cu_qtiles, seqs, tile);
  const int seq_start = cu_seqlens[s];
  const int t0 = seq_start + (tile - cu_qtiles[s]) * kTile;
  const int rows = min(kTile, cu_seqlens[s + 1] - t0);
  int* tok = reinterpret_cast<int*>(smem + FwdSmem<D>::tok);
  int* lo = reinterpret_cast<int*>(smem + FwdSmem<D>::lo);
  if (threadIdx.x < kTile) {
    int r = threadIdx.x, t = t0 + min(r, rows - 1);
    tok[r] = r < rows ? t : -1;
    lo[r] = seq_start + (t - seq_start) / block_size * block_size;  // own block start
  }
  __syncthreads();
  load_q<D>(smem, q, heads, h);
  const int key_lo = seq_start + (t0 - seq_start) / block_size * block_size;

  float acc[D / 8][4], m[2], l[2];
  attend<D>(smem, k, v, kv_heads, h / (heads / kv_heads), key_lo, t0 + rows, scale * kLog2e, acc,
            m, l);

  const int lane = threadIdx.x & 31, ra = (threadIdx.x >> 5) * 16 + (lane >> 2);
#pragma unroll
  for (int i = 0; i < 2; i++) {
    const int r = ra + 8 * i, t = tok[r];
    if (t < 0) continue;
    // Merge the own block (lse0, acc / l) with the normalized past partials by their LSEs.
    const float lse0 = (m[i] + log2f(l[i])) * kLn2;
    const int own = (t - seq_start) / block_size;
    const int* rt = routing + ((size_t)h * tokens + t) * topk;
    const size_t p0 = ((size_t)(h - h0) * (tb - ta) + (t - ta)) * (topk - 1);
    int past = 0;
    float mx = lse0;
    while (past < topk - 1 && rt[past] >= 0 && rt[past] != own) mx = fmaxf(mx, part_lse[p0 + past++]);
    float w = expf(lse0 - mx), total = w;
    w /= l[i];
    float out[D / 8][2];
#pragma unroll
    for (int n = 0; n < D / 8; n++) {
      out[n][0] = acc[n][2 * i] * w;
      out[n][1] = acc[n][2 * i + 1] * w;
    }
    for (int sl = 0; sl < past; sl++) {
      float ws = expf(part_lse[p0 + sl] - mx);
      total += ws;
      const __nv_bfloat162* src =
          reinterpret_cast<const __nv_bfloat162*>(part_o + (p0 + sl) * D) + (lane & 3);
#pragma unroll
      for (int n = 0; n < D / 8; n++) {
        float2 x = __bfloat1622float2(src[n * 4]);
        out[n][0] += ws * x.x;
        out[n][1] += ws * x.y;
      }
    }
    const float inv = 1.f / total;
    uint32_t* dst = reinterpret_cast<uint32_t*>(o + ((size_t)t * heads + h) * D) + (lane & 3);
#pragma unroll
    for (int n = 0; n < D / 8; n++) dst[n * 4] = pack_bf16(out[n][0] * inv, out[n][1] * inv);
    if ((lane & 3) == 0) lse[(size_t)h * tokens + t] = mx + logf(total);
  }
}

}  // namespace moba

using namespace moba;

// The runs and chunk counts of one forward slice (see fwd_past): one thread per (head, block) of
// the slice, two binary searches in the (token-sorted) list; chunks [hn*NB] is scanned into
// chunk_off by the moba_scan_* kernels. grid ceil(hn*NB / 256) x 256.
extern "C" __global__ void moba_fwd_plan(const int* lists, const int* list_off, int* seg,
                                         int* chunks, const int* cu_seqlens, const int* cu_blocks,
                                         int seqs, int total_blocks, int block_size, int h0,
                                         int hn, int ta, int tb) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= hn * total_blocks) return;
  const int h = h0 + i / total_blocks, b = i % total_blocks;
  const int s = find_segment(cu_blocks, seqs, b);
  const int key_lo = cu_seqlens[s] + (b - cu_blocks[s]) * block_size;
  const int own_rows = min(block_size, cu_seqlens[s + 1] - key_lo);  // the list's first entries
  const int first = list_off[h * total_blocks + b] + own_rows, end = list_off[h * total_blocks + b + 1];
  // First entry of [first, end) whose token is >= t.
  auto lower = [&](int t) {
    int lo = first, hi = end;
    while (lo < hi) {
      const int mid = (lo + hi) >> 1;
      if ((lists[mid] >> kSlotBits) < t) lo = mid + 1; else hi = mid;
    }
    return lo;
  };
  const int a = lower(ta), z = lower(tb);
  seg[2 * i] = a;
  seg[2 * i + 1] = z;
  chunks[i] = (z - a + kTile - 1) / kTile;
}

#define MOBA_FWD(D)                                                                              \
  extern "C" __global__ void __launch_bounds__(kThreads, 3) moba_fwd_past_d##D(                    \
      const bf16* q, const bf16* k, const bf16* v, bf16* part_o, float* part_lse,               \
      const int* lists, const int* seg, const int* chunk_off, const int* cu_seqlens,            \
      const int* cu_blocks, int seqs, int heads, int kv_heads, int total_blocks,                \
      int block_size, int topk, float scale, int h0, int hn, int ta, int tb) {                  \
    fwd_past<D>(q, k, v, part_o, part_lse, lists, seg, chunk_off, cu_seqlens, cu_blocks, seqs,  \
                heads, kv_heads, total_blocks, block_size, topk, scale, h0, hn, ta, tb);        \
  }                                                                                             \
  extern "C" __global__ void __launch_bounds__(kThreads, 3) moba_fwd_own_d##D(                     \
      const bf16* q, const bf16* k, const bf16* v, bf16* o, float* lse, const bf16* part_o,     \
      const float* part_lse, const int* routing, const int* cu_seqlens, const int* cu_qtiles,   \
      int seqs, int tokens, int heads, int kv_heads, int block_size, int topk, float scale,     \
      int h0, int q0, int ta, int tb) {                                                         \
    fwd_own<D>(q, k, v, o, lse, part_o, part_lse, routing, cu_seqlens, cu_qtiles, seqs, tokens, \
               heads, kv_heads, block_size, topk, scale, h0, q0, ta, tb);                       \
  }
MOBA_FWD(64)
MOBA_FWD(128)
