// MoBA attention forward (docs/moba.md, "Forward and the LSE convention"), a hybrid of the two
// designs FlashMoBA's paper weighs (docs/moba-cuda.md says why):
//   moba_fwd_past_d{64,128} (B <= 128) and moba_fwd_past_wide_d{64,128} (B > 128):
//     key-block-centric gather-and-densify over the *past* blocks. A CTA takes a work item of query
//     rows that all selected key block b (from the key-block lists of moba_router.cu), gathers their
//     q rows into dense tiles, and runs a FlashAttention-2 inner loop over b's keys: up to 1024 rows
//     against K and V held in shared memory, each warp 32 rows at a time (B <= 128; on sm_90a, for
//     64 < B <= 128, the warpgroup 64 rows at a time on wgmma: moba_fwd_wgmma.cuh), or 64 rows with
//     K and V streamed through double-buffered stages (B > 128). Each
//     (row, past block) result is written once, normalized, as a partial: part_o [hn, R, topk-1, D]
//     bf16 and part_lse [hn, R, topk-1] fp32, at the routing slot of b. Every item but a run's
//     last costs the same (rows x B keys), so the grid load-balances by itself.
//   moba_fwd_own_d{64,128}: query-centric over the *own* block. A CTA owns 64 consecutive rows of one
//     head, attends to their own block causally with O in registers, then merges the partials of
//     each row's past blocks with the log-sum-exp rule and writes O (bf16) and LSE (fp32, natural
//     log of the softmax denominator of the scaled scores, [H, T]).
// Slices bound the partials' workspace: the host runs the forward as a sequence of slices, each
// hn heads [h0, h0+hn) by the R rows [ta, tb) of whole 64-row query tiles [q0, q1). Because every
// (head, block) list is sorted by token, a slice's rows are one contiguous run of each list;
// moba_fwd_plan finds those runs and their work items, and the partials of one slice are merged
// before the next slice overwrites them.
// A row's output depends only on its own q row and its selected keys, in a fixed order: the forward
// is deterministic whatever the list order and the slicing.
#include "moba_fwd_tile.cuh"
#include "moba_fwd_wgmma.cuh"

