// The backward key tile shared by moba_bwd.cu (MoBA and DENSE: rows from the key-block lists) and
// moba_window.cu (SLIDING: rows from the window); see the top of moba_bwd.cu.
#pragma once
#include "moba_common.cuh"

namespace moba {

constexpr int kChunk = 32;  // gathered query rows per step

template <int D, int KT>
struct BwdSmem {
  static constexpr size_t k = 0;                              // [KT][D] bf16
  static constexpr size_t v = k + KT * D * 2;                 // [KT][D] bf16
  static constexpr size_t q = v + KT * D * 2;                 // [2][32][D] bf16
  static constexpr size_t dout = q + 2 * kChunk * D * 2;      // [2][32][D] bf16
  static constexpr size_t ds = dout + 2 * kChunk * D * 2;     // [KT][32] bf16, dS^T of the step
  static constexpr size_t tok = ds + KT * kChunk * 2;         // [2][32] int, -1 = empty row
  static constexpr size_t lse2 = tok + 2 * kChunk * 4;        // [2][32] fp32, lse * log2(e)
  static constexpr size_t delta = lse2 + 2 * kChunk * 4;      // [2][32] fp32
  static constexpr size_t bytes = delta + 2 * kChunk * 4;
};

// grid ((b1 - b0) * ceil(B/KT), gn), 2*KT threads; the slice of the top of the file. WINDOW: rows
// come from the window (lists and list_off unused), window >= 1 clamped by the host to the longest
// sequence; else window is unused.
template <int D, int KT, bool WINDOW>
__device__ void bwd_main(const bf16* __restrict__ q, const bf16* __restrict__ k,
                         const bf16* __restrict__ v, const bf16* __restrict__ dout,
                         const float* __restrict__ lse, const float* __restrict__ delta,
                         const int* __restrict__ lists, const int* __restrict__ list_off,
                         float* __restrict__ dq_acc, bf16* __restrict__ dk, bf16* __restrict__ dv,
                         const int* __restrict__ cu_seqlens, const int* __restrict__ cu_blocks,
                         int seqs, int tokens, int heads, int kv_heads, int total_blocks,
                         int block_size, int window, float scale, int b0, int g0, int ta) {
  constexpr int CH = D / 8, NT = 2 * KT;
  extern __shared__ __align__(128) unsigned char smem[];
  bf16* sk = reinterpret_cast<bf16*>(smem + BwdSmem<D, KT>::k);
  bf16* sv = reinterpret_cast<bf16*>(smem + BwdSmem<D, KT>::v);
  bf16* sds = reinterpret_cast<bf16*>(smem + BwdSmem<D, KT>::ds);
  int* stok = reinterpret_cast<int*>(smem + BwdSmem<D, KT>::tok);
  float* slse = reinterpret_cast<float*>(smem + BwdSmem<D, KT>::lse2);
  float* sdelta = reinterpret_cast<float*>(smem + BwdSmem<D, KT>::delta);

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
    cp_async16(reinterpret_cast<char*>(sk) + swz<CH>(r, c), k + src, valid);
    cp_async16(reinterpret_cast<char*>(sv) + swz<CH>(r, c), v + src, valid);
  }
  cp_async_commit();

  // The query token of walk entry e: list entry e, or (WINDOW) token e itself.
  auto row_token = [&](int e) {
    if constexpr (WINDOW) {
      return e;
    } else {
      return lists[e] >> kSlotBits;
    }
  };
  // Gathers the rows of entries [e, e+32) of head h (q, dO, lse, delta) into stage st.
  auto load_chunk = [&](int st, int h, int e, int e_end) {
    const int nq = min(kChunk, e_end - e);
    if (tid < kChunk) {
      int t = tid < nq ? row_token(e + tid) : -1;
      stok[st * kChunk + tid] = t;
      slse[st * kChunk + tid] = t >= 0 ? lse[(size_t)h * tokens + t] * kLog2e : 0.f;
      sdelta[st * kChunk + tid] = t >= 0 ? delta[(size_t)h * tokens + t] : 0.f;
    }
    for (int i = tid; i < kChunk * CH; i += NT) {
      int r = i / CH, c = i % CH;
      bool valid = r < nq;
      int t = valid ? row_token(e + r) : 0;
      size_t src = ((size_t)t * heads + h) * D + c * 8;
      int dst = st * kChunk * D * 2 + swz<CH>(r, c);
      cp_async16(smem + BwdSmem<D, KT>::q + dst, q + src, valid);
      cp_async16(smem + BwdSmem<D, KT>::dout + dst, dout + src, valid);
    }
    cp_async_commit();
  };

