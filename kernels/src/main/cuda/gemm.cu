// Dense bf16 GEMM of the CUDA backend: out[M, N] (=|+=) op(a)[M, K] @ op(b)[K, N], fp32 accumulation.
// MatmulCpu is its definition, docs/gemm-cuda.md its design. Operands are row-major bf16:
//   a [M, K], or [K, M] when TA (op(a) = a^T);   b [K, N], or [N, K] when TB (op(b) = b^T).
// out is bf16 or fp32 (out_f32), overwritten or accumulated into (accumulate).
//
// Split-K: with k_split < K the K range splits into S = ceil(K / k_split) pieces; the product of
// piece z over [z * k_split, (z+1) * k_split) goes as fp32 partials into partials[z] ([S, M, N],
// overwritten) instead of out; gemm_reduce_splits then adds them in order z = 0..S-1 into out, so
// the sum order is fixed by the shape alone (reproducible).
//
// Four main-loop kernels share that contract and the epilogue:
//   gemm_mma_*    any shape and alignment, every GPU from sm_80 on: bounds-checked element loads into
//                 K-major shared tiles, mma.sync m16n8k16 (the sm_80 path and the unaligned fallback).
//                 Grid: (N tiles, M tiles, S).
//   gemm_wgmma_*  sm_90a only: persistent blocks (at most one per SM) walking 128x256 output tiles,
//                 a 4-stage cp.async pipeline into 128-byte-swizzled shared tiles that runs on into
//                 the next tile, wgmma m64n256k16 of two warpgroups. Needs rows that start on 16
//                 bytes: K % 8 == 0 for a K-major operand, M % 8 (A) or N % 8 (B) for an M/N-major one.
//   gemm_ws_*     sm_90a only, the same tiles, rows and tile order with a copying warpgroup and
//                 per-stage mbarriers instead of a block barrier per K step (gemm_ws.cuh): what the
//                 launcher runs on sm_90a (the pipelined gemm_wgmma_* only on request, for comparisons).
//   gemm_tma_*    sm_90a only, gemm_ws_* with the copies issued by one thread as bulk tensor copies
//                 from tensor maps the launcher encodes (gemm_tma.cuh); gemm_tma3st_* the same with
//                 3 stages and the bf16 output stored by the copy engine too; on request until they
//                 have passed the GPU parity tests through Java.
// gemm_tma3st_swiglu_nt (gemm_swiglu.cuh) is gemm_tma3st_nt for the MLP's gate and up projections with
// SwiGLU in the epilogue.
#include <cuda_bf16.h>
#include <stdint.h>

// ---- shared epilogue -------------------------------------------------------------------------------

// The parameters of every main-loop kernel, in the launcher's order (GemmCuda.launch).
#define GEMM_PARAMS                                                                                    \
  void *out, float *partials, const __nv_bfloat16 *__restrict__ a, const __nv_bfloat16 *__restrict__ b, \
      int m, int n, int k, int k_split, int out_f32, int accumulate

struct GemmOut {
  void* out;        // [M, N] bf16 or fp32
  float* partials;  // [S, M, N] fp32 when splits > 1
  int m, n;
  int out_f32;
  int accumulate;
  int splits;  // S
  int split;   // z of the tile being stored
};

// Stores the pair out[row, col], out[row, col + 1] (col even), skipping what lies outside [M, N).
__device__ __forceinline__ void store_pair(const GemmOut& o, long row, int col, float v0, float v1) {
  if (row >= o.m || col >= o.n) return;
  bool both = col + 1 < o.n;
  bool paired = both && (o.n & 1) == 0;  // even N: the pair is 8 (fp32) or 4 (bf16) bytes aligned
  long at = row * o.n + col;
  if (o.splits > 1 || o.out_f32) {
    float* dst = o.splits > 1 ? o.partials + (long)o.split * o.m * o.n + at : static_cast<float*>(o.out) + at;
    bool acc = o.splits == 1 && o.accumulate;
    if (paired) {
      float2 v = make_float2(v0, v1);
      if (acc) {
        float2 old = *reinterpret_cast<float2*>(dst);
        v.x += old.x;
        v.y += old.y;
      }
      *reinterpret_cast<float2*>(dst) = v;
    } else {
      dst[0] = acc ? dst[0] + v0 : v0;
      if (both) dst[1] = acc ? dst[1] + v1 : v1;
    }
    return;
  }
  __nv_bfloat16* dst = static_cast<__nv_bfloat16*>(o.out) + at;
  if (paired) {
    __nv_bfloat162* d2 = reinterpret_cast<__nv_bfloat162*>(dst);
    if (o.accumulate) {
      float2 old = __bfloat1622float2(*d2);
      v0 += old.x;
      v1 += old.y;
    }
    *d2 = __floats2bfloat162_rn(v0, v1);
  } else {
    dst[0] = __float2bfloat16_rn(o.accumulate ? __bfloat162float(dst[0]) + v0 : v0);
    if (both) dst[1] = __float2bfloat16_rn(o.accumulate ? __bfloat162float(dst[1]) + v1 : v1);
  }
}

