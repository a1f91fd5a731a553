// The backward key tile shared by moba_bwd.cu (MoBA and DENSE: rows from the key-block lists) and
// moba_window.cu (SLIDING: rows from the window); see the top of moba_bwd.cu.
//
// A chunk of 32 gathered query rows goes through the phases S^T, dP^T -> P, dS -> dV, dK -> dS^T
// to shared memory -> dQ = dS K and its atomics. The walk is pipelined across chunks so that each
// chunk needs one CTA barrier (docs/moba-cuda.md, "Backward"): in the step of chunk c,
//   - the list entries of chunk c+2 and the rows (q, dO, lse, delta) of chunk c+1 are in flight
//     (cp.async; the rows are gathered from entries that landed one step earlier, so no thread
//     waits on a global load to form an address);
//   - dQ of chunk c-1 is formed from its dS^T (double-buffered) while chunk c's S^T and dP^T run;
//   - on sm_90a S^T and dP^T are wgmma (both operands in shared memory) and dV, dK are wgmma with P
//     and dS as register A operands, still running when the next step starts: the q/dO stages are
//     three deep so that chunk c+1's gather never overwrites what chunk c-1's wgmma may still read;
//     with D = KT = 128 dQ of chunk c-1 is staged in shared memory and added into dq_acc by
//     16-byte atomics in step c+1, after the barrier that makes the whole chunk's rows visible.
#pragma once
#include <type_traits>

#include "moba_bwd_wgmma.cuh"
#include "moba_common.cuh"

