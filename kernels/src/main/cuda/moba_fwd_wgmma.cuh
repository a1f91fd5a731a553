// The past-block kernel's body on sm_90a (moba_fwd.cu, fwd_past): one warpgroup per CTA runs each
// 64-row unit of gathered q rows against the block's resident keys as two wgmma chains,
// S [64 x 128 keys] = Q K^T with both operands in shared memory and O [64 x D] = P V with P from
// registers. One block of at most 128 keys is one S tile, so each unit's softmax is a single pass
// (no running max, no rescaling). The next unit's rows are gathered by cp.async while this one
// computes; two CTAs per SM overlap one's softmax with the other's tensor-core work.
// Compiled only where __CUDA_ARCH_FEAT_SM90_ALL is defined (the sm_90a cubin).
#pragma once
#include "moba_bwd_wgmma.cuh"

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
namespace moba {

// Eight consecutive accumulators d[i..i+7] as read-write asm operands.
#define MOBA_WG_ACC8(d, i)                                                                    \
  "+f"(d[i]), "+f"(d[i + 1]), "+f"(d[i + 2]), "+f"(d[i + 3]), "+f"(d[i + 4]), "+f"(d[i + 5]), \
      "+f"(d[i + 6]), "+f"(d[i + 7])

// d[64 x 128] (+)= A[64 x 16] B[16 x 128], both K-major in shared memory. ACC = 0 overwrites d.
template <int ACC>
__device__ __forceinline__ void wg_m64n128k16_ss(float (&d)[64], uint64_t desc_a, uint64_t desc_b) {
  asm volatile(
      "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 "
      "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
      "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "
      "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
      "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, "
      "%64, %65, %66, 1, 1, 0, 0;\n"
      : MOBA_WG_ACC8(d, 0), MOBA_WG_ACC8(d, 8), MOBA_WG_ACC8(d, 16), MOBA_WG_ACC8(d, 24),
        MOBA_WG_ACC8(d, 32), MOBA_WG_ACC8(d, 40), MOBA_WG_ACC8(d, 48), MOBA_WG_ACC8(d, 56)
      : "l"(desc_a), "l"(desc_b), "n"(ACC));
}
#undef MOBA_WG_ACC8

// 2^x as one MUFU.EX2 (subnormal results flushed to zero, ~2 ulp): p feeds the tensor cores as
// bf16 and l sums p in fp32, so exp2f's extra instructions for subnormals buy nothing here, in a
// loop that is issue-bound. (moba_bwd_tile.cuh has the same helper as exp2_ftz; the two files are
// compiled into one lab binary, hence the other name.)
__device__ __forceinline__ float exp2_approx_ftz(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}

// Shared memory of the wgmma body, inside the byte count the host reserves for fwd_past
// (PastSmem<D>::bytes): K, V and the two q stages in the slab layout (swz_slab), 1 KiB aligned
// (`bytes` counts the 1 KiB the kernel may skip to align). A q stage holds a unit's gathered rows
// until S is formed, then the unit's normalized output rows on their way to part_o.
template <int D>
struct PastWgSmem {
  static constexpr int kKeyRows = 128;                        // one S tile: every key of a block
  static constexpr size_t k = 0;                              // [128][D] bf16
  static constexpr size_t v = k + kKeyRows * D * 2;           // [128][D] bf16
  static constexpr size_t q = v + kKeyRows * D * 2;           // [2][64][D] bf16
  static constexpr size_t ent = q + 2 * kTile * D * 2;        // [item rows] int list entries, -1 after
  static constexpr size_t bytes(int item_rows) { return ent + item_rows * 4 + 1024; }
};

// One work item (see fwd_past) on the tensor cores: entries [first, end) of head h's list for the
// block of keys [key_lo, key_lo + keys), keys <= 128. Writes part_o, part_lse as fwd_past does.
template <int D>
__device__ void fwd_past_wgmma(const bf16* __restrict__ q, const bf16* __restrict__ k,
                               const bf16* __restrict__ v, bf16* __restrict__ part_o,
                               float* __restrict__ part_lse, const int* __restrict__ lists, int h,
                               int key_lo, int keys, int first, int end, int heads, int kv_heads,
                               int topk, float scale, int h0, int ta, int tb) {
  constexpr int CH = D / 8, KR = PastWgSmem<D>::kKeyRows;
  using Smem = PastWgSmem<D>;
  extern __shared__ __align__(1024) unsigned char smem_raw[];
  unsigned char* smem = smem_raw + ((1024u - (smem_addr(smem_raw) & 1023u)) & 1023u);
  int* ent = reinterpret_cast<int*>(smem + Smem::ent);
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int count = end - first, units = (count + kTile - 1) / kTile;
  for (int r = tid; r < units * kTile; r += kThreads) ent[r] = r < count ? lists[first + r] : -1;
  // The partial of list entry e (token << kSlotBits | slot) in part_o / part_lse.
  auto partial = [&](int e) {
    return ((size_t)(h - h0) * (tb - ta) + ((e >> kSlotBits) - ta)) * (topk - 1) + (e & ((1 << kSlotBits) - 1));
  };

  // Every key row of the S tile; rows from `keys` on are zero (and masked below).
  const size_t kv_stride = (size_t)kv_heads * D;
  const int g = h / (heads / kv_heads);
  for (int i = tid; i < KR * CH; i += kThreads) {
    const int r = i / CH, c = i % CH;
    const bool valid = r < keys;
    const size_t src = (size_t)(key_lo + (valid ? r : 0)) * kv_stride + (size_t)g * D + c * 8;
    cp_async16(smem + Smem::k + swz_slab<CH, KR>(r, c), k + src, valid);
    cp_async16(smem + Smem::v + swz_slab<CH, KR>(r, c), v + src, valid);
  }
  __syncthreads();  // the entries, for the gathers

  // Unit u's q rows into stage u & 1 (zero rows past the item), one cp.async group.
  auto gather = [&](int u) {
    unsigned char* st = smem + Smem::q + (u & 1) * kTile * D * 2;
    for (int i = tid; i < kTile * CH; i += kThreads) {
      const int r = i / CH, c = i % CH, t = ent[u * kTile + r] >> kSlotBits;
      cp_async16(st + swz_slab<CH, kTile>(r, c), q + ((size_t)max(t, 0) * heads + h) * D + c * 8, t >= 0);
    }
    cp_async_commit();
  };
  gather(0);

  const float scale_log2 = scale * kLog2e;
  const uint32_t ka = smem_addr(smem + Smem::k), va = smem_addr(smem + Smem::v);
  for (int u = 0; u < units; u++) {
    cp_async_wait<0>();
    fence_proxy_async();
    // Unit u's rows (and, the first time, K and V) are visible to the tensor cores; every warp is
    // done with unit u - 1, whose stage the next gather overwrites.
    __syncthreads();
    if (u + 1 < units) gather(u + 1);
    unsigned char* st = smem + Smem::q + (u & 1) * kTile * D * 2;
    const uint32_t qa = smem_addr(st);

    // S = Q K^T [64 x 128]: thread holds rows 16 warp + lane/4 (+8), element (n8 tile j, e) at
    // [4j + e], key 8j + 2 (lane & 3) + (e & 1). The k16 step j is 32 bytes into slab j / 4.
    float s[64];
    wg_fence();
#pragma unroll
    for (int j = 0; j < D / 16; j++) {
      const uint64_t da = wg_desc(qa + (j / 4) * kTile * 128 + (j % 4) * 32, 16, 1024);
      const uint64_t db = wg_desc(ka + (j / 4) * KR * 128 + (j % 4) * 32, 16, 1024);
      if (j == 0) wg_m64n128k16_ss<0>(s, da, db);
      else wg_m64n128k16_ss<1>(s, da, db);
    }
    wg_commit();
    wg_wait_all();

    // Softmax over the whole block at once: the row max in raw score units, then
    // p = 2^(s * scale_log2 - max * scale_log2) by one FMA each.
    if (keys < KR) {
#pragma unroll
      for (int j = 0; j < 16; j++)
#pragma unroll
        for (int e = 0; e < 4; e++)
          if (8 * j + 2 * (lane & 3) + (e & 1) >= keys) s[4 * j + e] = -INFINITY;
    }
    float mx[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f};
#pragma unroll
    for (int j = 0; j < 16; j++)
#pragma unroll
      for (int e = 0; e < 4; e++) mx[e >> 1] = fmaxf(mx[e >> 1], s[4 * j + e]);
#pragma unroll
    for (int i = 0; i < 2; i++) {
      mx[i] = fmaxf(mx[i], __shfl_xor_sync(0xffffffffu, mx[i], 1));
      mx[i] = fmaxf(mx[i], __shfl_xor_sync(0xffffffffu, mx[i], 2));
      mx[i] *= scale_log2;  // finite: key 0 is never masked
    }
    // P as the A fragments of the 8 k16 steps of P V: keys 16kk.. are n8 tiles 2kk and 2kk + 1.
    uint32_t pa[8][4];
#pragma unroll
    for (int kk = 0; kk < 8; kk++) {
      float p[8];
#pragma unroll
      for (int e = 0; e < 8; e++) {
        p[e] = exp2_approx_ftz(fmaf(s[8 * kk + e], scale_log2, -mx[(e >> 1) & 1]));
        l[(e >> 1) & 1] += p[e];
      }
      pa[kk][0] = pack_bf16(p[0], p[1]);
      pa[kk][1] = pack_bf16(p[2], p[3]);
      pa[kk][2] = pack_bf16(p[4], p[5]);
      pa[kk][3] = pack_bf16(p[6], p[7]);
    }

    // O = P V [64 x D]: B = V rows [16kk, 16kk + 16) x D, N-major (slabs KR x 128 bytes apart).
    float o[D / 2];
#pragma unroll
    for (int i = 0; i < D / 2; i++) o[i] = 0.f;
    wg_fence();
#pragma unroll
    for (int kk = 0; kk < 8; kk++) wg_rs<D>(o, pa[kk], wg_desc(va + kk * 2048, KR * 128, 1024));
    wg_commit();
    wg_wait_all();

    // The normalized rows of this warp into the stage (S is formed, so its q rows are dead), then
    // 16-byte stores of whole rows to part_o.
    const int ra = warp * 16 + (lane >> 2);
#pragma unroll
    for (int i = 0; i < 2; i++) {
      l[i] += __shfl_xor_sync(0xffffffffu, l[i], 1);
      l[i] += __shfl_xor_sync(0xffffffffu, l[i], 2);
      const float inv = 1.f / l[i];
#pragma unroll
      for (int n = 0; n < D / 8; n++)
        *reinterpret_cast<uint32_t*>(st + swz_slab<CH, kTile>(ra + 8 * i, n) + (lane & 3) * 4) =
            pack_bf16(o[4 * n + 2 * i] * inv, o[4 * n + 2 * i + 1] * inv);
      const int e = ent[u * kTile + ra + 8 * i];
      if ((lane & 3) == 0 && e >= 0) part_lse[partial(e)] = (mx[i] + log2f(l[i])) * kLn2;
    }
    __syncwarp();
    for (int i = lane; i < 16 * CH; i += 32) {
      const int r = warp * 16 + i / CH, c = i % CH, e = ent[u * kTile + r];
      if (e < 0) continue;
      *reinterpret_cast<uint4*>(part_o + partial(e) * D + c * 8) = *reinterpret_cast<const uint4*>(st + swz_slab<CH, kTile>(r, c));
    }
  }
}

}  // namespace moba
#endif