// out (=|+=) sum over z = 0..splits-1 of partials[z], in that order. partials [splits, total] fp32.
extern "C" __global__ void gemm_reduce_splits(void* out, const float* __restrict__ partials, int splits,
                                              long total, int out_f32, int accumulate) {
  for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (long)gridDim.x * blockDim.x) {
    float sum = 0.0f;
    for (int z = 0; z < splits; z++) sum += partials[(long)z * total + i];
    if (out_f32) {
      float* o = static_cast<float*>(out);
      o[i] = accumulate ? o[i] + sum : sum;
    } else {
      __nv_bfloat16* o = static_cast<__nv_bfloat16*>(out);
      o[i] = __float2bfloat16_rn(accumulate ? __bfloat162float(o[i]) + sum : sum);
    }
  }
}

// ---- gemm_mma: any shape, mma.sync (sm_80 on) -------------------------------------------------------
// Block tile 128x128, K step 32, 8 warps as 2 (M) x 4 (N), warp tile 64x32 = 4x4 m16n8k16 tiles.
// Both operands land K-major in shared memory (row pitch 40 bf16: the fragment loads of a warp hit
// 32 different banks), so one fragment code serves all four transpose combinations.

#define MMA_BM 128
#define MMA_BN 128
#define MMA_BK 32
#define MMA_PITCH (MMA_BK + 8)
#define MMA_THREADS 256

// tile[r][kk] = op(x)[r0 + r, k0 + kk] (zero outside [rows, K)); x is [rows, K] (k_major) or [K, rows].
// Consecutive threads read consecutive addresses in either layout.
template <bool K_MAJOR>
__device__ __forceinline__ void mma_load_tile(__nv_bfloat16 (*tile)[MMA_PITCH], const __nv_bfloat16* __restrict__ x,
                                              int rows, int K, int r0, int k0, int k_end) {
  const __nv_bfloat16 zero = __float2bfloat16_rn(0.0f);
#pragma unroll 4
  for (int e = threadIdx.x; e < MMA_BM * MMA_BK; e += MMA_THREADS) {
    int r = K_MAJOR ? e / MMA_BK : e % MMA_BM;
    int kk = K_MAJOR ? e % MMA_BK : e / MMA_BM;
    long gr = r0 + r;
    int gk = k0 + kk;
    bool in = gr < rows && gk < k_end;
    tile[r][kk] = in ? x[K_MAJOR ? gr * K + gk : (long)gk * rows + gr] : zero;
  }
}

__device__ __forceinline__ uint32_t lds32(const __nv_bfloat16* p) { return *reinterpret_cast<const uint32_t*>(p); }

template <bool TA, bool TB>
__device__ __forceinline__ void gemm_mma_body(GemmOut o, const __nv_bfloat16* __restrict__ a,
                                              const __nv_bfloat16* __restrict__ b, int K, int k_split) {
  __shared__ __align__(16) __nv_bfloat16 sa[MMA_BM][MMA_PITCH];  // op(a) tile [m][k]
  __shared__ __align__(16) __nv_bfloat16 sb[MMA_BN][MMA_PITCH];  // op(b)^T tile [n][k]
  const int m0 = blockIdx.y * MMA_BM;
  const int n0 = blockIdx.x * MMA_BN;
  const int k_begin = blockIdx.z * k_split;
  const int k_end = min(K, k_begin + k_split);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int wm = (warp / 4) * 64, wn = (warp % 4) * 32;
  const int fr = lane / 4, fk = (lane % 4) * 2;  // fragment row / k (and accumulator column) of a lane

  float acc[4][4][4] = {};
  for (int k0 = k_begin; k0 < k_end; k0 += MMA_BK) {
    mma_load_tile<!TA>(sa, a, o.m, K, m0, k0, k_end);
    mma_load_tile<TB>(sb, b, o.n, K, n0, k0, k_end);
    __syncthreads();
#pragma unroll
    for (int ks = 0; ks < MMA_BK; ks += 16) {
      uint32_t af[4][4], bfr[4][2];
#pragma unroll
      for (int i = 0; i < 4; i++) {
        const int r = wm + i * 16 + fr;
        af[i][0] = lds32(&sa[r][ks + fk]);
        af[i][1] = lds32(&sa[r + 8][ks + fk]);
        af[i][2] = lds32(&sa[r][ks + fk + 8]);
        af[i][3] = lds32(&sa[r + 8][ks + fk + 8]);
      }
#pragma unroll
      for (int j = 0; j < 4; j++) {
        const int c = wn + j * 8 + fr;
        bfr[j][0] = lds32(&sb[c][ks + fk]);
        bfr[j][1] = lds32(&sb[c][ks + fk + 8]);
      }
#pragma unroll
      for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 4; j++)
          asm volatile(
              "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
              "{%8, %9}, {%0, %1, %2, %3};\n"
              : "+f"(acc[i][j][0]), "+f"(acc[i][j][1]), "+f"(acc[i][j][2]), "+f"(acc[i][j][3])
              : "r"(af[i][0]), "r"(af[i][1]), "r"(af[i][2]), "r"(af[i][3]), "r"(bfr[j][0]), "r"(bfr[j][1]));
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < 4; i++)
#pragma unroll
    for (int j = 0; j < 4; j++) {
      const long row = m0 + wm + i * 16 + fr;
      const int col = n0 + wn + j * 8 + fk;
      store_pair(o, row, col, acc[i][j][0], acc[i][j][1]);
      store_pair(o, row + 8, col, acc[i][j][2], acc[i][j][3]);
    }
}

