// Elementwise memory ops of CudaBackend on bf16 or fp32 tensors of n elements (n may exceed 2^31).
// Grid-stride loops; the grid size is a function of n alone (CudaMemoryOps), so the two-pass
// reductions below add in one fixed order and are bitwise reproducible.
#include <cuda_bf16.h>

typedef __nv_bfloat16 bf16;

__device__ __forceinline__ float load(const float* p, long i) { return p[i]; }
__device__ __forceinline__ float load(const bf16* p, long i) { return __bfloat162float(p[i]); }
__device__ __forceinline__ void store(float* p, long i, float x) { p[i] = x; }
__device__ __forceinline__ void store(bf16* p, long i, float x) { p[i] = __float2bfloat16_rn(x); }

#define GRID_STRIDE(i, n) for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < (n); \
                               i += (long)gridDim.x * blockDim.x)

// dst = src with a dtype conversion (same-dtype copies use cuMemcpyDtoD).
template <typename D, typename S>
__device__ void convert(D* dst, const S* src, long n) {
  GRID_STRIDE(i, n) store(dst, i, load(src, i));
}
extern "C" __global__ void convert_f32_bf16(float* dst, const bf16* src, long n) { convert(dst, src, n); }
extern "C" __global__ void convert_bf16_f32(bf16* dst, const float* src, long n) { convert(dst, src, n); }

// dst += src; the sum is exact in fp32 before the one rounding to dst's dtype.
template <typename D, typename S>
__device__ void add(D* dst, const S* src, long n) {
  GRID_STRIDE(i, n) store(dst, i, load(dst, i) + load(src, i));
}
extern "C" __global__ void add_f32_f32(float* dst, const float* src, long n) { add(dst, src, n); }
extern "C" __global__ void add_f32_bf16(float* dst, const bf16* src, long n) { add(dst, src, n); }
extern "C" __global__ void add_bf16_f32(bf16* dst, const float* src, long n) { add(dst, src, n); }
extern "C" __global__ void add_bf16_bf16(bf16* dst, const bf16* src, long n) { add(dst, src, n); }

// t *= factor, the product taken in double as the CPU backend does, then rounded once.
template <typename T>
__device__ void scale(T* t, double factor, long n) {
  GRID_STRIDE(i, n) store(t, i, (float)((double)load(t, i) * factor));
}
extern "C" __global__ void scale_f32(float* t, double factor, long n) { scale(t, factor, n); }
extern "C" __global__ void scale_bf16(bf16* t, double factor, long n) { scale(t, factor, n); }

// Block-wide sum of one double per thread; blockDim.x is a power of two <= 1024. Tree order is
// fixed by the thread index, so the result does not depend on timing.
__device__ double block_sum(double x) {
  __shared__ double partial[1024];
  partial[threadIdx.x] = x;
  __syncthreads();
  for (int half = blockDim.x / 2; half > 0; half >>= 1) {
    if (threadIdx.x < half) partial[threadIdx.x] += partial[threadIdx.x + half];
    __syncthreads();
  }
  return partial[0];
}

// Pass 1: partials[block] = sum of x^2 over the block's grid-stride elements, in double.
template <typename T>
__device__ void sum_squares(double* partials, const T* t, long n) {
  double s = 0.0;
  GRID_STRIDE(i, n) {
    double x = load(t, i);
    s += x * x;
  }
  double total = block_sum(s);
  if (threadIdx.x == 0) partials[blockIdx.x] = total;
}
extern "C" __global__ void sum_squares_f32(double* partials, const float* t, long n) { sum_squares(partials, t, n); }
extern "C" __global__ void sum_squares_bf16(double* partials, const bf16* t, long n) { sum_squares(partials, t, n); }

// Pass 2, one block: result[0] = sum of the partials.
extern "C" __global__ void sum_partials(double* result, const double* partials, int count) {
  double s = 0.0;
  for (int i = threadIdx.x; i < count; i += blockDim.x) s += partials[i];
  double total = block_sum(s);
  if (threadIdx.x == 0) result[0] = total;
}