namespace moba {

// Block sizes up to kResidentKeys keep the block's K and V in shared memory for a whole work item
// of up to kItemRows rows of one (head, block) run: K and V are loaded once per item instead of
// once per 64-row chunk. Larger blocks stream K and V per 64-row chunk (fwd_past_wide).
constexpr int kResidentKeys = 128;
constexpr int kItemRows = 1024;
// Rows a warp takes at a time: two 16-row mma tiles, so that every K and V fragment read from
// shared memory feeds two mma (FlashAttention-2's 32 rows per warp) and each warp has two
// independent chains of work.
constexpr int kUnitRows = 32;

// Rows of a (head, block) run per work item (moba_fwd_plan, fwd_past, the host's grid bound).
__host__ __device__ constexpr int past_item_rows(int block_size) {
  return block_size <= kResidentKeys ? kItemRows : kTile;
}

template <int D>
struct PastSmem {
  static constexpr size_t k = 0;                                   // [128][D] bf16, the keys
  static constexpr size_t v = k + kResidentKeys * D * 2;           // [128][D] bf16
  static constexpr size_t q = v + kResidentKeys * D * 2;           // [4 warps][32][D] bf16
  static constexpr size_t tok = q + kThreads / 32 * kUnitRows * D * 2;  // [1024] int, item rows
  static constexpr size_t slot = tok + kItemRows * 4;              // [1024] int, routing slots
  static constexpr size_t bytes = slot + kItemRows * 4;
};

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
// On sm_90a, blocks of more than kWgmmaMinKeys keys take fwd_past_wgmma (one 128-key S tile per
// 64-row unit); smaller blocks would leave most of that tile masked, so they keep the mma.sync
// body. Both fit the same dynamic shared memory, so the host launches one kernel either way.
constexpr int kWgmmaMinKeys = 64;
static_assert(PastWgSmem<64>::bytes(kItemRows) <= PastSmem<64>::bytes, "wgmma layout of D = 64");
static_assert(PastWgSmem<128>::bytes(kItemRows) <= PastSmem<128>::bytes, "wgmma layout of D = 128");
static_assert(PastWgSmem<128>::kKeyRows == kResidentKeys, "one S tile holds a resident block");
#endif

// The block's keys [key_lo, key_lo + keys) of KV head g into K and V (one cp.async group); rows
// from `keys` up to the next multiple of 32 are zero.
template <int D>
__device__ __forceinline__ void stage_keys(unsigned char* smem, const bf16* __restrict__ k,
                                           const bf16* __restrict__ v, int kv_heads, int g,
                                           int key_lo, int keys) {
  constexpr int CH = D / 8;
  const size_t stride = (size_t)kv_heads * D;
  for (int i = threadIdx.x; i < (keys + kKeys - 1) / kKeys * kKeys * CH; i += blockDim.x) {
    const int r = i / CH, ch = i % CH;
    const bool valid = r < keys;
    const size_t src = (size_t)(key_lo + (valid ? r : 0)) * stride + (size_t)g * D + ch * 8;
    cp_async16(smem + PastSmem<D>::v + swz<CH>(r, ch), v + src, valid);
    cp_async16(smem + PastSmem<D>::k + swz<CH>(r, ch), k + src, valid);
  }
  cp_async_commit();
}

// c[x][n], c[x][n + 1] += a[x] * (the two n8 tiles of b) for both 16-row tiles x of a warp: one
// B fragment read from shared memory feeds four mma.
template <int N>
__device__ __forceinline__ void mma_both_tiles(float (*c)[N][4], int n, const uint32_t (*a)[4],
                                               const uint32_t* b) {
#pragma unroll
  for (int x = 0; x < 2; x++) {
    mma(c[x][n], a[x], b[0], b[1]);
    mma(c[x][n + 1], a[x], b[2], b[3]);
  }
}

// Online softmax of one warp's 32 q rows sq [32][D] (swizzled, two 16-row tiles x = 0, 1) over
// the `keys` resident keys of sk, sv (rows past `keys` are zero and masked), in 32-key steps as
// attend(). No barrier: K and V stay put. Leaves per tile x the thread's rows lane/4 (+8):
// acc[x] = sum p v, m[2x..] = running max (log2 units), l[2x..] = sum p.
template <int D>
__device__ __forceinline__ void attend_resident(const bf16* sq, const bf16* sk, const bf16* sv,
                                                int keys, float scale_log2, float acc[2][D / 8][4],
                                                float m[4], float l[4]) {
  constexpr int CH = D / 8;
  const int lane = threadIdx.x & 31;
#pragma unroll
  for (int x = 0; x < 2; x++)
#pragma unroll
    for (int n = 0; n < D / 8; n++) acc[x][n][0] = acc[x][n][1] = acc[x][n][2] = acc[x][n][3] = 0.f;
#pragma unroll
  for (int i = 0; i < 4; i++) { m[i] = -INFINITY; l[i] = 0.f; }
  for (int k0 = 0; k0 < keys; k0 += kKeys) {
    const bf16* tk = sk + k0 * D;
    const bf16* tv = sv + k0 * D;
    float s[2][kKeys / 8][4];  // scores of the two tiles' 16 rows x 32 keys
#pragma unroll
    for (int x = 0; x < 2; x++)
#pragma unroll
      for (int n = 0; n < kKeys / 8; n++) s[x][n][0] = s[x][n][1] = s[x][n][2] = s[x][n][3] = 0.f;
#pragma unroll
    for (int ks = 0; ks < D / 16; ks++) {
      uint32_t qa[2][4];
      ldsm_x4(qa[0], frag_a<CH>(sq, 0, ks * 2, lane));
      ldsm_x4(qa[1], frag_a<CH>(sq, 16, ks * 2, lane));
#pragma unroll
      for (int np = 0; np < kKeys / 16; np++) {
        uint32_t b[4];
        ldsm_x4(b, frag_b<CH>(tk, np * 16, ks * 2, lane));
        mma_both_tiles(s, 2 * np, qa, b);
      }
    }
#pragma unroll
    for (int x = 0; x < 2; x++) {
      float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
      for (int n = 0; n < kKeys / 8; n++)
#pragma unroll
        for (int e = 0; e < 4; e++) {
          const int key = k0 + n * 8 + (lane & 3) * 2 + (e & 1), i = e >> 1;
          s[x][n][e] = key < keys ? s[x][n][e] * scale_log2 : -INFINITY;
          mx[i] = fmaxf(mx[i], s[x][n][e]);
        }
      // Key 0 of the block is in the first step, so m is finite from then on (no -inf guard).
      float alpha[2];
#pragma unroll
      for (int i = 0; i < 2; i++) {
        mx[i] = fmaxf(mx[i], __shfl_xor_sync(0xffffffffu, mx[i], 1));
        mx[i] = fmaxf(mx[i], __shfl_xor_sync(0xffffffffu, mx[i], 2));
        const float mn = fmaxf(m[2 * x + i], mx[i]);
        alpha[i] = exp2f(m[2 * x + i] - mn);
        m[2 * x + i] = mn;
      }
      float rs[2] = {0.f, 0.f};
#pragma unroll
      for (int n = 0; n < kKeys / 8; n++)
#pragma unroll
        for (int e = 0; e < 4; e++) {
          s[x][n][e] = exp2f(s[x][n][e] - m[2 * x + (e >> 1)]);
          rs[e >> 1] += s[x][n][e];
        }
#pragma unroll
      for (int i = 0; i < 2; i++) l[2 * x + i] = l[2 * x + i] * alpha[i] + rs[i];
#pragma unroll
      for (int n = 0; n < D / 8; n++) {
        acc[x][n][0] *= alpha[0];
        acc[x][n][1] *= alpha[0];
        acc[x][n][2] *= alpha[1];
        acc[x][n][3] *= alpha[1];
      }
    }
#pragma unroll
    for (int kk = 0; kk < kKeys / 16; kk++) {
      uint32_t a[2][4];
#pragma unroll
      for (int x = 0; x < 2; x++) {
        a[x][0] = pack_bf16(s[x][2 * kk][0], s[x][2 * kk][1]);
        a[x][1] = pack_bf16(s[x][2 * kk][2], s[x][2 * kk][3]);
        a[x][2] = pack_bf16(s[x][2 * kk + 1][0], s[x][2 * kk + 1][1]);
        a[x][3] = pack_bf16(s[x][2 * kk + 1][2], s[x][2 * kk + 1][3]);
      }
#pragma unroll
      for (int dp = 0; dp < D / 16; dp++) {
        uint32_t b[4];
        ldsm_x4_t(b, frag_bt<CH>(tv, kk * 16, dp * 2, lane));
        mma_both_tiles(acc, 2 * dp, a, b);
      }
    }
  }
#pragma unroll
  for (int i = 0; i < 4; i++) {
    l[i] += __shfl_xor_sync(0xffffffffu, l[i], 1);
    l[i] += __shfl_xor_sync(0xffffffffu, l[i], 2);
  }
}

// Writes the normalized partial of rows r = ra, ra + 8 of the warp's 16 (tok[r] < 0: empty row).
template <int D>
__device__ __forceinline__ void write_partial(bf16* __restrict__ part_o, float* __restrict__ part_lse,
                                              const int* tok, const int* slot, int h, int h0,
                                              int ta, int tb, int topk, const float acc[D / 8][4],
                                              const float m[2], const float l[2]) {
  const int lane = threadIdx.x & 31, ra = lane >> 2;
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

// One forward slice (see the top of the file): seg [hn*NB][2] the run [lo, hi) of past entries of
// each (head h0 + i / NB, block i % NB) list with rows in [ta, tb), chunk_off [hn*NB + 1] the
// exclusive scan of its work items (moba_fwd_plan: past_item_rows(B) rows each). grid: an upper
// bound of the item count (hn*NB + hn*R*(topk-1) / past_item_rows(B)); CTAs past
// chunk_off[hn*NB] exit.
struct PastItem {
  int h, key_lo, key_hi, first, end;  // the item is entries [first, end) of head h's list
};
__device__ __forceinline__ bool past_item(const int* __restrict__ seg,
                                          const int* __restrict__ chunk_off,
                                          const int* __restrict__ cu_seqlens,
                                          const int* __restrict__ cu_blocks, int seqs,
                                          int total_blocks, int block_size, int h0, int hn,
                                          PastItem& it) {
  const int pairs = hn * total_blocks;
  const int item = blockIdx.x;
  if (item >= chunk_off[pairs]) return false;
  const int idx = find_segment(chunk_off, pairs, item);
  it.h = h0 + idx / total_blocks;
  const int b = idx % total_blocks;
  const int s = find_segment(cu_blocks, seqs, b);
  it.key_lo = cu_seqlens[s] + (b - cu_blocks[s]) * block_size;
  it.key_hi = min(it.key_lo + block_size, cu_seqlens[s + 1]);
  const int span = past_item_rows(block_size);
  it.first = seg[2 * idx] + (item - chunk_off[idx]) * span;
  it.end = min(it.first + span, seg[2 * idx + 1]);
  return true;
}

// B <= kResidentKeys: one CTA per item of up to kItemRows rows of one (h, b) run. The item's list
// entries and the block's K, V are staged once; then each warp takes 32-row units w, w + 4, ...
// on its own (no CTA barrier): gathers the unit's q rows into its own tile, attends, writes.
template <int D>
__device__ void fwd_past(const bf16* __restrict__ q, const bf16* __restrict__ k,
                         const bf16* __restrict__ v, bf16* __restrict__ part_o,
                         float* __restrict__ part_lse, const int* __restrict__ lists,
                         const int* __restrict__ seg, const int* __restrict__ chunk_off,
                         const int* __restrict__ cu_seqlens, const int* __restrict__ cu_blocks,
                         int seqs, int heads, int kv_heads, int total_blocks, int block_size,
                         int topk, float scale, int h0, int hn, int ta, int tb) {
  extern __shared__ __align__(128) unsigned char smem[];
  constexpr int CH = D / 8, kWarps = kThreads / 32;
  PastItem it;
  if (!past_item(seg, chunk_off, cu_seqlens, cu_blocks, seqs, total_blocks, block_size, h0, hn, it))
    return;
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  if (block_size > kWgmmaMinKeys) {
    fwd_past_wgmma<D>(q, k, v, part_o, part_lse, lists, it.h, it.key_lo, it.key_hi - it.key_lo,
                      it.first, it.end, heads, kv_heads, topk, scale, h0, ta, tb);
    return;
  }
#endif
  int* tok = reinterpret_cast<int*>(smem + PastSmem<D>::tok);
  int* slot = reinterpret_cast<int*>(smem + PastSmem<D>::slot);
  const int count = it.end - it.first, units = (count + kUnitRows - 1) / kUnitRows;
  for (int r = threadIdx.x; r < units * kUnitRows; r += kThreads) {
    const int e = r < count ? lists[it.first + r] : -1;
    tok[r] = r < count ? e >> kSlotBits : -1;
    slot[r] = e & ((1 << kSlotBits) - 1);
  }
  const int keys = it.key_hi - it.key_lo;
  stage_keys<D>(smem, k, v, kv_heads, it.h / (heads / kv_heads), it.key_lo, keys);
  cp_async_wait<0>();
  __syncthreads();
  const bf16* sk = reinterpret_cast<const bf16*>(smem + PastSmem<D>::k);
  const bf16* sv = reinterpret_cast<const bf16*>(smem + PastSmem<D>::v);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  unsigned char* sq = smem + PastSmem<D>::q + warp * kUnitRows * D * 2;
  for (int u = warp; u < units; u += kWarps) {
    const int* ut = tok + u * kUnitRows;
    __syncwarp();  // every lane is done reading the previous unit's rows from sq
    for (int i = lane; i < kUnitRows * CH; i += 32) {
      const int r = i / CH, c = i % CH, t = ut[r];
      cp_async16(sq + swz<CH>(r, c), q + ((size_t)max(t, 0) * heads + it.h) * D + c * 8, t >= 0);
    }
    cp_async_commit();
    cp_async_wait<0>();
    __syncwarp();
    float acc[2][D / 8][4], m[4], l[4];
    attend_resident<D>(reinterpret_cast<const bf16*>(sq), sk, sv, keys, scale * kLog2e, acc, m, l);
#pragma unroll
    for (int x = 0; x < 2; x++)
      write_partial<D>(part_o, part_lse, ut + 16 * x, slot + u * kUnitRows + 16 * x, it.h, h0, ta,
                       tb, topk, acc[x], m + 2 * x, l + 2 * x);
  }
}

// B > kResidentKeys: one CTA per 64-row chunk, K and V streamed through attend()'s 32-key stages.
template <int D>
__device__ void fwd_past_wide(const bf16* __restrict__ q, const bf16* __restrict__ k,
                              const bf16* __restrict__ v, bf16* __restrict__ part_o,
                              float* __restrict__ part_lse, const int* __restrict__ lists,
                              const int* __restrict__ seg, const int* __restrict__ chunk_off,
                              const int* __restrict__ cu_seqlens, const int* __restrict__ cu_blocks,
                              int seqs, int heads, int kv_heads, int total_blocks, int block_size,
                              int topk, float scale, int h0, int hn, int ta, int tb) {
  extern __shared__ __align__(128) unsigned char smem[];
  PastItem it;
  if (!past_item(seg, chunk_off, cu_seqlens, cu_blocks, seqs, total_blocks, block_size, h0, hn, it))
    return;
  const int rows = it.end - it.first;
  int* tok = reinterpret_cast<int*>(smem + FwdSmem<D>::tok);
  int* lo = reinterpret_cast<int*>(smem + FwdSmem<D>::lo);
  int* slot = reinterpret_cast<int*>(smem + FwdSmem<D>::slot);
  if (threadIdx.x < kTile) {
    int r = threadIdx.x, e = r < rows ? lists[it.first + r] : -1;
    tok[r] = r < rows ? e >> kSlotBits : -1;
    slot[r] = e & ((1 << kSlotBits) - 1);
    lo[r] = it.key_lo;
  }
  __syncthreads();
  load_q<D>(smem, q, heads, it.h);

  float acc[D / 8][4], m[2], l[2];
  attend<D>(smem, k, v, kv_heads, it.h / (heads / kv_heads), it.key_lo, it.key_hi, scale * kLog2e,
            acc, m, l);
  const int w16 = (threadIdx.x >> 5) * 16;
  write_partial<D>(part_o, part_lse, tok + w16, slot + w16, it.h, h0, ta, tb, topk, acc, m, l);
}

// Slots of a row whose routing entries and LSEs, and then whose partials, the merge loads in one
// round of independent loads (a dependent chain per slot would pay a memory latency per slot).
constexpr int kMergeLseSlots = 8;
constexpr int kMergePartSlots = 4;

// Merges the own-block result of the thread's rows t[i] (tile rows lane/4 and lane/4 + 8 of its
// warp; t < 0: empty row) -- acc / l with LSE (m + log2 l) ln 2, the mma accumulator layout --
// with the row's normalized past partials of this slice by their LSEs; writes O and LSE. stage:
// the warp's [16][D + 4] fp32 of shared memory.
template <int D>
__device__ __forceinline__ void merge_past(bf16* __restrict__ o, float* __restrict__ lse,
                                           const bf16* __restrict__ part_o,
                                           const float* __restrict__ part_lse,
                                           const int* __restrict__ routing, int tokens, int heads,
                                           int block_size, int topk, int h, int h0, int ta, int tb,
                                           int seq_start, int t0, int t1, const float acc[D / 8][4],
                                           const float m[2], const float l[2], float* stage) {
  const int lane = threadIdx.x & 31, t[2] = {t0, t1};
  float lse0[2], mx[2];
  int past[2];
  size_t p0[2];
#pragma unroll
  for (int i = 0; i < 2; i++) {
    lse0[i] = (m[i] + log2f(l[i])) * kLn2;
    mx[i] = lse0[i];
    past[i] = 0;
    p0[i] = ((size_t)(h - h0) * (tb - ta) + (t[i] - ta)) * (topk - 1);
  }
  // A routing row is ascending with the own block last, then -1: its past slots are the entries
  // before the own block, a prefix.
  for (int s0 = 0; s0 < topk - 1; s0 += kMergeLseSlots) {
    int blk[2][kMergeLseSlots];
    float pl[2][kMergeLseSlots];
#pragma unroll
    for (int i = 0; i < 2; i++)
#pragma unroll
      for (int j = 0; j < kMergeLseSlots; j++) {
        const bool in = t[i] >= 0 && s0 + j < topk - 1;
        blk[i][j] = in ? routing[((size_t)h * tokens + t[i]) * topk + s0 + j] : -1;
        pl[i][j] = in ? part_lse[p0[i] + s0 + j] : -INFINITY;
      }
#pragma unroll
    for (int i = 0; i < 2; i++) {
      const int own = (t[i] - seq_start) / block_size;
#pragma unroll
      for (int j = 0; j < kMergeLseSlots; j++)
        if (blk[i][j] >= 0 && blk[i][j] != own) {
          past[i]++;
          mx[i] = fmaxf(mx[i], pl[i][j]);
        }
    }
  }
  // The sum runs in 16-byte column chunks: lane c of a row's quad holds chunks 4k + c (columns
  // 8(4k + c) ..+7), so that each partial is read, and O written, by 16-byte accesses (4-byte
  // accesses of the accumulator layout made the merge L1-bound). The own block's weighted output
  // changes layout through the warp's stage [16][D + 4] fp32.
  constexpr int CK = D / 32, kStride = D + 4;
  const int g = lane >> 2, c = lane & 3;
  float total[2];
#pragma unroll
  for (int i = 0; i < 2; i++) {
    const float w = expf(lse0[i] - mx[i]);
    total[i] = w;
    const float wl = w / l[i];
#pragma unroll
    for (int n = 0; n < D / 8; n++)
      *reinterpret_cast<float2*>(stage + (g + 8 * i) * kStride + 8 * n + 2 * c) =
          make_float2(acc[n][2 * i] * wl, acc[n][2 * i + 1] * wl);
  }
  __syncwarp();
#pragma unroll
  for (int i = 0; i < 2; i++) {
    if (t[i] < 0) continue;
    float out[CK][8];
#pragma unroll
    for (int k = 0; k < CK; k++) {
      const float4* src = reinterpret_cast<const float4*>(stage + (g + 8 * i) * kStride + (4 * k + c) * 8);
      const float4 a = src[0], b = src[1];
      out[k][0] = a.x; out[k][1] = a.y; out[k][2] = a.z; out[k][3] = a.w;
      out[k][4] = b.x; out[k][5] = b.y; out[k][6] = b.z; out[k][7] = b.w;
    }
    for (int s0 = 0; s0 < past[i]; s0 += kMergePartSlots) {
      uint4 x[kMergePartSlots][CK];
      float pl[kMergePartSlots];
#pragma unroll
      for (int j = 0; j < kMergePartSlots; j++) {
        if (s0 + j >= past[i]) continue;
        const size_t p = p0[i] + s0 + j;
        pl[j] = part_lse[p];
#pragma unroll
        for (int k = 0; k < CK; k++) x[j][k] = *reinterpret_cast<const uint4*>(part_o + p * D + (4 * k + c) * 8);
      }
#pragma unroll
      for (int j = 0; j < kMergePartSlots; j++) {
        if (s0 + j >= past[i]) continue;
        const float ws = expf(pl[j] - mx[i]);
        total[i] += ws;
#pragma unroll
        for (int k = 0; k < CK; k++) {
          const uint32_t xw[4] = {x[j][k].x, x[j][k].y, x[j][k].z, x[j][k].w};
#pragma unroll
          for (int e = 0; e < 4; e++) {
            const float2 xf = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&xw[e]));
            out[k][2 * e] += ws * xf.x;
            out[k][2 * e + 1] += ws * xf.y;
          }
        }
      }
    }
    const float inv = 1.f / total[i];
    bf16* dst = o + ((size_t)t[i] * heads + h) * D;
#pragma unroll
    for (int k = 0; k < CK; k++)
      *reinterpret_cast<uint4*>(dst + (4 * k + c) * 8) =
          make_uint4(pack_bf16(out[k][0] * inv, out[k][1] * inv), pack_bf16(out[k][2] * inv, out[k][3] * inv),
                     pack_bf16(out[k][4] * inv, out[k][5] * inv), pack_bf16(out[k][6] * inv, out[k][7] * inv));
    if (c == 0) lse[(size_t)h * tokens + t[i]] = mx[i] + logf(total[i]);
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

  const int ra = (threadIdx.x >> 5) * 16 + ((threadIdx.x & 31) >> 2);
  // attend() ended on a barrier after its last reads of the q tile and K/V stages: they are free
  // for the merge's per-warp stages of 16 rows x (D + 4) fp32.
  static_assert(4 * 16 * (D + 4) * 4 <= FwdSmem<D>::tok - FwdSmem<D>::q, "merge stages");
  float* stage = reinterpret_cast<float*>(smem + FwdSmem<D>::q) + (threadIdx.x >> 5) * 16 * (D + 4);
  merge_past<D>(o, lse, part_o, part_lse, routing, tokens, heads, block_size, topk, h, h0, ta, tb,
                seq_start, tok[ra], tok[ra + 8], acc, m, l, stage);
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
  const int span = past_item_rows(block_size);
  chunks[i] = (z - a + span - 1) / span;
}

#define MOBA_FWD(D)                                                                              \
  extern "C" __global__ void __launch_bounds__(kThreads, 2) moba_fwd_past_d##D(                    \
      const bf16* q, const bf16* k, const bf16* v, bf16* part_o, float* part_lse,               \
      const int* lists, const int* seg, const int* chunk_off, const int* cu_seqlens,            \
      const int* cu_blocks, int seqs, int heads, int kv_heads, int total_blocks,                \
      int block_size, int topk, float scale, int h0, int hn, int ta, int tb) {                  \
    fwd_past<D>(q, k, v, part_o, part_lse, lists, seg, chunk_off, cu_seqlens, cu_blocks, seqs,  \
                heads, kv_heads, total_blocks, block_size, topk, scale, h0, hn, ta, tb);        \
  }                                                                                             \
  extern "C" __global__ void __launch_bounds__(kThreads, 3) moba_fwd_past_wide_d##D(               \
      const bf16* q, const bf16* k, const bf16* v, bf16* part_o, float* part_lse,               \
      const int* lists, const int* seg, const int* chunk_off, const int* cu_seqlens,            \
      const int* cu_blocks, int seqs, int heads, int kv_heads, int total_blocks,                \
      int block_size, int topk, float scale, int h0, int hn, int ta, int tb) {                  \
    fwd_past_wide<D>(q, k, v, part_o, part_lse, lists, seg, chunk_off, cu_seqlens, cu_blocks,   \
                     seqs, heads, kv_heads, total_blocks, block_size, topk, scale, h0, hn, ta,  \
                     tb);                                                                       \
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
