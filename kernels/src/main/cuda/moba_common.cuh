// Shared device helpers of the MoBA kernels (moba_router.cu, moba_fwd.cu, moba_bwd.cu): the sm_80
// tensor-core path (mma.sync m16n8k16 bf16 -> fp32, ldmatrix, cp.async), swizzled shared-memory
// tiles and the varlen index maps. Layouts are those of docs/moba.md: q, o [T, H, D], k, v
// [T, Hkv, D], lse [H, T], routing [H, T, topk]; centroids [blocks, Hkv, D] fp32 with blocks
// numbered globally across the packed batch (sequence s owns blocks [cu_blocks[s], cu_blocks[s+1])).
#pragma once
#include <cuda_bf16.h>
#include <stdint.h>

namespace moba {

typedef __nv_bfloat16 bf16;

// Every tiled kernel runs 4 warps; warp w owns rows [16w, 16w+16) of a 64-row tile.
constexpr int kThreads = 128;
constexpr int kTile = 64;
// List entries pack the query token and the routing slot it came from: (t << 6) | slot, so
// topk <= 64 and T < 2^25.
constexpr int kSlotBits = 6;
constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;

__device__ __forceinline__ uint32_t smem_addr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// 16-byte global -> shared copy that bypasses L1; valid == false writes zeros (src-size 0), so
// tiles past the end of a sequence or a list are zero, never stale.
__device__ __forceinline__ void cp_async16(void* dst, const void* src, bool valid) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_addr(dst)), "l"(src),
               "r"(valid ? 16 : 0));
}
// 4-byte global -> shared copy (through L1: 4 bytes may not bypass it); valid == false writes zero.
__device__ __forceinline__ void cp_async4(void* dst, const void* src, bool valid) {
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(smem_addr(dst)), "l"(src),
               "r"(valid ? 4 : 0));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n"); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

__device__ __forceinline__ void ldsm_x4(uint32_t r[4], uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}
__device__ __forceinline__ void ldsm_x4_t(uint32_t r[4], uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}

// c[16x8] += a[16x16] * b[16x8], bf16 operands, fp32 accumulators.
__device__ __forceinline__ void mma(float c[4], const uint32_t a[4], uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
      "{%8,%9}, {%0,%1,%2,%3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

__device__ __forceinline__ uint32_t pack_bf16(float lo, float hi) {
  __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<uint32_t*>(&v);
}

// Byte offset of 16-byte chunk `chunk` of row `row` in a tile whose rows hold CHUNKS chunks. The
// XOR swizzle puts the 8 rows that one ldmatrix phase reads into 8 different 16-byte bank groups
// (rows of 128 or 256 bytes would all start in bank 0 otherwise).
template <int CHUNKS>
__device__ __forceinline__ int swz(int row, int chunk) {
  static_assert(CHUNKS == 4 || CHUNKS % 8 == 0, "row width");
  if constexpr (CHUNKS == 4) {
    return row * 64 + ((chunk ^ ((row >> 1) & 3)) << 4);
  } else {
    return row * CHUNKS * 16 + ((chunk ^ (row & 7)) << 4);
  }
}

// The slab layout of a tile of ROWS rows x CHUNKS 16-byte chunks, which wgmma reads through a
// 128-byte-swizzle descriptor: 64-column (128-byte) slabs of ROWS rows one after the other, each
// row swizzled as swz<8>. For rows of at most 128 bytes it is swz<CHUNKS> itself.
template <int CHUNKS, int ROWS>
__device__ __forceinline__ int swz_slab(int row, int chunk) {
  if constexpr (CHUNKS <= 8) {
    return swz<CHUNKS>(row, chunk);
  } else {
    return (chunk >> 3) * ROWS * 128 + swz<8>(row, chunk & 7);
  }
}
// swz<CH> for ROWS = 0 (the forward's and router's tiles), else swz_slab<CH, ROWS>.
template <int CH, int ROWS>
__device__ __forceinline__ int tile_off(int row, int chunk) {
  if constexpr (ROWS == 0) {
    return swz<CH>(row, chunk);
  } else {
    return swz_slab<CH, ROWS>(row, chunk);
  }
}

// Fragment addresses (lane l) for a tile of D bf16 per row, swizzled with swz<D/8> (ROWS = 0) or
// laid out in slabs of ROWS rows (swz_slab).
// A operand (16x16, rows r0.., k chunk pair kc..kc+1) from a [row][k] tile.
template <int CH, int ROWS = 0>
__device__ __forceinline__ uint32_t frag_a(const bf16* tile, int r0, int kc, int lane) {
  return smem_addr(tile) + tile_off<CH, ROWS>(r0 + (lane & 15), kc + (lane >> 4));
}
// B operand of two n8 tiles (n0.., k chunk pair kc..) from a [n][k] tile (keys as rows, "K").
template <int CH, int ROWS = 0>
__device__ __forceinline__ uint32_t frag_b(const bf16* tile, int n0, int kc, int lane) {
  return smem_addr(tile) + tile_off<CH, ROWS>(n0 + (lane & 7) + ((lane >> 4) << 3), kc + ((lane >> 3) & 1));
}
// B operand of two n8 tiles (n chunk nc.., k rows k0..k0+15) from a [k][n] tile ("V"), .trans.
template <int CH, int ROWS = 0>
__device__ __forceinline__ uint32_t frag_bt(const bf16* tile, int k0, int nc, int lane) {
  return smem_addr(tile) + tile_off<CH, ROWS>(k0 + (lane & 7) + (((lane >> 3) & 1) << 3), nc + (lane >> 4));
}
// A operand (rows m chunk mc.., k rows k0..) from a [k][m] tile, .trans.
template <int CH, int ROWS = 0>
__device__ __forceinline__ uint32_t frag_at(const bf16* tile, int k0, int mc, int lane) {
  return smem_addr(tile) + tile_off<CH, ROWS>(k0 + (lane & 7) + ((lane >> 4) << 3), mc + ((lane >> 3) & 1));
}

// Index of the segment of the ascending prefix array cu[0..n] that holds x (cu[i] <= x < cu[i+1]).
__device__ __forceinline__ int find_segment(const int* cu, int n, int x) {
  int lo = 0, hi = n - 1;
  while (lo < hi) {
    int mid = (lo + hi + 1) >> 1;
    if (cu[mid] <= x) lo = mid; else hi = mid - 1;
  }
  return lo;
}

}  // namespace moba
