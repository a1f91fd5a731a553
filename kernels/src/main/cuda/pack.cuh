// Loads and stores of bf16 or fp32 elements as fp32 registers for the pointwise ops, a pack of N
// consecutive elements at a time: N = 8 uses 16-byte vector accesses (one for bf16, two for fp32)
// and needs a 16-byte aligned address (the launchers pick it only when every row length is a
// multiple of 8; allocations are 256-byte aligned); N = 1 is the scalar fallback for other sizes.
// No __restrict__ and no read-only cache: RoPE, SwiGLU and cross-entropy may run in place.
#pragma once
#include <cuda_bf16.h>

typedef __nv_bfloat16 bf16;
typedef float f32;

#define GRID_STRIDE(i, n) for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < (n); \
                               i += (long)gridDim.x * blockDim.x)

__device__ __forceinline__ float to_f32(float x) { return x; }
__device__ __forceinline__ float to_f32(bf16 x) { return __bfloat162float(x); }

template <typename T> __device__ __forceinline__ T from_f32(float x);
template <> __device__ __forceinline__ float from_f32<float>(float x) { return x; }
template <> __device__ __forceinline__ bf16 from_f32<bf16>(float x) { return __float2bfloat16_rn(x); }

__device__ __forceinline__ void unpack(uint4 raw, float* f) {
  const __nv_bfloat162* h = reinterpret_cast<const __nv_bfloat162*>(&raw);
#pragma unroll
  for (int i = 0; i < 4; i++) {
    float2 two = __bfloat1622float2(h[i]);
    f[2 * i] = two.x;
    f[2 * i + 1] = two.y;
  }
}

__device__ __forceinline__ uint4 pack_bf16(const float* f) {
  uint4 raw;
  __nv_bfloat162* h = reinterpret_cast<__nv_bfloat162*>(&raw);
#pragma unroll
  for (int i = 0; i < 4; i++) h[i] = __floats2bfloat162_rn(f[2 * i], f[2 * i + 1]);
  return raw;
}

// f[0 .. N) = p[0 .. N)
template <int N, typename T>
__device__ __forceinline__ void load(const T* p, float (&f)[N]) {
  if constexpr (N == 1) {
    f[0] = to_f32(*p);
  } else {
    static_assert(N == 8, "packs of 1 or 8 elements");
    if constexpr (sizeof(T) == 2) {
      unpack(*reinterpret_cast<const uint4*>(p), f);
    } else {
      float4 a = reinterpret_cast<const float4*>(p)[0];
      float4 b = reinterpret_cast<const float4*>(p)[1];
      f[0] = a.x; f[1] = a.y; f[2] = a.z; f[3] = a.w;
      f[4] = b.x; f[5] = b.y; f[6] = b.z; f[7] = b.w;
    }
  }
}

// p[0 .. N) = f[0 .. N), rounded to T. Streaming (evict-first) stores keep a large output that
// nothing reads soon (dLogits) from pushing the inputs out of L2.
template <int N, bool STREAM = false, typename T>
__device__ __forceinline__ void store(T* p, const float (&f)[N]) {
  if constexpr (N == 1) {
    *p = from_f32<T>(f[0]);
  } else if constexpr (sizeof(T) == 2) {
    uint4 raw = pack_bf16(f);
    if constexpr (STREAM) __stcs(reinterpret_cast<uint4*>(p), raw);
    else *reinterpret_cast<uint4*>(p) = raw;
  } else {
    float4 a = make_float4(f[0], f[1], f[2], f[3]);
    float4 b = make_float4(f[4], f[5], f[6], f[7]);
    if constexpr (STREAM) {
      __stcs(reinterpret_cast<float4*>(p), a);
      __stcs(reinterpret_cast<float4*>(p) + 1, b);
    } else {
      reinterpret_cast<float4*>(p)[0] = a;
      reinterpret_cast<float4*>(p)[1] = b;
    }
  }
}

// Sum over the 32 lanes by a butterfly: every lane gets the same value, added in one fixed order.
__device__ __forceinline__ float warp_sum(float x) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) x += __shfl_xor_sync(0xffffffffu, x, offset);
  return x;
}