#define GEMM_MMA_KERNEL(NAME, TA, TB)                                                                  \
  extern "C" __global__ void __launch_bounds__(MMA_THREADS) NAME(GEMM_PARAMS) {                     \
    gemm_mma_body<TA, TB>(GemmOut{out, partials, m, n, out_f32, accumulate, (int)gridDim.z, (int)blockIdx.z}, \
                          a, b, k, k_split);                                                          \
  }
// Suffix: n = operand as stored, t = transposed (a then b).
GEMM_MMA_KERNEL(gemm_mma_nn, false, false)
GEMM_MMA_KERNEL(gemm_mma_nt, false, true)
GEMM_MMA_KERNEL(gemm_mma_tn, true, false)
GEMM_MMA_KERNEL(gemm_mma_tt, true, true)

// ---- gemm_wgmma: sm_90a ------------------------------------------------------------------------------
// Output tile 128 (M) x 256 (N), K step 64 (128 bytes of bf16: one swizzle row), 4 stages of
// 16 + 32 KiB. Warpgroup w computes rows [64w, 64w + 64) with wgmma m64n256k16 (128 fp32 accumulators
// per thread). Shared layouts, 128-byte swizzle (16-byte chunk c of 128-byte row r of each 1 KiB atom
// stored at chunk c ^ (r % 8); atoms 1 KiB aligned):
//   K-major operand (a as stored, b transposed): row = an M (N) index, 128 B = 64 K values; atoms of
//     8 rows follow each other (SBO 1 KiB); the k16 step j starts 32 j bytes into the row.
//   M/N-major operand (a transposed, b as stored): row = a K index, 128 B = 64 M (N) values; atom
//     (c, g) holds M/N chunk c of 64 and K rows [8g, 8g + 8) at (8c + g) KiB: SBO (next 8 K) 1 KiB,
//     LBO (next 64 M/N) 8 KiB; the k16 step j starts 2 j KiB in.
// Persistent blocks: block b takes work items b, b + gridDim.x, ... (an item is one output tile of one
// K split). The pipeline counts K steps over all of a block's items (step g uses stage g % 4), so the
// copies of the next item's first two steps are in flight while this item's epilogue runs. Step g:
// every thread waits for its copies of step g, fences them for the async proxy, and a block barrier
// makes the stage visible; the threads then copy step g+2 into the stage that step g-2 used, which
// every warpgroup finished before the barrier (so the copies start while step g-1's wgmmas still
// run), issue step g's wgmmas and wait until step g-1's are done (one group in flight).

#define WG_BM 128
#define WG_BN 256
#define WG_BK 64
#define WG_STAGES 4
#define WG_THREADS 256
#define WG_A_BYTES (WG_BM * WG_BK * 2)
#define WG_B_BYTES (WG_BN * WG_BK * 2)
#define WG_STAGE_BYTES (WG_A_BYTES + WG_B_BYTES)
// Dynamic shared memory the launcher passes: the stages plus slack to align them to 1 KiB.
#define WG_SMEM_BYTES (WG_STAGES * WG_STAGE_BYTES + 1024)
// Output tiles are walked in groups of this many tile rows, N tiles outer within a group, so that the
// items of one wave (132 on the H200) share 8 row blocks of A and ~17 column blocks of B in L2
// instead of 1 row block and 132 column blocks (the lm head's B is 77 MB, more than L2).
#define WG_GROUP_M 8

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)

// 16 bytes global -> shared; src_bytes 0 writes zeros (rows or K outside the matrix).
__device__ __forceinline__ void cp_async16(uint32_t dst, const void* src, uint32_t src_bytes) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(src_bytes));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N)); }

// Byte offset of 16-byte chunk `chunk` (0..7) of 128-byte row `row` inside a swizzled atom.
__device__ __forceinline__ uint32_t swizzled(int row, int chunk) { return (row & 7) * 128 + ((chunk ^ (row & 7)) << 4); }

// One work item: output tile [m0, m0 + 128) x [n0, n0 + 256) over K [k_begin, k_end) of split `split`.
struct WgItem {
  int m0, n0, k_begin, k_end, steps, split;
};

