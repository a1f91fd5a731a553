// MoBA block centroids (MoBA, arXiv 2502.13189, Sec. 2.2; BlockCentroids is the definition): the
// mean of the keys of each key block, per KV head and channel, in fp32. Blocks restart at every
// sequence start and are numbered across the packed batch: sequence s owns global blocks
// [cu_blocks[s], cu_blocks[s+1]) with cu_blocks[s+1] - cu_blocks[s] = ceil(len_s / B). Block j of a
// sequence covers its keys [jB, min((j+1)B, len)); a partial last block is averaged over what it has.
// Layouts: k [T, Hkv, D] bf16 flattened to [T, C], C = Hkv * D; centroids [blocks, Hkv, D] fp32.
//
// One thread per (block, channel) sums the block's keys in key order: a fixed order, so the result
// is reproducible, and a warp reads 32 neighbouring channels of one key row at a time.
#include <cuda_bf16.h>
#include "varlen.cuh"

// Grid: x = global blocks, y = channel groups of blockDim.x.
extern "C" __global__ void block_centroids(float* __restrict__ centroids, const __nv_bfloat16* __restrict__ k,
                                           const int* __restrict__ cu_seqlens,
                                           const int* __restrict__ cu_blocks, int sequences,
                                           int channels, int block_size) {
  int c = blockIdx.y * blockDim.x + threadIdx.x;
  if (c >= channels) return;
  int block = blockIdx.x;
  int s = sequence_of(cu_blocks, sequences, block);
  long lo = cu_seqlens[s] + (long)(block - cu_blocks[s]) * block_size;
  long hi = min(lo + block_size, (long)cu_seqlens[s + 1]);
  const __nv_bfloat16* key = k + lo * channels + c;
  // Four independent partial sums keep four loads in flight; they are added in a fixed order.
  float a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f;
  long n = hi - lo;
  long i = 0;
  for (; i + 4 <= n; i += 4) {
    a0 += __bfloat162float(key[(i + 0) * channels]);
    a1 += __bfloat162float(key[(i + 1) * channels]);
    a2 += __bfloat162float(key[(i + 2) * channels]);
    a3 += __bfloat162float(key[(i + 3) * channels]);
  }
  for (; i < n; i++) a0 += __bfloat162float(key[i * channels]);
  centroids[(long)block * channels + c] = ((a0 + a1) + (a2 + a3)) / (float)n;
}
