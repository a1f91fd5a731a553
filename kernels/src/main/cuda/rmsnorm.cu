// RMSNorm (RmsNormCpu is the definition), one warp per row of C channels, fp32 arithmetic:
//   forward:  rstd = 1 / sqrt(mean(x^2) + eps);  out = x * rstd * weight
//   backward: g = dOut * weight;  dx += rstd * (g - x * rstd^2 * mean(g * x));
//             dWeight += sum over rows of dOut * x * rstd
// x, out, dOut, dx [T, C] bf16 or fp32 (one dtype per call); weight [C] bf16 or fp32; rstd [T] and
// dWeight [C] fp32. Lane l handles packs l, l + 32, ... of N channels; the row sums are warp
// butterflies, so every lane holds the same total. A row is read from DRAM once: its second read
// (to normalize) hits L1.
#include "pack.cuh"

#define WARP 32

template <typename A, typename W, int N>
__device__ void rmsnorm_forward(A* out, float* rstd, const A* x, const W* weight, int rows, int cols,
                                float eps) {
  int row = blockIdx.x * (blockDim.x / WARP) + threadIdx.x / WARP;
  int lane = threadIdx.x % WARP;
  if (row >= rows) return;
  const A* xr = x + (long)row * cols;
  A* outr = out + (long)row * cols;
  float sum_sq = 0.0f;
  for (int c = lane * N; c < cols; c += WARP * N) {
    float f[N];
    load<N>(xr + c, f);
#pragma unroll
    for (int k = 0; k < N; k++) sum_sq += f[k] * f[k];
  }
  float s = 1.0f / sqrtf(warp_sum(sum_sq) / cols + eps);
  if (lane == 0) rstd[row] = s;
  for (int c = lane * N; c < cols; c += WARP * N) {
    float f[N], w[N], o[N];
    load<N>(xr + c, f);
    load<N>(weight + c, w);
#pragma unroll
    for (int k = 0; k < N; k++) o[k] = f[k] * s * w[k];
    store<N>(outr + c, o);
  }
}

// row[0 .. N) += f in shared memory: two 16-byte accesses for N = 8 (the row is 32-byte aligned
// then), where eight scalar ones at a 32-byte lane stride would conflict eight ways.
template <int N>
__device__ __forceinline__ void add_shared(float* row, const float (&f)[N]) {
  if constexpr (N == 8) {
    float4* p = reinterpret_cast<float4*>(row);
    float4 a = p[0];
    float4 b = p[1];
    a.x += f[0]; a.y += f[1]; a.z += f[2]; a.w += f[3];
    b.x += f[4]; b.y += f[5]; b.z += f[6]; b.w += f[7];
    p[0] = a;
    p[1] = b;
  } else {
#pragma unroll
    for (int k = 0; k < N; k++) row[k] += f[k];
  }
}

// Each warp walks rows warp, warp + warps * grid, ... (the grid depends on T alone) and adds its
// dWeight terms into its own shared row, lanes owning fixed channels; the block then adds its warps'
// rows in warp order into partials [gridDim.x, C], which rmsnorm_dweight sums in block order: no
// atomics, the same bits on every run.
template <typename A, typename W, int N>
__device__ void rmsnorm_backward(A* dx, float* partials, const A* dout, const A* x, const W* weight,
                                 const float* rstd, int rows, int cols) {
  extern __shared__ float dweight_rows[];  // [warps, C]
  int warps = blockDim.x / WARP;
  int warp = threadIdx.x / WARP;
  int lane = threadIdx.x % WARP;
  float* mine = dweight_rows + (long)warp * cols;
  for (int c = lane * N; c < cols; c += WARP * N) {
#pragma unroll
    for (int k = 0; k < N; k++) mine[c + k] = 0.0f;
  }
  for (int row = blockIdx.x * warps + warp; row < rows; row += gridDim.x * warps) {
    long base = (long)row * cols;
    float s = rstd[row];
    float gx = 0.0f;
    for (int c = lane * N; c < cols; c += WARP * N) {
      float d[N], f[N], w[N];
      load<N>(dout + base + c, d);
      load<N>(x + base + c, f);
      load<N>(weight + c, w);
#pragma unroll
      for (int k = 0; k < N; k++) gx += d[k] * w[k] * f[k];
    }
    float scaled = s * s * warp_sum(gx) / cols;
    for (int c = lane * N; c < cols; c += WARP * N) {
      float d[N], f[N], w[N], g[N], dw[N];
      load<N>(dout + base + c, d);
      load<N>(x + base + c, f);
      load<N>(weight + c, w);
      load<N>(dx + base + c, g);
#pragma unroll
      for (int k = 0; k < N; k++) {
        g[k] += s * (d[k] * w[k] - f[k] * scaled);
        dw[k] = d[k] * f[k] * s;
      }
      store<N>(dx + base + c, g);
      add_shared<N>(mine + c, dw);
    }
  }
  __syncthreads();
  for (int c = threadIdx.x; c < cols; c += blockDim.x) {
    float sum = 0.0f;
    for (int w = 0; w < warps; w++) sum += dweight_rows[(long)w * cols + c];
    partials[(long)blockIdx.x * cols + c] = sum;
  }
}

#define RMSNORM(A, W, N)                                                                           \
  extern "C" __global__ void rmsnorm_forward_##A##_##W##_x##N(                                     \
      A* out, float* rstd, const A* x, const W* weight, int rows, int cols, float eps) {           \
    rmsnorm_forward<A, W, N>(out, rstd, x, weight, rows, cols, eps);                               \
  }                                                                                                \
  extern "C" __global__ void rmsnorm_backward_##A##_##W##_x##N(                                    \
      A* dx, float* partials, const A* dout, const A* x, const W* weight, const float* rstd,       \
      int rows, int cols) {                                                                        \
    rmsnorm_backward<A, W, N>(dx, partials, dout, x, weight, rstd, rows, cols);                    \
  }
RMSNORM(bf16, bf16, 8)
RMSNORM(bf16, bf16, 1)
RMSNORM(bf16, f32, 8)
RMSNORM(bf16, f32, 1)
RMSNORM(f32, bf16, 8)
RMSNORM(f32, bf16, 1)
RMSNORM(f32, f32, 8)
RMSNORM(f32, f32, 1)

// dWeight [C] += partials [blocks, C] summed in a fixed order: a 32 x 32 block takes 32 channels;
// thread (x, y) adds blocks y, y + 32, ... of channel x, then row y = 0 adds the 32 sums in y order.
extern "C" __global__ void rmsnorm_dweight(float* dweight, const float* partials, int blocks, int cols) {
  __shared__ float sums[32][33];
  int c = blockIdx.x * 32 + threadIdx.x;
  float sum = 0.0f;
  if (c < cols) {
    for (int b = threadIdx.y; b < blocks; b += 32) sum += partials[(long)b * cols + c];
  }
  sums[threadIdx.y][threadIdx.x] = sum;
  __syncthreads();
  if (threadIdx.y == 0 && c < cols) {
    float total = 0.0f;
    for (int y = 0; y < 32; y++) total += sums[y][threadIdx.x];
    dweight[c] += total;
  }
}