// Item w of units_m * tiles_n * S, a unit being `rows` tile rows (1; 2 for the cluster pairs of a
// candidate kernel): split outermost, then groups of WG_GROUP_M tile rows, N tiles, units innermost.
// `rank` picks the tile row within the unit; a rank past the last tile row gets rows outside M (its
// copies read zeros, its stores are skipped).
__device__ __forceinline__ WgItem wg_item(int w, int m, int n, int K, int k_split, int rows = 1, int rank = 0) {
  const int units_m = (m + rows * WG_BM - 1) / (rows * WG_BM), tiles_n = (n + WG_BN - 1) / WG_BN;
  const int per_split = units_m * tiles_n;
  const int group = WG_GROUP_M / rows;
  const int t = w % per_split;
  const int first_m = t / (group * tiles_n) * group;
  const int in_group = t % (group * tiles_n);
  const int group_rows = min(group, units_m - first_m);
  WgItem it;
  it.split = w / per_split;
  it.m0 = ((first_m + in_group % group_rows) * rows + rank) * WG_BM;
  it.n0 = in_group / group_rows * WG_BN;
  it.k_begin = it.split * k_split;
  it.k_end = min(K, it.k_begin + k_split);
  it.steps = (it.k_end - it.k_begin + WG_BK - 1) / WG_BK;
  return it;
}

// Thread `tid` of THREADS copying its share of op(x) rows [r0, r0 + ROWS) x K [k0, k0 + 64) into a
// stage (zeros outside [rows, K)). K_MAJOR: x is [rows, K]; else x is [K, rows]. Whole 16-byte chunks
// are in or out, which the launcher's alignment rule guarantees. Chunk i of the thread differs from
// chunk 0 by a fixed shared offset and a fixed number of rows, K indices or columns, so only those
// are counted: a step of rows or K indices is a multiple of 8, which keeps the swizzle (row % 8).
// FRESH: the arguments are hidden from the compiler, so that a caller with few registers (a producer
// warpgroup at setmaxnreg 40) computes each call's addresses anew instead of keeping every copy's
// offset live across calls (which spilled).
template <int ROWS, bool K_MAJOR, int THREADS = WG_THREADS, bool FRESH = false>
__device__ __forceinline__ void wg_load_tile(uint32_t stage, const __nv_bfloat16* __restrict__ x, int rows, int K,
                                             int r0, int k0, int k_end, int tid) {
  constexpr int COPIES = ROWS * WG_BK / 8 / THREADS;
  if (FRESH) asm volatile("" : "+l"(x), "+r"(rows), "+r"(K), "+r"(r0), "+r"(k0), "+r"(k_end), "+r"(tid));
  if (K_MAJOR) {
    // 8 threads per 128-byte row segment; copy i covers row tid / 8 + (THREADS / 8) i.
    constexpr int ROWS_PER_COPY = THREADS / 8;
    static_assert(ROWS_PER_COPY % 8 == 0, "a copy step of whole swizzle atoms");
    const int r = tid / 8, c = tid % 8;
    const int gk = k0 + c * 8;
    const uint32_t dst = stage + (r / 8) * 1024 + swizzled(r, c);
    const __nv_bfloat16* src = x + (long)(r0 + r) * K + gk;
#pragma unroll
    for (int i = 0; i < COPIES; i++) {
      const bool valid = r0 + r + ROWS_PER_COPY * i < rows && gk < k_end;
      cp_async16(dst + i * (ROWS_PER_COPY / 8) * 1024, valid ? src + (long)(ROWS_PER_COPY * i) * K : x,
                 valid ? 16 : 0);
    }
  } else {
    // LANES threads per K row (all of its ROWS / 8 chunks, or as many as leave 8 K rows per pass);
    // copy (p, j) covers K row tid / LANES + K_PER_PASS p and chunk tid % LANES + LANES j.
    constexpr int ROW_CHUNKS = ROWS / 8;
    constexpr int LANES = ROW_CHUNKS < THREADS / 8 ? ROW_CHUNKS : THREADS / 8;
    constexpr int K_PER_PASS = THREADS / LANES, COLUMN_PASSES = ROW_CHUNKS / LANES;
    static_assert(K_PER_PASS % 8 == 0 && LANES % 8 == 0, "copy steps of whole swizzle atoms");
    const int kr = tid / LANES, c = tid % LANES;
    const int gr = r0 + c * 8;
    const uint32_t dst = stage + ((c / 8) * (WG_BK / 8) + kr / 8) * 1024 + swizzled(kr, c % 8);
    const __nv_bfloat16* src = x + (long)(k0 + kr) * rows + gr;
#pragma unroll
    for (int p = 0; p < COPIES / COLUMN_PASSES; p++)
#pragma unroll
      for (int j = 0; j < COLUMN_PASSES; j++) {
        const bool valid = k0 + kr + K_PER_PASS * p < k_end && gr + LANES * 8 * j < rows;
        cp_async16(dst + p * (K_PER_PASS / 8) * 1024 + j * (LANES / 8) * (WG_BK / 8) * 1024,
                   valid ? src + (long)(K_PER_PASS * p) * rows + LANES * 8 * j : x, valid ? 16 : 0);
      }
  }
}