  float dk_acc[D / 8][4], dv_acc[D / 8][4];  // keys warp*16 + lane/4 (+8) x D
#pragma unroll
  for (int n = 0; n < D / 8; n++)
#pragma unroll
    for (int e = 0; e < 4; e++) dk_acc[n][e] = dv_acc[n][e] = 0.f;

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
    load_chunk(0, h, e_begin, e_end);
    int st = 0;
    for (int e = e_begin; e < e_end; e += kChunk, st ^= 1) {
      if (e + kChunk < e_end) {
        load_chunk(st ^ 1, h, e + kChunk, e_end);
        cp_async_wait<1>();
      } else {
        cp_async_wait<0>();
      }
      __syncthreads();
      const bf16* sq = reinterpret_cast<const bf16*>(smem + BwdSmem<D, KT>::q) + st * kChunk * D;
      const bf16* sdo = reinterpret_cast<const bf16*>(smem + BwdSmem<D, KT>::dout) + st * kChunk * D;
      const int* tk = stok + st * kChunk;

      // S^T = K Q^T and dP^T = V dO^T for the warp's 16 keys x 32 rows.
      float p[4][4], ds[4][4];
#pragma unroll
      for (int n = 0; n < 4; n++)
#pragma unroll
        for (int e2 = 0; e2 < 4; e2++) p[n][e2] = ds[n][e2] = 0.f;
#pragma unroll
      for (int ks = 0; ks < D / 16; ks++) {
        uint32_t ka[4], va[4];
        ldsm_x4(ka, frag_a<CH>(sk, warp * 16, ks * 2, lane));
        ldsm_x4(va, frag_a<CH>(sv, warp * 16, ks * 2, lane));
#pragma unroll
        for (int np = 0; np < 2; np++) {
          uint32_t bq[4], bo[4];
          ldsm_x4(bq, frag_b<CH>(sq, np * 16, ks * 2, lane));
          ldsm_x4(bo, frag_b<CH>(sdo, np * 16, ks * 2, lane));
          mma(p[2 * np], ka, bq[0], bq[1]);
          mma(p[2 * np + 1], ka, bq[2], bq[3]);
          mma(ds[2 * np], va, bo[0], bo[1]);
          mma(ds[2 * np + 1], va, bo[2], bo[3]);
        }
      }
      // P = exp(s - lse) where the row sees the key; dS = P (dP - delta).
#pragma unroll
      for (int n = 0; n < 4; n++) {
#pragma unroll
        for (int e2 = 0; e2 < 4; e2++) {
          int qi = n * 8 + (lane & 3) * 2 + (e2 & 1), key = key_r + 8 * (e2 >> 1), t = tk[qi];
          bool ok = t >= 0 && key < kt_hi && key <= t;
          if constexpr (WINDOW) ok = ok && t - key < window;
          float pv = ok ? exp2f(p[n][e2] * scale_log2 - slse[st * kChunk + qi]) : 0.f;
          p[n][e2] = pv;
          ds[n][e2] = pv * (ds[n][e2] - sdelta[st * kChunk + qi]);
        }
      }
      // dV += P^T dO, dK += dS^T Q: the accumulators of row tiles 2kk, 2kk+1 are A fragments.
#pragma unroll
      for (int kk = 0; kk < 2; kk++) {
        uint32_t pa[4] = {pack_bf16(p[2 * kk][0], p[2 * kk][1]), pack_bf16(p[2 * kk][2], p[2 * kk][3]),
                          pack_bf16(p[2 * kk + 1][0], p[2 * kk + 1][1]),
                          pack_bf16(p[2 * kk + 1][2], p[2 * kk + 1][3])};
        uint32_t da[4] = {pack_bf16(ds[2 * kk][0], ds[2 * kk][1]),
                          pack_bf16(ds[2 * kk][2], ds[2 * kk][3]),
                          pack_bf16(ds[2 * kk + 1][0], ds[2 * kk + 1][1]),
                          pack_bf16(ds[2 * kk + 1][2], ds[2 * kk + 1][3])};
#pragma unroll
        for (int dp = 0; dp < D / 16; dp++) {
          uint32_t bo[4], bq[4];
          ldsm_x4_t(bo, frag_bt<CH>(sdo, kk * 16, dp * 2, lane));
          ldsm_x4_t(bq, frag_bt<CH>(sq, kk * 16, dp * 2, lane));
          mma(dv_acc[2 * dp], pa, bo[0], bo[1]);
          mma(dv_acc[2 * dp + 1], pa, bo[2], bo[3]);
          mma(dk_acc[2 * dp], da, bq[0], bq[1]);
          mma(dk_acc[2 * dp + 1], da, bq[2], bq[3]);
        }
      }
      // dS^T [KT keys][32 rows] to shared memory: dQ needs it with rows as the M dimension.
      {
        const int row = warp * 16 + (lane >> 2);
        char* base = reinterpret_cast<char*>(sds) + (lane & 3) * 4;
#pragma unroll
        for (int n = 0; n < 4; n++) {
          *reinterpret_cast<uint32_t*>(base + swz<4>(row, n)) = pack_bf16(ds[n][0], ds[n][1]);
          *reinterpret_cast<uint32_t*>(base + swz<4>(row + 8, n)) = pack_bf16(ds[n][2], ds[n][3]);
        }
      }
      __syncthreads();
      // dQ [32 rows][D] += dS K: warp w takes rows 16*(w&1).. and a W-wide column group.
      {
        constexpr int W = D / (KT / 32);
        const int mt = warp & 1, d0 = (warp >> 1) * W;
        float dq[W / 8][4];
#pragma unroll
        for (int n = 0; n < W / 8; n++) dq[n][0] = dq[n][1] = dq[n][2] = dq[n][3] = 0.f;
#pragma unroll
        for (int kk = 0; kk < KT / 16; kk++) {
          uint32_t a[4];
          ldsm_x4_t(a, frag_at<4>(sds, kk * 16, mt * 2, lane));
#pragma unroll
          for (int np = 0; np < W / 16; np++) {
            uint32_t bk[4];
            ldsm_x4_t(bk, frag_bt<CH>(sk, kk * 16, (d0 + np * 16) / 8, lane));
            mma(dq[2 * np], a, bk[0], bk[1]);
            mma(dq[2 * np + 1], a, bk[2], bk[3]);
          }
        }
#pragma unroll
        for (int i = 0; i < 2; i++) {
          const int t = tk[mt * 16 + (lane >> 2) + 8 * i];
          if (t < 0) continue;
          float* dst = dq_acc + ((size_t)(t - ta) * slice_heads + (h - g0 * group)) * D + d0 +
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
      }
      __syncthreads();
    }
  }

#pragma unroll
  for (int i = 0; i < 2; i++) {
    const int key = key_r + 8 * i;
    if (key >= kt_hi) continue;
    const size_t row = ((size_t)key * kv_heads + g) * D + (lane & 3) * 2;
#pragma unroll
    for (int n = 0; n < D / 8; n++) {
      *reinterpret_cast<uint32_t*>(dk + row + n * 8) =
          pack_bf16(dk_acc[n][2 * i] * scale, dk_acc[n][2 * i + 1] * scale);
      *reinterpret_cast<uint32_t*>(dv + row + n * 8) = pack_bf16(dv_acc[n][2 * i], dv_acc[n][2 * i + 1]);
    }
  }
}

}  // namespace moba
