// RMSNorm (RmsNormCpu is the definition), one warp per row of C channels, fp32 arithmetic:
//   forward:  rstd = 1 / sqrt(mean(x^2) + eps);  out = x * rstd * weight
//   backward: g = dOut * weight;  dx += rstd * (g - x * rstd^2 * mean(g * x));
//             dWeight += sum over rows of dOut * x * rstd
// x, out, dOut, dx [T, C] bf16 or fp32 (one dtype per call); weight [C] bf16 or fp32; rstd [T] and
// dWeight [C] fp32. Lane l handles packs l, l + 32, ... of N channels; the row sums are warp
// butterflies, so every lane holds the same total. A row is read from DRAM once: its second read
// (to normalize) hits L1. bf16 rows of C = 256 P channels (P <= 4; the models' 768 and 1024) run the
// *_held kernels, which load a row's packs all at once and keep them in registers.
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

// The forward for bf16 rows of exactly C = 256 P channels: the row's P packs per lane are loaded
// together and held as raw bf16, one DRAM round trip per row (rmsnorm_forward's loop waits pack by
// pack). The arithmetic and its order are rmsnorm_forward's.
template <typename W, int P>
__device__ void rmsnorm_forward_held(bf16* out, float* rstd, const bf16* x, const W* weight, int rows, float eps) {
  constexpr int cols = WARP * 8 * P;
  int row = blockIdx.x * (blockDim.x / WARP) + threadIdx.x / WARP;
  int lane = threadIdx.x % WARP;
  if (row >= rows) return;
  long base = (long)row * cols;
  uint4 x_raw[P];
#pragma unroll
  for (int p = 0; p < P; p++) x_raw[p] = *reinterpret_cast<const uint4*>(x + base + (p * WARP + lane) * 8);
  float sum_sq = 0.0f;
#pragma unroll
  for (int p = 0; p < P; p++) {
    float f[8];
    unpack(x_raw[p], f);
#pragma unroll
    for (int k = 0; k < 8; k++) sum_sq += f[k] * f[k];
  }
  float s = 1.0f / sqrtf(warp_sum(sum_sq) / cols + eps);
  if (lane == 0) rstd[row] = s;
#pragma unroll
  for (int p = 0; p < P; p++) {
    const int c = (p * WARP + lane) * 8;
    float f[8], w[8], o[8];
    unpack(x_raw[p], f);
    load<8>(weight + c, w);
#pragma unroll
    for (int k = 0; k < 8; k++) o[k] = f[k] * s * w[k];
    store<8>(out + base + c, o);
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

// The block's partial dWeight: its warps' shared rows [warps, C] added in warp order into row
// blockIdx.x of partials [gridDim.x, C] (both backward kernels end with it).
__device__ __forceinline__ void block_dweight_partials(float* partials, const float* dweight_rows, int warps,
                                                       int cols) {
  __syncthreads();
  for (int c = threadIdx.x; c < cols; c += blockDim.x) {
    float sum = 0.0f;
    for (int w = 0; w < warps; w++) sum += dweight_rows[(long)w * cols + c];
    partials[(long)blockIdx.x * cols + c] = sum;
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
  block_dweight_partials(partials, dweight_rows, warps, cols);
}

// The backward for bf16 rows of exactly C = 256 P channels (P packs of 8 per lane): a row's dOut, x
// and dx are loaded together and held in registers as raw bf16 packs, so each row costs one DRAM
// round trip where rmsnorm_backward's loop waits for its loads pack by pack and loads dx only after
// the row's reduction. The arithmetic, its order and the dWeight rows are rmsnorm_backward's.
template <typename W, int P>
__device__ void rmsnorm_backward_held(bf16* dx, float* partials, const bf16* dout, const bf16* x, const W* weight,
                                      const float* rstd, int rows) {
  constexpr int cols = WARP * 8 * P;
  extern __shared__ float dweight_rows[];  // [warps, C]
  int warps = blockDim.x / WARP;
  int warp = threadIdx.x / WARP;
  int lane = threadIdx.x % WARP;
  float* mine = dweight_rows + (long)warp * cols;
#pragma unroll
  for (int p = 0; p < P; p++) {
#pragma unroll
    for (int k = 0; k < 8; k++) mine[(p * WARP + lane) * 8 + k] = 0.0f;
  }
  for (int row = blockIdx.x * warps + warp; row < rows; row += gridDim.x * warps) {
    long base = (long)row * cols;
    uint4 d_raw[P], x_raw[P], g_raw[P];
#pragma unroll
    for (int p = 0; p < P; p++) {
      long at = base + (p * WARP + lane) * 8;
      d_raw[p] = *reinterpret_cast<const uint4*>(dout + at);
      x_raw[p] = *reinterpret_cast<const uint4*>(x + at);
      g_raw[p] = *reinterpret_cast<const uint4*>(dx + at);
    }
    float s = rstd[row];
    float gx = 0.0f;
#pragma unroll
    for (int p = 0; p < P; p++) {
      float d[8], f[8], w[8];
      unpack(d_raw[p], d);
      unpack(x_raw[p], f);
      load<8>(weight + (p * WARP + lane) * 8, w);
#pragma unroll
      for (int k = 0; k < 8; k++) gx += d[k] * w[k] * f[k];
    }
    float scaled = s * s * warp_sum(gx) / cols;
#pragma unroll
    for (int p = 0; p < P; p++) {
      const int c = (p * WARP + lane) * 8;
      float d[8], f[8], w[8], g[8], dw[8];
      unpack(d_raw[p], d);
      unpack(x_raw[p], f);
      unpack(g_raw[p], g);
      load<8>(weight + c, w);
#pragma unroll
      for (int k = 0; k < 8; k++) {
        g[k] += s * (d[k] * w[k] - f[k] * scaled);
        dw[k] = d[k] * f[k] * s;
      }
      store<8>(dx + base + c, g);
      add_shared<8>(mine + c, dw);
    }
  }
  block_dweight_partials(partials, dweight_rows, warps, cols);
}

#define RMSNORM_HELD(W, P)                                                                         \
  extern "C" __global__ void rmsnorm_forward_held_##W##_p##P(bf16* out, float* rstd, const bf16* x,  \
                                                             const W* weight, int rows, float eps) { \
    rmsnorm_forward_held<W, P>(out, rstd, x, weight, rows, eps);                                   \
  }                                                                                                \
  extern "C" __global__ void rmsnorm_backward_held_##W##_p##P(bf16* dx, float* partials, const bf16* dout, \
                                                              const bf16* x, const W* weight,      \
                                                              const float* rstd, int rows) {       \
    rmsnorm_backward_held<W, P>(dx, partials, dout, x, weight, rstd, rows);                        \
  }
RMSNORM_HELD(bf16, 1)
RMSNORM_HELD(bf16, 2)
RMSNORM_HELD(bf16, 3)
RMSNORM_HELD(bf16, 4)
RMSNORM_HELD(f32, 1)
RMSNORM_HELD(f32, 2)
RMSNORM_HELD(f32, 3)
RMSNORM_HELD(f32, 4)

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