// Shared-memory matrix descriptor: address, LBO, SBO (all >> 4), 128-byte swizzle.
__device__ __forceinline__ uint64_t smem_desc(uint32_t addr, uint32_t lbo, uint32_t sbo) {
  return (uint64_t)((addr & 0x3FFFF) >> 4) | ((uint64_t)(lbo >> 4) << 16) | ((uint64_t)(sbo >> 4) << 32) |
         (1ull << 62);
}

__device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
template <int N>
__device__ __forceinline__ void wgmma_wait() { asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory"); }
// Pins the accumulators in place around the asynchronous wgmmas, so that the compiler moves none of
// them while a wgmma may still write it (which would serialize the wgmmas, ptxas warning C7515).
__device__ __forceinline__ void fence_accumulators(float (&d)[128]) {
#pragma unroll
  for (int i = 0; i < 128; i++) asm volatile("" : "+f"(d[i])::"memory");
}

// d[64 x 256 per warpgroup] += A[64 x 16] * B[16 x 256], both from shared memory (descriptors);
// TA / TB select M-major A / N-major B (the transpose bits, valid for bf16).
template <int TA, int TB>
__device__ __forceinline__ void wgmma_m64n256k16(float (&d)[128], uint64_t desc_a, uint64_t desc_b) {
  asm volatile(
      "wgmma.mma_async.sync.aligned.m64n256k16.f32.bf16.bf16 "
      "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63, %64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, %80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95, %96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, %108, %109, %110, %111, %112, %113, %114, %115, %116, %117, %118, %119, %120, %121, %122, %123, %124, %125, %126, %127}, "
      "%128, %129, 1, 1, 1, %130, %131;\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
        "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
        "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
        "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]),
        "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]),
        "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]),
        "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]),
        "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]),
        "+f"(d[64]), "+f"(d[65]), "+f"(d[66]), "+f"(d[67]), "+f"(d[68]), "+f"(d[69]), "+f"(d[70]), "+f"(d[71]),
        "+f"(d[72]), "+f"(d[73]), "+f"(d[74]), "+f"(d[75]), "+f"(d[76]), "+f"(d[77]), "+f"(d[78]), "+f"(d[79]),
        "+f"(d[80]), "+f"(d[81]), "+f"(d[82]), "+f"(d[83]), "+f"(d[84]), "+f"(d[85]), "+f"(d[86]), "+f"(d[87]),
        "+f"(d[88]), "+f"(d[89]), "+f"(d[90]), "+f"(d[91]), "+f"(d[92]), "+f"(d[93]), "+f"(d[94]), "+f"(d[95]),
        "+f"(d[96]), "+f"(d[97]), "+f"(d[98]), "+f"(d[99]), "+f"(d[100]), "+f"(d[101]), "+f"(d[102]), "+f"(d[103]),
        "+f"(d[104]), "+f"(d[105]), "+f"(d[106]), "+f"(d[107]), "+f"(d[108]), "+f"(d[109]), "+f"(d[110]), "+f"(d[111]),
        "+f"(d[112]), "+f"(d[113]), "+f"(d[114]), "+f"(d[115]), "+f"(d[116]), "+f"(d[117]), "+f"(d[118]), "+f"(d[119]),
        "+f"(d[120]), "+f"(d[121]), "+f"(d[122]), "+f"(d[123]), "+f"(d[124]), "+f"(d[125]), "+f"(d[126]), "+f"(d[127])
      : "l"(desc_a), "l"(desc_b), "n"(TA), "n"(TB));
}

// One 64-deep K step of a warpgroup: its 64 rows of A at a_base, B at b_base (one stage, the layouts
// above); returns once the previous step's wgmmas are done, this step's still in flight.
template <bool TA, bool TB>
__device__ __forceinline__ void wg_mma_step(float (&d)[128], uint32_t a_base, uint32_t b_base) {
  fence_accumulators(d);
  wgmma_fence();
#pragma unroll
  for (int j = 0; j < WG_BK / 16; j++) {
    const uint64_t da = TA ? smem_desc(a_base + j * 2048, 8192, 1024) : smem_desc(a_base + j * 32, 16, 1024);
    const uint64_t db = TB ? smem_desc(b_base + j * 32, 16, 1024) : smem_desc(b_base + j * 2048, 8192, 1024);
    wgmma_m64n256k16<TA ? 1 : 0, TB ? 0 : 1>(d, da, db);
  }
  wgmma_commit();
  fence_accumulators(d);
  wgmma_wait<1>();
  fence_accumulators(d);
}

__device__ __forceinline__ uint32_t bf16x2(float lo, float hi) {
  __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<uint32_t*>(&v);
}

// Plain bf16 store (out overwritten, no split, N % 8 == 0) of a warpgroup's 64 x COLS accumulators of
// columns [8 FIRST, 8 FIRST + COLS) of its 64 x 256 (the whole tile, or one half where only 16 KiB
// are free), staged through `buf` (64 x COLS bf16, 1 KiB aligned, this warpgroup's alone) so that
// global stores are whole rows of 16 bytes per thread instead of 4-byte pieces of 8 rows. buf row r
// (2 COLS bytes) holds 16-byte chunk c at chunk c ^ (r % 8): the 8 rows a stmatrix writes, and the
// rows a warp reads back, hit distinct banks. `bar` names the warpgroup's barrier (bar.sync bar, 128).
template <int COLS = WG_BN, int FIRST = 0>
__device__ __forceinline__ void wg_store_staged(const GemmOut& o, const float (&d)[128], uint32_t buf, long row0,
                                                int n0, int bar) {
  constexpr int ROW_BYTES = COLS * 2, LANES_PER_ROW = COLS / 8, ROWS_PER_WARP = 32 / LANES_PER_ROW;
  const int lane = threadIdx.x % 32, q = (threadIdx.x % 128) / 32;
  // stmatrix x4: lanes 8i..8i+7 address the rows of matrix i = (column block j + i / 2, row half i % 2).
  const int mi = lane / 8, r = 16 * q + 8 * (mi % 2) + lane % 8;
#pragma unroll
  for (int j = FIRST; j < FIRST + COLS / 8; j += 2) {
    const int c = j - FIRST + mi / 2;
    const uint32_t at = buf + r * ROW_BYTES + ((c ^ (r & 7)) << 4);
    asm volatile("stmatrix.sync.aligned.m8n8.x4.shared.b16 [%0], {%1, %2, %3, %4};\n" ::"r"(at),
                 "r"(bf16x2(d[4 * j], d[4 * j + 1])), "r"(bf16x2(d[4 * j + 2], d[4 * j + 3])),
                 "r"(bf16x2(d[4 * j + 4], d[4 * j + 5])), "r"(bf16x2(d[4 * j + 6], d[4 * j + 7]))
                 : "memory");
  }
  asm volatile("bar.sync %0, 128;\n" ::"r"(bar) : "memory");  // this warpgroup's rows are staged
  __nv_bfloat16* out = static_cast<__nv_bfloat16*>(o.out);
  const int chunk = lane % LANES_PER_ROW;
  const int col = n0 + FIRST * 8 + chunk * 8;
#pragma unroll 4
  for (int p = 0; p < 64 / (4 * ROWS_PER_WARP); p++) {
    const int rr = (4 * p + q) * ROWS_PER_WARP + lane / LANES_PER_ROW;
    uint4 v;
    asm volatile("ld.shared.v4.u32 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
                 : "r"(buf + rr * ROW_BYTES + ((chunk ^ (rr & 7)) << 4)));
    if (row0 + rr < o.m && col < o.n) *reinterpret_cast<uint4*>(out + (row0 + rr) * o.n + col) = v;
  }
}

// Column blocks of 8 whose old values an accumulating epilogue reads before it stores any of them.
#define WG_ACC_GROUP 8

// out[row, col .. col + 1] as fp32 (row < M, col + 1 < N, N even: the pair is aligned), 0 outside.
__device__ __forceinline__ float2 load_out_pair(const GemmOut& o, long row, int col) {
  if (row >= o.m || col >= o.n) return make_float2(0.0f, 0.0f);
  const long at = row * o.n + col;
  if (o.out_f32) return *reinterpret_cast<const float2*>(static_cast<const float*>(o.out) + at);
  return __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(static_cast<const __nv_bfloat16*>(o.out) + at));
}

