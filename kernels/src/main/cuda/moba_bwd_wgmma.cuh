// wgmma (sm_90a) for the MoBA backward tile (moba_bwd_tile.cuh): shared-memory descriptors of the
// 128-byte-swizzled slab layout (moba_common.cuh, swz_slab) and the two instruction shapes it uses.
// Compiled only where __CUDA_ARCH_FEAT_SM90_ALL is defined (the sm_90a cubin).
#pragma once
#include "moba_common.cuh"

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
namespace moba {

// Matrix descriptor of a swizzled operand at shared address addr: LBO and SBO in bytes (the
// distance between slabs along the contiguous dimension and between 8-row groups). SWIZZLE 1 is
// the 128-byte swizzle (swz<8>, atoms of 1 KiB), 2 the 64-byte one (swz<4>, atoms of 512 bytes).
template <int SWIZZLE = 1>
__device__ __forceinline__ uint64_t wg_desc(uint32_t addr, uint32_t lbo, uint32_t sbo) {
  return (uint64_t)((addr & 0x3FFFF) >> 4) | ((uint64_t)(lbo >> 4) << 16) | ((uint64_t)(sbo >> 4) << 32) |
         ((uint64_t)SWIZZLE << 62);
}
// The descriptor of the operand `bytes` further on in the same layout. The start address field
// counts 16-byte units in the low bits, and shared addresses stay below 2^18, so this is one
// 32-bit add (wg_desc's mask and shift are paid once per tile, not once per k16 step).
__device__ __forceinline__ uint64_t wg_desc_at(uint64_t desc, uint32_t bytes) {
  uint32_t lo, hi;
  asm("mov.b64 {%0, %1}, %2;\n" : "=r"(lo), "=r"(hi) : "l"(desc));
  lo += bytes >> 4;
  uint64_t moved;
  asm("mov.b64 %0, {%1, %2};\n" : "=l"(moved) : "r"(lo), "r"(hi));
  return moved;
}
__device__ __forceinline__ void wg_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wg_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wg_wait_all() { asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory"); }
// Shared memory written by cp.async (the generic proxy) before wgmma reads it (the async proxy).
__device__ __forceinline__ void fence_proxy_async() { asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory"); }

// Pins registers that an in-flight wgmma reads or writes, so that the compiler neither moves nor
// reuses them before the wait (ptxas would otherwise serialize the wgmmas, warning C7515).
template <int N>
__device__ __forceinline__ void wg_pin(float (&d)[N]) {
#pragma unroll
  for (int i = 0; i < N; i++) asm volatile("" : "+f"(d[i])::"memory");
}
// The register A operands of the two k16 steps of P and dS: live until the wait that follows.
__device__ __forceinline__ void wg_pin_fragments(uint32_t (&pa)[2][4], uint32_t (&da)[2][4]) {
#pragma unroll
  for (int i = 0; i < 8; i++) asm volatile("" : "+r"(pa[i / 4][i % 4]), "+r"(da[i / 4][i % 4])::"memory");
}

// d[64 x 32] (+)= A[64 x 16] B[16 x 32], both in shared memory, K-major unless TA (A M-major) or
// TB (B N-major). ACC = 0 overwrites d.
template <int ACC, int TA = 0, int TB = 0>
__device__ __forceinline__ void wg_m64n32k16_ss(float (&d)[16], uint64_t desc_a, uint64_t desc_b) {
  asm volatile(
      "wgmma.mma_async.sync.aligned.m64n32k16.f32.bf16.bf16 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15}, %16, %17, %18, 1, 1, %19, %20;\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
        "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15])
      : "l"(desc_a), "l"(desc_b), "n"(ACC), "n"(TA), "n"(TB));
}

// d[64 x 64] += A[64 x 16] B[16 x 64]: A in registers (the mma.sync A fragment of each warp's 16
// rows), B N-major in shared memory (transposed by the instruction).
__device__ __forceinline__ void wg_m64n64k16_rs(float (&d)[32], const uint32_t (&a)[4], uint64_t desc_b) {
  asm volatile(
      "wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}, "
      "{%32, %33, %34, %35}, %36, 1, 1, 1, 1;\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
        "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
        "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
        "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc_b));
}

// d[64 x 128] += A[64 x 16] B[16 x 128]: A in registers (the mma.sync A fragment of each warp's 16
// rows), B N-major in shared memory (transposed by the instruction).
__device__ __forceinline__ void wg_m64n128k16_rs(float (&d)[64], const uint32_t (&a)[4], uint64_t desc_b) {
  asm volatile(
      "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, "
      "{%64, %65, %66, %67}, %68, 1, 1, 1, 1;\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
        "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
        "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
        "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]),
        "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]),
        "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]),
        "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]),
        "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc_b));
}

template <int D>
__device__ __forceinline__ void wg_rs(float (&d)[D / 2], const uint32_t (&a)[4], uint64_t desc_b) {
  if constexpr (D == 64) wg_m64n64k16_rs(d, a, desc_b);
  else wg_m64n128k16_rs(d, a, desc_b);
}

}  // namespace moba
#endif
