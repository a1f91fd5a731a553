// MoBA attention backward (docs/moba.md, "Backward"), FlashAttention-2 style, key-block-centric:
//   moba_bwd_delta: delta [H, T] = rowsum(dO * O) in fp32.
//   moba_bwd_main_d{64,128}_k{64,128}: a CTA owns a tile of KT = 64 or 128 keys (KT/16 warps,
//     16 keys each) of one key block and one KV head; KT = 128 where B allows it halves the dQ
//     atomics and the gathers of Q and dO per key. For each
//     query head of the GQA group it walks the key block's list (moba_router.cu) in chunks of 32
//     gathered query rows, recomputes P = exp(s - lse) from the saved LSE, and accumulates
//     dV += P^T dO and dK += dS^T Q in registers; dQ += dS K goes to an fp32 buffer dq_acc with
//     atomics (the only non-deterministic sum; dK and dV are bitwise reproducible: one CTA owns
//     each element and visits heads and rows in a fixed order). The chunks are pipelined (one
//     CTA barrier each) and on sm_90a four of the five products are wgmma: moba_bwd_tile.cuh.
//   moba_bwd_dq_convert: dq = bf16(scale * dq_acc).
// Slices bound dq_acc: the host runs main + convert per slice of gn KV heads [g0, g0+gn) by the
// whole sequences whose blocks are [b0, b1) and rows [ta, tb): a row only ever selects blocks of its
// own sequence, so dq_acc [tb-ta, gn*G, D] (G = H / Hkv) holds every dQ the slice adds to.
// The list of a block starts with its own rows t = block_start + i; a key tile starting at
// block_start + KT*sub skips the first KT*sub of them, which cannot see any of its keys.
#include "moba_bwd_tile.cuh"

using namespace moba;

// delta [H, T] = sum_d dO[t, h, d] * O[t, h, d] in fp32 for every row (t, h). A row is D/8 lanes,
// each loading 16 bytes of O and of dO at once, so a warp has all its loads in flight together
// (one warp per row with 4-byte loads took two dependent rounds and four times the instructions).
// grid ceil(T*H*D / 1024) x 128: 1024/D rows per CTA.
extern "C" __global__ void moba_bwd_delta(const bf16* o, const bf16* dout, float* delta, int tokens,
                                          int heads, int dim) {
  const int lanes = dim / 8;
  const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;  // 16-byte piece i of O and dO
  const size_t row = i / lanes, rows = (size_t)tokens * heads;
  float sum = 0.f;
  if (row < rows) {
    const uint4 a = *reinterpret_cast<const uint4*>(o + i * 8);
    const uint4 b = *reinterpret_cast<const uint4*>(dout + i * 8);
    const uint32_t aw[4] = {a.x, a.y, a.z, a.w}, bw[4] = {b.x, b.y, b.z, b.w};
#pragma unroll
    for (int k = 0; k < 4; k++) {
      const float2 x = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&aw[k]));
      const float2 y = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&bw[k]));
      sum += x.x * y.x + x.y * y.y;
    }
  }
  // The row's lanes are an aligned group of D/8 within the warp (every lane takes part).
  for (int off = lanes / 2; off > 0; off >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, off);
  if (row < rows && i % lanes == 0) delta[(row % heads) * tokens + row / heads] = sum;
}

// One slice: dq [ta + r, h0 + c / D, c % D] = bf16(scale * dq_acc [r, c]) for rows r < rows and
// c < width = slice_heads * D (a multiple of 4). grid ceil(rows * width / 4 / 256) x 256.
extern "C" __global__ void moba_bwd_dq_convert(const float* dq_acc, bf16* dq, int rows, int width,
                                               int heads, int dim, int h0, int ta, float scale) {
  const size_t i = ((size_t)blockIdx.x * blockDim.x + threadIdx.x) * 4;
  if (i >= (size_t)rows * width) return;
  const size_t r = i / width, c = i % width;
  float4 x = *reinterpret_cast<const float4*>(dq_acc + i);
  uint2 y;
  y.x = pack_bf16(x.x * scale, x.y * scale);
  y.y = pack_bf16(x.z * scale, x.w * scale);
  *reinterpret_cast<uint2*>(dq + ((ta + r) * heads + h0) * dim + c) = y;
}

#define MOBA_BWD(D, KT)                                                                          \
  extern "C" __global__ void __launch_bounds__(2 * KT) moba_bwd_main_d##D##_k##KT(              \
      const bf16* q, const bf16* k, const bf16* v, const bf16* dout, const float* lse,          \
      const float* delta, const int* lists, const int* list_off, float* dq_acc, bf16* dk,       \
      bf16* dv, const int* cu_seqlens, const int* cu_blocks, int seqs, int tokens, int heads,   \
      int kv_heads, int total_blocks, int block_size, float scale, int b0, int g0, int ta) {    \
    bwd_main<D, KT, false>(q, k, v, dout, lse, delta, lists, list_off, dq_acc, dk, dv,          \
                           cu_seqlens, cu_blocks, seqs, tokens, heads, kv_heads, total_blocks,  \
                           block_size, 0, scale, b0, g0, ta);                                   \
  }
MOBA_BWD(64, 64)
MOBA_BWD(64, 128)
MOBA_BWD(128, 64)
MOBA_BWD(128, 128)