// Any output (fp32, +=, split partials, odd N) straight from a warpgroup's accumulator fragments, 4 or
// 8 bytes per thread: warp q holds rows 16q + lane/4 (+8); register 4j + {0,1} columns
// 8j + 2(lane%4) + {0,1} of the first row, 4j + {2,3} the same columns of the second.
//
// out += d with even N reads the old values of WG_ACC_GROUP column blocks, then stores them: a load
// that follows a store the compiler cannot prove apart from it stays behind it, so store_pair's own
// read-add-write, pair after pair, waited one memory latency per pair (64 per item; the residual adds
// ran at 190 TFLOP/s where the same products without += ran at 430-600). The sums are store_pair's:
// old + d rounded once, the same bits.
__device__ __forceinline__ void wg_store_fragments(const GemmOut& o, const float (&d)[128], long row0, int n0) {
  const int lane = threadIdx.x % 32, q = (threadIdx.x % 128) / 32;
  const long row = row0 + q * 16 + lane / 4;
  if (o.accumulate && o.splits == 1 && (o.n & 1) == 0) {
    GemmOut plain = o;
    plain.accumulate = 0;
#pragma unroll
    for (int j0 = 0; j0 < 32; j0 += WG_ACC_GROUP) {
      float2 old[WG_ACC_GROUP][2];
#pragma unroll
      for (int j = 0; j < WG_ACC_GROUP; j++) {
        const int col = n0 + (j0 + j) * 8 + (lane % 4) * 2;
        old[j][0] = load_out_pair(o, row, col);
        old[j][1] = load_out_pair(o, row + 8, col);
      }
#pragma unroll
      for (int j = 0; j < WG_ACC_GROUP; j++) {
        const int col = n0 + (j0 + j) * 8 + (lane % 4) * 2;
        const float* v = d + 4 * (j0 + j);
        store_pair(plain, row, col, v[0] + old[j][0].x, v[1] + old[j][0].y);
        store_pair(plain, row + 8, col, v[2] + old[j][1].x, v[3] + old[j][1].y);
      }
    }
    return;
  }
#pragma unroll
  for (int j = 0; j < 32; j++) {
    const int col = n0 + j * 8 + (lane % 4) * 2;
    store_pair(o, row, col, d[4 * j], d[4 * j + 1]);
    store_pair(o, row + 8, col, d[4 * j + 2], d[4 * j + 3]);
  }
}