namespace moba {

// 2^x by the SFU alone: exp2f's ex2.approx.f32 with subnormal results flushed to zero, which
// spares its subnormal fix-up (a compare and two multiplies). P below 2^-126 adds nothing that a
// bf16 gradient can hold.
__device__ __forceinline__ float exp2_ftz(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}

constexpr int kChunk = 32;     // gathered query rows per step
constexpr int kRowStages = 3;  // q, dO, lse, delta of chunks c-1 (wgmma may read), c, c+1
constexpr int kEntryRing = 4;  // list entries of chunks c-1 (dQ), c, c+1, c+2

// K, V, q and dO tiles are in the slab layout (swz_slab), 1 KiB aligned for wgmma; `bytes` adds
// the 1 KiB the kernel may skip to align the dynamic shared memory.
template <int D, int KT>
struct BwdSmem {
  static constexpr size_t k = 0;                                   // [KT][D] bf16
  static constexpr size_t v = k + KT * D * 2;                      // [KT][D] bf16
  static constexpr size_t q = v + KT * D * 2;                      // [3][32][D] bf16
  static constexpr size_t dout = q + kRowStages * kChunk * D * 2;  // [3][32][D] bf16
  static constexpr size_t ds = dout + kRowStages * kChunk * D * 2; // [2][KT][32] bf16, dS^T
  static constexpr size_t ent = ds + 2 * KT * kChunk * 2;          // [4][32] int list entries
  static constexpr size_t lse = ent + kEntryRing * kChunk * 4;     // [3][32] fp32
  static constexpr size_t delta = lse + kRowStages * kChunk * 4;   // [3][32] fp32
  static constexpr size_t bytes = delta + kRowStages * kChunk * 4 + 1024;
  // The sm_90a tile with D = KT = 128 (staged_dq) also stages dQ of two chunks, so that a warp
  // adds a row's D values with 16-byte atomics: rows of D fp32 padded by 16 bytes (the
  // accumulator's stores then hit 32 banks), and the chunks' tokens.
  static constexpr size_t dq = delta + kRowStages * kChunk * 4;     // [2][32][D + 4] fp32
  static constexpr size_t dq_tok = dq + 2 * kChunk * (D + 4) * 4;  // [2][32] int
  static constexpr size_t bytes_staged_dq = dq_tok + 2 * kChunk * 4 + 1024;
};
// Whether the tile of this shape stages dQ where wgmma is compiled in (the host sizes shared
// memory by it: BwdSmem::bytes_staged_dq on the sm_90a image).
__host__ __device__ constexpr bool staged_dq(int d, int kt) { return d == 128 && kt == 128; }

// grid ((b1 - b0) * ceil(B/KT), gn), 2*KT threads; the slice of the top of moba_bwd.cu. WINDOW:
// rows come from the window (lists and list_off unused), window >= 1 clamped by the host to the
// longest sequence; else window is unused.
template <int D, int KT, bool WINDOW>
__device__ void bwd_main(const bf16* __restrict__ q, const bf16* __restrict__ k,
                         const bf16* __restrict__ v, const bf16* __restrict__ dout,
                         const float* __restrict__ lse, const float* __restrict__ delta,
                         const int* __restrict__ lists, const int* __restrict__ list_off,
                         float* __restrict__ dq_acc, bf16* __restrict__ dk, bf16* __restrict__ dv,
                         const int* __restrict__ cu_seqlens, const int* __restrict__ cu_blocks,
                         int seqs, int tokens, int heads, int kv_heads, int total_blocks,
                         int block_size, int window, float scale, int b0, int g0, int ta) {
  static_assert(!WINDOW || KT == 128 || KT == 64, "the window's idle halves are the warpgroups' 64 keys");
  constexpr int CH = D / 8, NT = 2 * KT;
  using Smem = BwdSmem<D, KT>;
  extern __shared__ __align__(1024) unsigned char smem_raw[];
  unsigned char* smem = smem_raw + ((1024u - (smem_addr(smem_raw) & 1023u)) & 1023u);
  bf16* sk = reinterpret_cast<bf16*>(smem + Smem::k);
  bf16* sv = reinterpret_cast<bf16*>(smem + Smem::v);
  int* sent = reinterpret_cast<int*>(smem + Smem::ent);
  float* slse = reinterpret_cast<float*>(smem + Smem::lse);
  float* sdelta = reinterpret_cast<float*>(smem + Smem::delta);

  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int tiles_per_block = (block_size + KT - 1) / KT;
  const int b = b0 + blockIdx.x / tiles_per_block, sub = blockIdx.x % tiles_per_block;
  const int g = g0 + blockIdx.y;
  const int s = find_segment(cu_blocks, seqs, b);
  const int block_start = cu_seqlens[s] + (b - cu_blocks[s]) * block_size;
  const int block_end = min(block_start + block_size, cu_seqlens[s + 1]);
  const int kt0 = block_start + sub * KT;
  if (kt0 >= block_end) return;
  const int kt_hi = min(kt0 + KT, block_end);
  const size_t kv_stride = (size_t)kv_heads * D;
  const int group = heads / kv_heads, slice_heads = gridDim.y * group;
  const float scale_log2 = scale * kLog2e;

  for (int i = tid; i < KT * CH; i += NT) {
    int r = i / CH, c = i % CH, key = kt0 + r;
    bool valid = key < kt_hi;
    size_t src = (size_t)(valid ? key : kt0) * kv_stride + (size_t)g * D + c * 8;
    cp_async16(reinterpret_cast<char*>(sk) + swz_slab<CH, KT>(r, c), k + src, valid);
    cp_async16(reinterpret_cast<char*>(sv) + swz_slab<CH, KT>(r, c), v + src, valid);
  }
  cp_async_commit();

  // The thread's dK, dV: keys warp*16 + lane/4 (+8) x D, element (n, e) of the n8 column tile n
  // at [4n + e] (the mma.sync accumulator fragment, which is also wgmma's for m64nD).
  float dk_acc[D / 2], dv_acc[D / 2];
#pragma unroll
  for (int i = 0; i < D / 2; i++) dk_acc[i] = dv_acc[i] = 0.f;
  // P and dS of the last chunk as bf16 A fragments; on sm_90a its dV, dK wgmma read them until
  // the next step's wait.
  uint32_t pa[2][4], da[2][4];
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  // dQ on wgmma needs one D slab per warpgroup; elsewhere dq_step (mma.sync) forms it.
  constexpr bool kWgmmaDq = staged_dq(D, KT);
  float dqt[16];  // dQ^T of the previous chunk (dq_issue)
  float* sdq = reinterpret_cast<float*>(smem + Smem::dq);
  int* sdq_tok = reinterpret_cast<int*>(smem + Smem::dq_tok);
#endif

  const int key_r = kt0 + warp * 16 + (lane >> 2);  // the thread's keys: key_r, key_r + 8
  for (int hh = 0; hh < group; hh++) {
    const int h = g * group + hh;
    int e_begin, e_end;
    if constexpr (WINDOW) {
      e_begin = kt0;
      e_end = min(cu_seqlens[s + 1], kt_hi + window - 1);
    } else {
      const int idx = h * total_blocks + b;
      e_begin = list_off[idx] + sub * KT;
      e_end = list_off[idx + 1];
    }
    if (e_begin >= e_end) continue;
    const int chunks = (e_end - e_begin + kChunk - 1) / kChunk;
    auto rows_of = [&](int c) { return min(kChunk, e_end - e_begin - c * kChunk); };
    // The query token of row r of chunk c (its list entry must have landed).
    auto token = [&](int c, int r) {
      if constexpr (WINDOW) {
        return e_begin + c * kChunk + r;
      } else {
        return sent[(c % kEntryRing) * kChunk + r] >> kSlotBits;
      }
    };
    // WINDOW: whether the keys [kt0 + 64 half, kt0 + 64 half + 64) of the tile (warpgroup `half`'s
    // on sm_90a, warps 4 half .. 4 half + 3 elsewhere) see a row of chunk c. A key sees the rows
    // [key, key + window), so the half sees the rows [klo, khi + window) and the chunk's
    // consecutive rows t_lo .. t_hi; the first two and last two chunks of a tile at W = 256 leave
    // one half idle (4 of its 24 chunk halves), whose products and softmax are skipped: its P and dS
    // are 0 and add nothing to dK, dV, dQ. MoBA's list rows are not consecutive: always live.
    auto half_live = [&](int c, int half) {
      if constexpr (WINDOW) {
        const int klo = kt0 + 64 * half, khi = min(klo + 64, kt_hi) - 1;
        const int t_lo = e_begin + c * kChunk, t_hi = t_lo + rows_of(c) - 1;
        return klo < kt_hi && t_hi >= klo && t_lo <= khi + window - 1;
      } else {
        return true;
      }
    };
    auto load_entries = [&](int c) {
      if constexpr (!WINDOW) {
        if (tid < kChunk && c < chunks) {
          const int e = e_begin + c * kChunk + tid;
          cp_async4(sent + (c % kEntryRing) * kChunk + tid, lists + min(e, e_end - 1), e < e_end);
        }
      }
    };
    auto load_rows = [&](int c) {
      if (c >= chunks) return;
      const int nq = rows_of(c), st = c % kRowStages;
      if (tid < kChunk) {
        const bool valid = tid < nq;
        const size_t src = (size_t)h * tokens + (valid ? token(c, tid) : 0);
        cp_async4(slse + st * kChunk + tid, lse + src, valid);
        cp_async4(sdelta + st * kChunk + tid, delta + src, valid);
      }
      for (int i = tid; i < kChunk * CH; i += NT) {
        const int r = i / CH, c8 = i % CH;
        const bool valid = r < nq;
        const size_t src = ((size_t)(valid ? token(c, r) : 0) * heads + h) * D + c8 * 8;
        const size_t dst = st * kChunk * D * 2 + swz_slab<CH, kChunk>(r, c8);
        cp_async16(smem + Smem::q + dst, q + src, valid);
        cp_async16(smem + Smem::dout + dst, dout + src, valid);
      }
    };

    // dQ [32 rows][D] += dS K of chunk c from its dS^T: warp w takes rows 16*(w&1).. and a W-wide
    // column group, and adds them into dq_acc.
    auto dq_step = [&](int c) {
      constexpr int W = D / (KT / 32);
      const bf16* sds = reinterpret_cast<const bf16*>(smem + Smem::ds) + (c & 1) * KT * kChunk;
      const int mt = warp & 1, d0 = (warp >> 1) * W, nq = rows_of(c);
      float dq[W / 8][4];
#pragma unroll
      for (int n = 0; n < W / 8; n++) dq[n][0] = dq[n][1] = dq[n][2] = dq[n][3] = 0.f;
#pragma unroll
      for (int kk = 0; kk < KT / 16; kk++) {
        if (!half_live(c, kk / 4)) continue;  // its dS^T is 0
        uint32_t a[4];
        ldsm_x4_t(a, frag_at<4>(sds, kk * 16, mt * 2, lane));
#pragma unroll
        for (int np = 0; np < W / 16; np++) {
          uint32_t bk[4];
          ldsm_x4_t(bk, frag_bt<CH, KT>(sk, kk * 16, (d0 + np * 16) / 8, lane));
          mma(dq[2 * np], a, bk[0], bk[1]);
          mma(dq[2 * np + 1], a, bk[2], bk[3]);
        }
      }
#pragma unroll
      for (int i = 0; i < 2; i++) {
        const int r = mt * 16 + (lane >> 2) + 8 * i;
        if (r >= nq) continue;
        float* dst = dq_acc + ((size_t)(token(c, r) - ta) * slice_heads + (h - g0 * group)) * D + d0 +
                     (lane & 3) * 2;
#pragma unroll
        for (int n = 0; n < W / 8; n++) {
#if __CUDA_ARCH__ >= 900  // one 8-byte reduction instead of two 4-byte ones
          atomicAdd(reinterpret_cast<float2*>(dst + n * 8), make_float2(dq[n][2 * i], dq[n][2 * i + 1]));
#else
          atomicAdd(dst + n * 8, dq[n][2 * i]);
          atomicAdd(dst + n * 8 + 1, dq[n][2 * i + 1]);
#endif
        }
      }
    };

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    // dQ^T [D][32 rows] = K^T dS^T of chunk c on wgmma where D = 128 and KT = 128: warpgroup wg
    // takes D slab wg. A = that slab of K read M-major (keys as the k rows: 8-key groups 1 KiB
    // apart), B = dS^T read N-major (its 64-byte rows are the 64-byte swizzle, 8-key groups 512
    // bytes apart). The thread's element (n, e) is D index 64 wg + 16 (warp % 4) + lane/4 + 8 (e/2)
    // of row 8n + 2 (lane % 4) + e % 2.
    auto dq_issue = [&](int c, float (&acc)[16]) {
      const uint64_t a0 = wg_desc(smem_addr(sk) + (warp >> 2) * KT * 128, KT * 128, 1024);
      const uint64_t b0 = wg_desc<2>(smem_addr(smem + Smem::ds) + (c & 1) * KT * kChunk * 2, 4096, 512);
#pragma unroll
      for (int j = 0; j < KT / 16; j++) {
        const uint64_t da = wg_desc_at(a0, j * 2048), db = wg_desc_at(b0, j * 1024);
        if (j == 0) {
          wg_m64n32k16_ss<0, 1, 1>(acc, da, db);
        } else {
          wg_m64n32k16_ss<1, 1, 1>(acc, da, db);
        }
      }
    };
    // dQ of chunk c into staging buffer c & 1 as rows [32][D + 4], and (warp 0) its tokens. The
    // accumulator holds a row's D values 8 apart two by two, so the atomics go through shared
    // memory: 4 x 16-byte ones per thread instead of 16 x 4-byte ones (dq_flush).
    auto dq_stage = [&](int c, const float (&acc)[16]) {
      float* buf = sdq + (c & 1) * kChunk * (D + 4);
      const int d = (warp >> 2) * 64 + (warp & 3) * 16 + (lane >> 2);
#pragma unroll
      for (int n = 0; n < 4; n++) {
#pragma unroll
        for (int e = 0; e < 2; e++) {
          float* row = buf + (n * 8 + (lane & 3) * 2 + e) * (D + 4);
          row[d] = acc[4 * n + e];
          row[d + 8] = acc[4 * n + 2 + e];
        }
      }
      if (warp == 0) sdq_tok[(c & 1) * kChunk + lane] = token(c, lane);
    };
    // dq_acc += the staged dQ of chunk c, after a barrier that follows dq_stage(c): a warp adds
    // one row's 512 contiguous bytes per instruction. Runs in step c + 2, before the barrier
    // after which dq_stage(c + 2) rewrites the buffer.
    auto dq_flush = [&](int c) {
      const float* buf = sdq + (c & 1) * kChunk * (D + 4);
      const int nq = rows_of(c);
#pragma unroll
      for (int j = 0; j < kChunk * D / 4 / NT; j++) {
        const int i = tid + j * NT, r = i / (D / 4), c4 = i % (D / 4);
        if (r >= nq) continue;
        const float4 x = *reinterpret_cast<const float4*>(buf + r * (D + 4) + c4 * 4);
        float* dst = dq_acc + ((size_t)(sdq_tok[(c & 1) * kChunk + r] - ta) * slice_heads + (h - g0 * group)) * D;
        atomicAdd(reinterpret_cast<float4*>(dst) + c4, x);
      }
    };
#endif

    __syncthreads();  // the previous head's last dQ step has read its entries and dS^T
    load_entries(0);
    cp_async_commit();
    cp_async_wait<0>();
    __syncthreads();  // chunk 0's entries (and K, V) landed
    load_entries(1);
    load_rows(0);
    cp_async_commit();
    for (int c = 0; c < chunks; c++) {
      cp_async_wait<0>();
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
      fence_proxy_async();
#endif
      // Chunk c's rows and c+1's entries are visible; every warp finished step c-1 (its reads of
      // the stage and entries reloaded below, and of the dS^T buffer written below).
      __syncthreads();
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
      if constexpr (kWgmmaDq) {
        if (c >= 2) dq_flush(c - 2);  // staged in step c-1
      }
#endif
      load_entries(c + 2);
      load_rows(c + 1);
      cp_async_commit();
      const int st = c % kRowStages, nq = rows_of(c);
      const bf16* sq = reinterpret_cast<const bf16*>(smem + Smem::q) + st * kChunk * D;
      const bf16* sdo = reinterpret_cast<const bf16*>(smem + Smem::dout) + st * kChunk * D;
      const bool live = half_live(c, warp >> 2);  // uniform in the warpgroup

      // S^T = K Q^T and dP^T = V dO^T for the warp's 16 keys x 32 rows: element (n, e) at [4n + e].
      float p[16], ds[16];
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
      {
        // Warpgroup wg: keys [64 wg, 64 wg + 64). The k16 step j is 32 bytes into slab j / 4.
        const int wg = warp >> 2;
        const uint64_t kd = wg_desc(smem_addr(sk) + wg * 64 * 128, 16, 1024);
        const uint64_t vd = wg_desc(smem_addr(sv) + wg * 64 * 128, 16, 1024);
        const uint64_t qd = wg_desc(smem_addr(sq), 16, 1024), od = wg_desc(smem_addr(sdo), 16, 1024);
        wg_pin(p);
        wg_pin(ds);
        wg_pin(dqt);
        wg_fence();
#pragma unroll
        for (int j = 0; j < D / 16; j++) {
          const uint32_t kofs = (j / 4) * KT * 128 + (j % 4) * 32, qofs = (j / 4) * kChunk * 128 + (j % 4) * 32;
          if (j == 0) {
            wg_m64n32k16_ss<0>(p, wg_desc_at(kd, kofs), wg_desc_at(qd, qofs));
            wg_m64n32k16_ss<0>(ds, wg_desc_at(vd, kofs), wg_desc_at(od, qofs));
          } else {
            wg_m64n32k16_ss<1>(p, wg_desc_at(kd, kofs), wg_desc_at(qd, qofs));
            wg_m64n32k16_ss<1>(ds, wg_desc_at(vd, kofs), wg_desc_at(od, qofs));
          }
        }
        if constexpr (kWgmmaDq) {
          if (c > 0) dq_issue(c - 1, dqt);
        }
        wg_commit();
        wg_pin(p);
        wg_pin(ds);
        wg_pin(dqt);
      }
      if constexpr (!kWgmmaDq) {
        if (c > 0) dq_step(c - 1);  // runs on the tensor cores beside the wgmmas above
      }
      wg_wait_all();  // S^T, dP^T of chunk c (dQ of chunk c-1) and dV, dK of chunk c-1
      wg_pin(p);
      wg_pin(ds);
      wg_pin(dqt);
      wg_pin(dk_acc);
      wg_pin(dv_acc);
      wg_pin_fragments(pa, da);  // read by chunk c-1's wgmmas until here
      if constexpr (kWgmmaDq) {
        if (c > 0) dq_stage(c - 1, dqt);
      }
#else
      if (c > 0) dq_step(c - 1);
#pragma unroll
      for (int i = 0; i < 16; i++) p[i] = ds[i] = 0.f;
      if (live) {
#pragma unroll
        for (int ks = 0; ks < D / 16; ks++) {
          uint32_t ka[4], va[4];
          ldsm_x4(ka, frag_a<CH, KT>(sk, warp * 16, ks * 2, lane));
          ldsm_x4(va, frag_a<CH, KT>(sv, warp * 16, ks * 2, lane));
#pragma unroll
          for (int np = 0; np < 2; np++) {
            uint32_t bq[4], bo[4];
            ldsm_x4(bq, frag_b<CH, kChunk>(sq, np * 16, ks * 2, lane));
            ldsm_x4(bo, frag_b<CH, kChunk>(sdo, np * 16, ks * 2, lane));
            mma(&p[8 * np], ka, bq[0], bq[1]);
            mma(&p[8 * np + 4], ka, bq[2], bq[3]);
            mma(&ds[8 * np], va, bo[0], bo[1]);
            mma(&ds[8 * np + 4], va, bo[2], bo[3]);
          }
        }
      }
#endif
      // P = exp(s - lse) where the row sees the key; dS = P (dP - delta). The mask (a select per
      // element) is needed only where a row may not see a key: own rows of the tile, a partial
      // chunk or tile, the window. A chunk of 32 rows that all follow the tile's last key, the
      // bulk of a past block's list, takes the unmasked copy of the loop.
      auto softmax_grad = [&](auto masked) {
#pragma unroll
        for (int n = 0; n < 4; n++) {
#pragma unroll
          for (int e2 = 0; e2 < 4; e2++) {
            const int qi = n * 8 + (lane & 3) * 2 + (e2 & 1), key = key_r + 8 * (e2 >> 1);
            // Finite where the row sees the key; a masked score may overflow to inf, replaced by 0.
            float pv = exp2_ftz(p[4 * n + e2] * scale_log2 - slse[st * kChunk + qi] * kLog2e);
            if constexpr (decltype(masked)::value) {
              const int t = token(c, qi);
              bool ok = qi < nq && key < kt_hi && key <= t;
              if constexpr (WINDOW) ok = ok && t - key < window;
              pv = ok ? pv : 0.f;
            }
            p[4 * n + e2] = pv;
            ds[4 * n + e2] = pv * (ds[4 * n + e2] - sdelta[st * kChunk + qi]);
          }
        }
      };
      if (!live) {
#pragma unroll
        for (int i = 0; i < 16; i++) p[i] = ds[i] = 0.f;
      } else if (WINDOW || nq < kChunk || kt_hi < kt0 + KT || token(c, 0) < kt_hi - 1) {
        softmax_grad(std::true_type{});
      } else {
        softmax_grad(std::false_type{});
      }
      // The accumulators of row tiles 2kk, 2kk+1 as the A fragment of rows [16kk, 16kk + 16).
#pragma unroll
      for (int kk = 0; kk < 2; kk++) {
        const float* p0 = &p[8 * kk];
        const float* d0 = &ds[8 * kk];
        pa[kk][0] = pack_bf16(p0[0], p0[1]);
        pa[kk][1] = pack_bf16(p0[2], p0[3]);
        pa[kk][2] = pack_bf16(p0[4], p0[5]);
        pa[kk][3] = pack_bf16(p0[6], p0[7]);
        da[kk][0] = pack_bf16(d0[0], d0[1]);
        da[kk][1] = pack_bf16(d0[2], d0[3]);
        da[kk][2] = pack_bf16(d0[4], d0[5]);
        da[kk][3] = pack_bf16(d0[6], d0[7]);
      }
      // dV += P^T dO, dK += dS^T Q.
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
      {
        // B = dO or q rows [16kk, 16kk + 16) x D, N-major: 8-row groups 1 KiB apart (SBO), slabs
        // of 64 columns 32 rows x 128 bytes apart (LBO).
        const uint64_t qd = wg_desc(smem_addr(sq), kChunk * 128, 1024);
        const uint64_t od = wg_desc(smem_addr(sdo), kChunk * 128, 1024);
        wg_fence();
#pragma unroll
        for (int kk = 0; kk < 2; kk++) {
          wg_rs<D>(dv_acc, pa[kk], wg_desc_at(od, kk * 2048));
          wg_rs<D>(dk_acc, da[kk], wg_desc_at(qd, kk * 2048));
        }
        wg_commit();
        wg_pin(dk_acc);
        wg_pin(dv_acc);
        wg_pin_fragments(pa, da);
      }
#else
      if (live) {
#pragma unroll
        for (int kk = 0; kk < 2; kk++) {
#pragma unroll
          for (int dp = 0; dp < D / 16; dp++) {
            uint32_t bo[4], bq[4];
            ldsm_x4_t(bo, frag_bt<CH, kChunk>(sdo, kk * 16, dp * 2, lane));
            ldsm_x4_t(bq, frag_bt<CH, kChunk>(sq, kk * 16, dp * 2, lane));
            mma(&dv_acc[8 * dp], pa[kk], bo[0], bo[1]);
            mma(&dv_acc[8 * dp + 4], pa[kk], bo[2], bo[3]);
            mma(&dk_acc[8 * dp], da[kk], bq[0], bq[1]);
            mma(&dk_acc[8 * dp + 4], da[kk], bq[2], bq[3]);
          }
        }
      }
#endif
      // dS^T [KT keys][32 rows] of chunk c to its buffer: dQ needs it with rows as the M dimension.
      {
        const int row = warp * 16 + (lane >> 2);
        char* base = reinterpret_cast<char*>(smem + Smem::ds) + (c & 1) * KT * kChunk * 2 + (lane & 3) * 4;
#pragma unroll
        for (int n = 0; n < 4; n++) {
          *reinterpret_cast<uint32_t*>(base + swz<4>(row, n)) = pack_bf16(ds[4 * n], ds[4 * n + 1]);
          *reinterpret_cast<uint32_t*>(base + swz<4>(row + 8, n)) = pack_bf16(ds[4 * n + 2], ds[4 * n + 3]);
        }
      }
    }
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    wg_wait_all();
    wg_pin(dk_acc);
    wg_pin(dv_acc);
    wg_pin_fragments(pa, da);
    fence_proxy_async();  // the dS^T stores, for dq_issue
    __syncthreads();      // the last chunk's dS^T (and the dQ staged in the last step) is visible
    if constexpr (kWgmmaDq) {
      if (chunks >= 2) dq_flush(chunks - 2);
      wg_pin(dqt);
      wg_fence();
      dq_issue(chunks - 1, dqt);
      wg_commit();
      wg_pin(dqt);
      wg_wait_all();
      wg_pin(dqt);
      dq_stage(chunks - 1, dqt);
      __syncthreads();
      dq_flush(chunks - 1);
    } else {
      dq_step(chunks - 1);
    }
#else
    __syncthreads();  // the last chunk's dS^T is visible
    dq_step(chunks - 1);
#endif
  }

#pragma unroll
  for (int i = 0; i < 2; i++) {
    const int key = key_r + 8 * i;
    if (key >= kt_hi) continue;
    const size_t row = ((size_t)key * kv_heads + g) * D + (lane & 3) * 2;
#pragma unroll
    for (int n = 0; n < D / 8; n++) {
      *reinterpret_cast<uint32_t*>(dk + row + n * 8) =
          pack_bf16(dk_acc[4 * n + 2 * i] * scale, dk_acc[4 * n + 2 * i + 1] * scale);
      *reinterpret_cast<uint32_t*>(dv + row + n * 8) = pack_bf16(dv_acc[4 * n + 2 * i], dv_acc[4 * n + 2 * i + 1]);
    }
  }
}

}  // namespace moba
