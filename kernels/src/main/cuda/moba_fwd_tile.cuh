// The forward tile shared by moba_fwd.cu and moba_window.cu: 64 gathered or consecutive query rows
// of one head attend, FlashAttention-2 style, to a run of keys with a per-row window [lo[r], tok[r]].
#pragma once
#include "moba_common.cuh"

namespace moba {

// Keys per inner step. 32 rather than 64 keeps the score tile at 16 registers and the K/V stages
// at 32 KB (D = 128), so three CTAs (12 warps) fit on an SM instead of two: these kernels wait on
// their gathers more than on the tensor cores, and more resident warps hide that.
constexpr int kKeys = 32;

// KEYS: keys per inner step; MoBA's tiles take kKeys, the window tile may take more (moba_window.cu).
template <int D, int KEYS = kKeys>
struct FwdSmem {
  static constexpr size_t q = 0;                       // [64][D] bf16, rows of the tile
  static constexpr size_t k = q + kTile * D * 2;       // [2][KEYS][D] bf16, double-buffered keys
  static constexpr size_t v = k + 2 * KEYS * D * 2;    // [2][KEYS][D] bf16
  static constexpr size_t tok = v + 2 * KEYS * D * 2;  // [64] int: query token, -1 = empty row
  static constexpr size_t lo = tok + kTile * 4;        // [64] int: first key the row may see
  static constexpr size_t slot = lo + kTile * 4;       // [64] int: routing slot (past kernel)
  static constexpr size_t bytes = slot + kTile * 4;
};

// Online-softmax attention of the tile's 64 query rows (sq, already issued as a cp.async group)
// over keys [key_lo, key_hi) of KV head g; row r sees key j iff lo[r] <= j <= tok[r]. Leaves, for the
// thread's rows warp*16 + lane/4 (+8): acc = sum p v, m = running max (log2 units), l = sum p.
template <int D, int KEYS = kKeys>
__device__ __forceinline__ void attend(unsigned char* smem, const bf16* __restrict__ k,
                                       const bf16* __restrict__ v, int kv_heads, int g, int key_lo,
                                       int key_hi, float scale_log2, float acc[D / 8][4],
                                       float m[2], float l[2]) {
  constexpr int CH = D / 8;
  const bf16* sq = reinterpret_cast<const bf16*>(smem + FwdSmem<D, KEYS>::q);
  bf16* sk = reinterpret_cast<bf16*>(smem + FwdSmem<D, KEYS>::k);
  bf16* sv = reinterpret_cast<bf16*>(smem + FwdSmem<D, KEYS>::v);
  const int* tok = reinterpret_cast<const int*>(smem + FwdSmem<D, KEYS>::tok);
  const int* lo = reinterpret_cast<const int*>(smem + FwdSmem<D, KEYS>::lo);
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const size_t stride = (size_t)kv_heads * D;  // between consecutive tokens of k, v

  auto load_kv = [&](int stage, int k0) {
    for (int i = tid; i < KEYS * CH; i += kThreads) {
      int r = i / CH, c = i % CH, key = k0 + r;
      bool valid = key < key_hi;
      size_t src = (size_t)(valid ? key : key_lo) * stride + (size_t)g * D + c * 8;
      int dst = stage * KEYS * D * 2 + swz<CH>(r, c);
      cp_async16(reinterpret_cast<char*>(sk) + dst, k + src, valid);
      cp_async16(reinterpret_cast<char*>(sv) + dst, v + src, valid);
    }
    cp_async_commit();
  };

#pragma unroll
  for (int n = 0; n < D / 8; n++) acc[n][0] = acc[n][1] = acc[n][2] = acc[n][3] = 0.f;
  m[0] = m[1] = -INFINITY;
  l[0] = l[1] = 0.f;
  const int ra = warp * 16 + (lane >> 2);
  const int tok_r[2] = {tok[ra], tok[ra + 8]};
  const int lo_r[2] = {lo[ra], lo[ra + 8]};
  uint32_t qf[D / 16][4];

  const int tiles = (key_hi - key_lo + KEYS - 1) / KEYS;
  load_kv(0, key_lo);
  for (int it = 0; it < tiles; it++) {
    const int k0 = key_lo + it * KEYS;
    if (it + 1 < tiles) {
      load_kv((it + 1) & 1, k0 + KEYS);
      cp_async_wait<1>();
    } else {
      cp_async_wait<0>();
    }
    __syncthreads();
    if (it == 0) {
#pragma unroll
      for (int ks = 0; ks < D / 16; ks++) ldsm_x4(qf[ks], frag_a<CH>(sq, warp * 16, ks * 2, lane));
    }
    const bf16* tk = sk + (it & 1) * KEYS * D;
    const bf16* tv = sv + (it & 1) * KEYS * D;

    float s[KEYS / 8][4];  // scores of the warp's 16 rows x KEYS keys
#pragma unroll
    for (int n = 0; n < KEYS / 8; n++) s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.f;
#pragma unroll
    for (int ks = 0; ks < D / 16; ks++) {
#pragma unroll
      for (int np = 0; np < KEYS / 16; np++) {
        uint32_t b[4];
        ldsm_x4(b, frag_b<CH>(tk, np * 16, ks * 2, lane));
        mma(s[2 * np], qf[ks], b[0], b[1]);
        mma(s[2 * np + 1], qf[ks], b[2], b[3]);
      }
    }

    float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
    for (int n = 0; n < KEYS / 8; n++) {
#pragma unroll
      for (int e = 0; e < 4; e++) {
        int key = k0 + n * 8 + (lane & 3) * 2 + (e & 1), i = e >> 1;
        bool ok = key >= lo_r[i] && key <= tok_r[i] && key < key_hi;
        s[n][e] = ok ? s[n][e] * scale_log2 : -INFINITY;
        mx[i] = fmaxf(mx[i], s[n][e]);
      }
    }
#pragma unroll
    for (int i = 0; i < 2; i++) {
      mx[i] = fmaxf(mx[i], __shfl_xor_sync(0xffffffffu, mx[i], 1));
      mx[i] = fmaxf(mx[i], __shfl_xor_sync(0xffffffffu, mx[i], 2));
    }
    float alpha[2], base[2];
#pragma unroll
    for (int i = 0; i < 2; i++) {
      float mn = fmaxf(m[i], mx[i]);
      // A row with nothing visible yet keeps m = -inf; subtracting 0 then keeps exp2 from NaN.
      base[i] = mn == -INFINITY ? 0.f : mn;
      alpha[i] = exp2f(m[i] - base[i]);
      m[i] = mn;
    }
    float rs[2] = {0.f, 0.f};
#pragma unroll
    for (int n = 0; n < KEYS / 8; n++) {
#pragma unroll
      for (int e = 0; e < 4; e++) {
        s[n][e] = exp2f(s[n][e] - base[e >> 1]);
        rs[e >> 1] += s[n][e];
      }
    }
#pragma unroll
    for (int i = 0; i < 2; i++) l[i] = l[i] * alpha[i] + rs[i];
#pragma unroll
    for (int n = 0; n < D / 8; n++) {
      acc[n][0] *= alpha[0];
      acc[n][1] *= alpha[0];
      acc[n][2] *= alpha[1];
      acc[n][3] *= alpha[1];
    }
    // O += P V: the score accumulators of key tiles 2kk, 2kk+1 are the A fragment of P.
#pragma unroll
    for (int kk = 0; kk < KEYS / 16; kk++) {
      uint32_t a[4] = {pack_bf16(s[2 * kk][0], s[2 * kk][1]), pack_bf16(s[2 * kk][2], s[2 * kk][3]),
                       pack_bf16(s[2 * kk + 1][0], s[2 * kk + 1][1]),
                       pack_bf16(s[2 * kk + 1][2], s[2 * kk + 1][3])};
#pragma unroll
      for (int dp = 0; dp < D / 16; dp++) {
        uint32_t b[4];
        ldsm_x4_t(b, frag_bt<CH>(tv, kk * 16, dp * 2, lane));
        mma(acc[2 * dp], a, b[0], b[1]);
        mma(acc[2 * dp + 1], a, b[2], b[3]);
      }
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < 2; i++) {
    l[i] += __shfl_xor_sync(0xffffffffu, l[i], 1);
    l[i] += __shfl_xor_sync(0xffffffffu, l[i], 2);
  }
}

// Issues the cp.async group that gathers q rows tok[r] of head h into the tile (zeros for tok < 0).
template <int D, int KEYS = kKeys>
__device__ __forceinline__ void load_q(unsigned char* smem, const bf16* __restrict__ q, int heads,
                                       int h) {
  constexpr int CH = D / 8;
  const int* tok = reinterpret_cast<const int*>(smem + FwdSmem<D, KEYS>::tok);
  for (int i = threadIdx.x; i < kTile * CH; i += kThreads) {
    int r = i / CH, c = i % CH, t = tok[r];
    cp_async16(smem + FwdSmem<D, KEYS>::q + swz<CH>(r, c),
               q + ((size_t)max(t, 0) * heads + h) * D + c * 8, t >= 0);
  }
  cp_async_commit();
}

}  // namespace moba