// Asks L2 for the rows of out that this warpgroup's wg_store_fragments will read back (out += d),
// at the start of an item, so that the epilogue's reads hit L2 instead of memory: each thread's two
// rows, 64 x 256 values in all, one prefetch per 128-byte line.
__device__ __forceinline__ void wg_prefetch_accumulated(const GemmOut& o, long row0, int n0) {
  if (!o.accumulate || o.splits != 1) return;
  const int lane = threadIdx.x % 32, q = (threadIdx.x % 128) / 32;
  const int per_line = o.out_f32 ? 32 : 64;  // values per 128-byte line
#pragma unroll
  for (int h = 0; h < 2; h++) {
    const long row = row0 + q * 16 + lane / 4 + 8 * h;
    if (row >= o.m) continue;
    for (int col = n0 + (lane % 4) * per_line; col < n0 + WG_BN && col < o.n; col += 4 * per_line) {
      const long at = row * o.n + col;
      const void* p = o.out_f32 ? static_cast<const void*>(static_cast<const float*>(o.out) + at)
                                : static_cast<const void*>(static_cast<const __nv_bfloat16*>(o.out) + at);
      asm volatile("prefetch.global.L2 [%0];\n" ::"l"(p));
    }
  }
}

template <bool TA, bool TB>
__device__ __forceinline__ void gemm_wgmma_body(GemmOut o, const __nv_bfloat16* __restrict__ a,
                                                const __nv_bfloat16* __restrict__ b, int K, int k_split) {
  extern __shared__ uint8_t smem_raw[];
  const uint32_t smem = (static_cast<uint32_t>(__cvta_generic_to_shared(smem_raw)) + 1023) & ~1023u;
  const int items = ((o.m + WG_BM - 1) / WG_BM) * ((o.n + WG_BN - 1) / WG_BN) * o.splits;
  const int wg = threadIdx.x / 128;
  const bool staged = o.splits == 1 && !o.out_f32 && !o.accumulate && o.n % 8 == 0;

  auto stage_a = [&](int s) { return smem + s * WG_STAGE_BYTES; };
  auto stage_b = [&](int s) { return smem + s * WG_STAGE_BYTES + WG_A_BYTES; };

  // The copy cursor: the K step of which item the next load() copies; it runs 2 steps ahead.
  int load_item = blockIdx.x, load_step = 0, load_stage = 0;
  WgItem li = wg_item(load_item, o.m, o.n, K, k_split);
  auto load = [&]() {
    if (load_item < items) {
      const int k0 = li.k_begin + load_step * WG_BK;
      wg_load_tile<WG_BM, !TA>(stage_a(load_stage), a, o.m, K, li.m0, k0, li.k_end, threadIdx.x);
      wg_load_tile<WG_BN, TB>(stage_b(load_stage), b, o.n, K, li.n0, k0, li.k_end, threadIdx.x);
      if (++load_step == li.steps) {
        load_step = 0;
        load_item += gridDim.x;
        if (load_item < items) li = wg_item(load_item, o.m, o.n, K, k_split);
      }
    }
    load_stage = (load_stage + 1) % WG_STAGES;
    cp_async_commit();  // empty groups too, so the wait count below stays uniform
  };

  load();
  load();
  float d[128];
  int stage = 0;  // of the step being computed
  for (int item = blockIdx.x; item < items; item += gridDim.x) {
    const WgItem it = wg_item(item, o.m, o.n, K, k_split);
#pragma unroll
    for (int i = 0; i < 128; i++) d[i] = 0.0f;
    for (int step = 0; step < it.steps; step++) {
      cp_async_wait<1>();  // this thread's copies of this step (all but the newest group) landed
      asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
      __syncthreads();
      load();  // stage g-2 is free: both warpgroups finished step g-2 before the barrier
      // This warpgroup's 64 rows of A: the same 8 KiB offset in both layouts (8 atoms of 1 KiB).
      const uint32_t a_base = stage_a(stage) + wg * 8192;
      const uint32_t b_base = stage_b(stage);
      wg_mma_step<TA, TB>(d, a_base, b_base);
      stage = (stage + 1) % WG_STAGES;
    }
    wgmma_wait<0>();
    fence_accumulators(d);

    o.split = it.split;
    const long row0 = it.m0 + wg * 64;
    if (staged) {
      // Both warpgroups' wgmmas are done, so the stages of the last two steps are free (the next
      // item's first two are being copied into the other two). Warpgroup w stages its rows in the
      // stage of step last - w; the copies into them start after the next step's barrier.
      __syncthreads();
      wg_store_staged(o, d, stage_a((stage + WG_STAGES - 1 - wg) % WG_STAGES), row0, it.n0, 1 + wg);
    } else {
      wg_store_fragments(o, d, row0, it.n0);
    }
  }
}