// flag[0] = 1 when any element is NaN or infinite. Every writer stores the same value, so the
// unordered stores need no atomics; the host zeroes the flag first.
template <typename T>
__device__ void find_non_finite(int* flag, const T* t, long n) {
  GRID_STRIDE(i, n) {
    if (!isfinite(load(t, i))) *flag = 1;
  }
}
extern "C" __global__ void find_non_finite_f32(int* flag, const float* t, long n) { find_non_finite(flag, t, n); }
extern "C" __global__ void find_non_finite_bf16(int* flag, const bf16* t, long n) { find_non_finite(flag, t, n); }

// sumsOfSquares of many fp32 tensors in two launches (the table is TensorChunks'). Pass 1, block
// b: partials[b] = sum of x^2 over chunk b, elements [start, min(start + chunk, n)) of tensor
// chunk_tensor[b] at addresses[tensor], in double. The chunks of one tensor are consecutive.
extern "C" __global__ void sum_squares_chunks_f32(double* partials, const unsigned long long* addresses,
                                                  const long* sizes, const int* chunk_tensor,
                                                  const long* chunk_start, long chunk) {
  const int i = chunk_tensor[blockIdx.x];
  const long start = chunk_start[blockIdx.x], end = min(start + chunk, sizes[i]);
  const float* t = reinterpret_cast<const float*>(addresses[i]);
  double s = 0.0;
  for (long e = start + threadIdx.x; e < end; e += blockDim.x) {
    double x = t[e];
    s += x * x;
  }
  double total = block_sum(s);
  if (threadIdx.x == 0) partials[blockIdx.x] = total;
}

// Pass 2, block i: result[i] = the sum of tensor i's chunk partials [first_chunk[i],
// first_chunk[i + 1]), in a fixed tree (0 for an empty tensor).
extern "C" __global__ void sum_chunk_partials(double* result, const double* partials, const int* first_chunk) {
  double s = 0.0;
  for (int c = first_chunk[blockIdx.x] + threadIdx.x; c < first_chunk[blockIdx.x + 1]; c += blockDim.x) s += partials[c];
  double total = block_sum(s);
  if (threadIdx.x == 0) result[blockIdx.x] = total;
}

// copyAll of fp32 tensors into bf16 ones in one launch (the table is TensorChunks'): block b
// converts chunk b, elements [start, min(start + chunk, n)) of pair i = chunk_tensor[b], whose
// bf16 destination and fp32 source are at addresses[2i] and addresses[2i + 1].
extern "C" __global__ void convert_bf16_f32_chunks(const unsigned long long* addresses, const long* sizes,
                                                   const int* chunk_tensor, const long* chunk_start,
                                                   long chunk) {
  const int i = chunk_tensor[blockIdx.x];
  const long start = chunk_start[blockIdx.x], end = min(start + chunk, sizes[i]);
  bf16* dst = reinterpret_cast<bf16*>(addresses[2 * i]);
  const float* src = reinterpret_cast<const float*>(addresses[2 * i + 1]);
  for (long e = start + threadIdx.x; e < end; e += blockDim.x) store(dst, e, load(src, e));
}

// zeroAll of fp32 tensors in one launch (the table is TensorChunks'): block b zeroes chunk b of
// tensor chunk_tensor[b] at addresses[tensor] (a step's gradients, one memset each before).
extern "C" __global__ void zero_f32_chunks(const unsigned long long* addresses, const long* sizes,
                                           const int* chunk_tensor, const long* chunk_start, long chunk) {
  const int i = chunk_tensor[blockIdx.x];
  const long start = chunk_start[blockIdx.x], end = min(start + chunk, sizes[i]);
  float* t = reinterpret_cast<float*>(addresses[i]);
  for (long e = start + threadIdx.x; e < end; e += blockDim.x) t[e] = 0.0f;
}
