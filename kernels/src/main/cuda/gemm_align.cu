// Copies that let GemmCuda run products with misaligned operand rows on the wgmma kernel
// (GemmAlignment, docs/gemm-cuda.md "Misaligned rows"): an operand whose contiguous dimension is not
// a multiple of 8 bf16 (16 bytes: an odd vocabulary, V = 50257) is copied a chunk at a time into
// rows padded with zeros, which add nothing to the products; a padded output is copied back.
#include <cuda_bf16.h>

typedef __nv_bfloat16 bf16;

// dst [dst_rows, dst_ld] = src [rows, cols] (row pitch src_ld) zero-padded to the right and below.
// A thread writes 8 consecutive dst elements (dst_ld % 8 == 0, so one 16-byte store) and reads the
// source elements one by one, since the source rows are the misaligned ones.
extern "C" __global__ void gemm_pad_bf16(bf16* __restrict__ dst, const bf16* __restrict__ src,
                                         long dst_rows, int dst_ld, long rows, int cols, long src_ld) {
  const int packs_per_row = dst_ld / 8;
  const long packs = dst_rows * packs_per_row;
  const bf16 zero = __float2bfloat16_rn(0.0f);
  for (long p = (long)blockIdx.x * blockDim.x + threadIdx.x; p < packs; p += (long)gridDim.x * blockDim.x) {
    const long r = p / packs_per_row;
    const int c0 = (int)(p % packs_per_row) * 8;
    __align__(16) bf16 v[8];
#pragma unroll
    for (int j = 0; j < 8; j++) {
      const int c = c0 + j;
      v[j] = r < rows && c < cols ? src[r * src_ld + c] : zero;
    }
    *reinterpret_cast<uint4*>(dst + r * dst_ld + c0) = *reinterpret_cast<const uint4*>(v);
  }
}

// out [rows, cols] (=|+=) src [rows, cols] with row pitch src_ld, fp32 source, out bf16 or fp32:
// the valid part of a padded fp32 product, rounded once to out's dtype.
extern "C" __global__ void gemm_unpad_f32(void* __restrict__ out, const float* __restrict__ src,
                                          long rows, int cols, int src_ld, int out_f32, int accumulate) {
  const long total = rows * cols;
  for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (long)gridDim.x * blockDim.x) {
    const long r = i / cols;
    const int c = (int)(i % cols);
    const float v = src[r * src_ld + c];
    if (out_f32) {
      float* o = static_cast<float*>(out);
      o[i] = accumulate ? o[i] + v : v;
    } else {
      bf16* o = static_cast<bf16*>(out);
      o[i] = __float2bfloat16_rn(accumulate ? __bfloat162float(o[i]) + v : v);
    }
  }
}