#define GEMM_WGMMA_BODY(TA, TB)                                                                              \
  gemm_wgmma_body<TA, TB>(GemmOut{out, partials, m, n, out_f32, accumulate, (k + k_split - 1) / k_split, 0}, a, \
                          b, k, k_split);
#else
// Built for sm_80 / compute_80: the launcher never picks these (it checks for the sm_90a image).
#define GEMM_WGMMA_BODY(TA, TB)
#endif

// Grid: (min(work items, SMs), 1, 1), WG_SMEM_BYTES of dynamic shared memory.
#define GEMM_WGMMA_KERNEL(NAME, TA, TB)                                                                \
  extern "C" __global__ void __launch_bounds__(WG_THREADS, 1) NAME(GEMM_PARAMS) {                   \
    GEMM_WGMMA_BODY(TA, TB)                                                                            \
  }
GEMM_WGMMA_KERNEL(gemm_wgmma_nn, false, false)
GEMM_WGMMA_KERNEL(gemm_wgmma_nt, false, true)
GEMM_WGMMA_KERNEL(gemm_wgmma_tn, true, false)
GEMM_WGMMA_KERNEL(gemm_wgmma_tt, true, true)

// ---- gemm_ws: sm_90a, warp-specialized ---------------------------------------------------------------
#include "gemm_ws.cuh"

// Grid: (min(work items, SMs), 1, 1), WS_THREADS threads, WS_SMEM_BYTES of dynamic shared memory.
#define GEMM_WS_KERNEL(NAME, TA, TB)                                                                   \
  extern "C" __global__ void __launch_bounds__(WS_THREADS, 1) NAME(GEMM_PARAMS) { GEMM_WS_BODY(TA, TB, false) }
GEMM_WS_KERNEL(gemm_ws_nn, false, false)
GEMM_WS_KERNEL(gemm_ws_nt, false, true)
GEMM_WS_KERNEL(gemm_ws_tn, true, false)
GEMM_WS_KERNEL(gemm_ws_tt, true, true)

// ---- gemm_tma: sm_90a, warp-specialized, fed by the copy engine --------------------------------------
#include "gemm_tma.cuh"

// Grid: (min(work items, SMs), 1, 1), WS_THREADS threads, ws_smem_bytes(STAGES) of dynamic shared memory.
#define GEMM_TMA_KERNEL(NAME, TA, TB, STAGES, STORE_TMA)                                               \
  extern "C" __global__ void __launch_bounds__(WS_THREADS, 1) NAME(GEMM_TMA_PARAMS) {               \
    GEMM_TMA_BODY(TA, TB, STAGES, STORE_TMA)                                                           \
  }
GEMM_TMA_KERNEL(gemm_tma_nn, false, false, 4, false)
GEMM_TMA_KERNEL(gemm_tma_nt, false, true, 4, false)
GEMM_TMA_KERNEL(gemm_tma_tn, true, false, 4, false)
GEMM_TMA_KERNEL(gemm_tma_tt, true, true, 4, false)
GEMM_TMA_KERNEL(gemm_tma3st_nn, false, false, 3, true)
GEMM_TMA_KERNEL(gemm_tma3st_nt, false, true, 3, true)
GEMM_TMA_KERNEL(gemm_tma3st_tn, true, false, 3, true)
GEMM_TMA_KERNEL(gemm_tma3st_tt, true, true, 3, true)

// ---- gemm_tma3st_swiglu: the MLP's gate and up projections with SwiGLU in the epilogue ----
#include "gemm_swiglu.cuh"

// Grid and shared memory: gemm_swiglu.cuh (GEMM_SWIGLU_PARAMS).
extern "C" __global__ void __launch_bounds__(WS_THREADS, 1) gemm_tma3st_swiglu_nt(GEMM_SWIGLU_PARAMS) {
  GEMM_SWIGLU_BODY
}
