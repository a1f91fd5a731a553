// The TMA-fed warp-specialized GEMMs (gemm_tma_*, gemm_tma3st_*, docs/gemm-cuda.md "Kernels"):
// gemm_ws.cuh's kernel with its 128 cp.async threads replaced by one thread that issues bulk tensor
// copies (cp.async.bulk.tensor.2d). Included by gemm.cu after gemm_ws.cuh, whose block frame (ws_run:
// barriers, roles, setmaxnreg), tile walk, consumers and epilogues it reuses; gemm.cu defines the
// kernels. The H200 harness measured gemm_tma at 0.78-1.04 of cuBLAS where ws reaches 0.63-0.86: the
// copies' issue, not L2 bytes, held ws back.
//
// Producer: one thread of warpgroup 0 (the other 127 only lower their registers and leave). Per K step
// it waits for the stage to be empty, announces the stage's 48 KiB on full[s] with
// `mbarrier.arrive.expect_tx` (full[s] expects that one arrival) and issues the stage's box loads, whose
// bytes complete on full[s]; the phase completes once the arrival is in and every byte has landed.
// The copy engine writes the 128-byte swizzle itself (maps encoded with the 128B swizzle, stages 1 KiB
// aligned) in the layouts of gemm.cu's wgmma descriptors:
//   K-major operand ([rows, K] as stored): one box {64 K, ROWS rows}: row r at 128 r bytes, i.e. atoms
//     of 8 rows one after another (SBO 1 KiB);
//   M/N-major operand ([K, rows]): ROWS / 64 boxes {64 rows, 64 K}, box c at 8c KiB: 64 K rows of 128
//     bytes, i.e. atom (c, g) at (8c + g) KiB (SBO 1 KiB, LBO 8 KiB).
// Rows and K outside the operand read as zeros (the map's bounds), so edge tiles and a K that is not a
// multiple of 64 need no special case; a split's K range ends on a multiple of 64 or at K. A box's
// bytes count in full even where it lies partly or wholly outside.
//
// gemm_tma3st_* (STORE_TMA, 3 stages): the plain bf16 output leaves through the copy engine too. Each
// consumer warpgroup writes its 64 x 256 values with stmatrix into its 32 KiB buffer as 4 boxes of 64
// rows x 64 columns (8 KiB each, 128-byte swizzle: the output map's layout), one thread issues
// `cp.async.bulk.tensor.2d.global.shared::cta` stores, and the warpgroup goes straight on to the next
// item's wgmmas instead of reading the buffer back and storing 16 bytes per thread; the stores' reads
// of the buffer are waited for only before it is written again, one item later. The map's bounds drop
// rows and columns outside [M, N). 3 stages (a copy lead of 2 steps) make room for the full-width
// buffers. Harness: +5 to +14% over gemm_tma on the K = 768 bf16-output products.
//
// The maps come from the host (GemmCuda through GemmTensorMap and TensorMapEncoder:
// cuTensorMapEncodeTiled, boxes as above); they are 128-byte kernel parameters (__grid_constant__), so
// the copy engine reads them in parameter space and nothing is allocated per launch.
#include <cuda.h>

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)

// One arrival on `bar` that also announces `bytes` of copies completing on its current phase.
__device__ __forceinline__ void mbarrier_arrive_expect_bytes(uint32_t bar, uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes) : "memory");
}

// The box of `map` at element coordinates (inner, outer) -> shared `dst`, its bytes completing on `bar`.
__device__ __forceinline__ void tma_load_box(uint32_t dst, const CUtensorMap* map, int inner, int outer, uint32_t bar) {
  asm volatile(
      "cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3}], [%4];\n" ::"r"(
          dst),
      "l"(map), "r"(inner), "r"(outer), "r"(bar)
      : "memory");
}

// op(x) rows [r0, r0 + ROWS) x K [k0, k0 + 64) into a stage in the wgmma layout (header). The map's
// box is {64, ROWS} when K_MAJOR, else {64, 64}.
template <int ROWS, bool K_MAJOR>
__device__ __forceinline__ void tma_load_tile(uint32_t dst, const CUtensorMap* map, int r0, int k0, uint32_t bar) {
  if (K_MAJOR) {
    tma_load_box(dst, map, k0, r0, bar);
  } else {
#pragma unroll
    for (int c = 0; c < ROWS / 64; c++) tma_load_box(dst + c * 8192, map, r0 + 64 * c, k0, bar);
  }
}

// The producer's one thread: every K step of the block's items, in the consumers' order. B comes
// from one map (gemm_tma_body) or two (gemm_swiglu.cuh's gate and up halves): prefetch_b() prefetches
// its maps, load_b(dst, n0, k0, bar) copies the item's B tile (256 rows of op(b) from n0, K [k0, k0 +
// 64)) into a stage.
template <bool TA, int STAGES, typename PrefetchB, typename LoadB>
__device__ __forceinline__ void tma_produce(const GemmOut& o, const CUtensorMap* map_a, int K, int k_split,
                                            const WsBlock<false>& blk, PrefetchB prefetch_b, LoadB load_b) {
  asm volatile("prefetch.tensormap [%0];\n" ::"l"(map_a) : "memory");
  prefetch_b();
  int stage = 0;
  uint32_t round = 0;  // how many times the stages have been walked, mod 2
  for (int item = blk.unit; item < blk.items; item += blk.units) {
    const WgItem it = wg_item(item, o.m, o.n, K, k_split);
    for (int step = 0; step < it.steps; step++) {
      mbarrier_wait(blk.empty + 8 * stage, round ^ 1);
      const uint32_t full = blk.full + 8 * stage;
      mbarrier_arrive_expect_bytes(full, WG_STAGE_BYTES);
      const int k0 = it.k_begin + step * WG_BK;
      tma_load_tile<WG_BM, !TA>(blk.stage_a(stage), map_a, it.m0, k0, full);
      load_b(blk.own_b(stage), it.n0, k0, full);
      if (++stage == STAGES) {
        stage = 0;
        round ^= 1;
      }
    }
  }
}

// Whether this thread issues its warpgroup's bulk stores (and waits for them).
__device__ __forceinline__ bool tma_store_issuer() { return threadIdx.x % 128 == 0; }

// A consumer warpgroup's 64 x 8 BLOCKS values -> `buf` as BLOCKS / 8 boxes of 64 rows x 64 columns (8
// KiB each, 128-byte swizzle: the output maps' layout), then fenced for the copy engine. value(i) is
// the fp32 value of accumulator fragment i (wgmma's: 4 per 8-column block, block j at 4j .. 4j + 3).
template <int BLOCKS, typename Value>
__device__ __forceinline__ void stmatrix_boxes(uint32_t buf, Value value) {
  const int lane = threadIdx.x % 32, q = (threadIdx.x % 128) / 32;
  // stmatrix x4 (as wg_store_staged): lanes 8i..8i+7 address the rows of matrix i = (8-column block
  // j + i / 2, row half i % 2); block c is 16-byte chunk c % 8 of box c / 8, swizzled by the row.
  const int mi = lane / 8, r = 16 * q + 8 * (mi % 2) + lane % 8;
#pragma unroll
  for (int j = 0; j < BLOCKS; j += 2) {
    const int c = j + mi / 2;
    const uint32_t at = buf + (c / 8) * 8192 + r * 128 + (((c % 8) ^ (r & 7)) << 4);
    asm volatile("stmatrix.sync.aligned.m8n8.x4.shared.b16 [%0], {%1, %2, %3, %4};\n" ::"r"(at),
                 "r"(bf16x2(value(4 * j), value(4 * j + 1))), "r"(bf16x2(value(4 * j + 2), value(4 * j + 3))),
                 "r"(bf16x2(value(4 * j + 4), value(4 * j + 5))), "r"(bf16x2(value(4 * j + 6), value(4 * j + 7)))
                 : "memory");
  }
  // The generic-proxy writes above are what the copy engine (async proxy) reads next.
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
}

// The warpgroup's boxes [first, first + count) of `buf` -> map at columns col0 + 64 (box - first),
// rows from row0: bulk tensor stores issued by one thread (the caller commits them as a group).
__device__ __forceinline__ void tma_store_boxes(const CUtensorMap* map, uint32_t buf, int first, int count, int col0,
                                                long row0) {
#pragma unroll
  for (int box = first; box < first + count; box++)
    asm volatile("cp.async.bulk.tensor.2d.global.shared::cta.bulk_group [%0, {%1, %2}], [%3];\n" ::"l"(map),
                 "r"(col0 + 64 * (box - first)), "r"((int)row0), "r"(buf + box * 8192)
                 : "memory");
}

// A consumer warpgroup's 64 x 256 accumulators (rows row0.., columns n0..) -> out through `buf` (4
// boxes of 64 x 64 bf16, 8 KiB each, 1 KiB aligned) and bulk tensor stores of `map_out` (boxes {64,
// 64}, 128B swizzle). bar: the warpgroup's named barrier.
__device__ __forceinline__ void tma_store_tile(const CUtensorMap* map_out, const float (&d)[128], uint32_t buf,
                                               long row0, int n0, int bar) {
  // The copy engine has read the buffer's previous contents (the previous item's stores).
  if (tma_store_issuer()) asm volatile("cp.async.bulk.wait_group.read 0;\n" ::: "memory");
  asm volatile("bar.sync %0, 128;\n" ::"r"(bar) : "memory");
  stmatrix_boxes<WG_BN / 8>(buf, [&](int i) { return d[i]; });
  asm volatile("bar.sync %0, 128;\n" ::"r"(bar) : "memory");
  if (tma_store_issuer()) {
    tma_store_boxes(map_out, buf, 0, WG_BN / 64, n0, row0);
    asm volatile("cp.async.bulk.commit_group;\n" ::: "memory");
  }
}

// out = old + the accumulators, bf16 (gemm_tma3st_* where accumulating): the old 64 x 256 values come
// into `buf` as the stores' 4 boxes through map_old (out's own map for out +=, an addend's for
// out = addend + a b: GemmCuda.matmulAdd; one bulk tensor load each, completing on
// `landed`, whose phase `parity` is this item's), each thread adds the values at its own fragment
// positions (old + d, rounded once by the stores: store_pair's sum, the same bits) and the tile leaves
// as tma_store_tile's. The fragment path's loads waited a latency per pair and its 4-byte stores
// wrote half sectors; here the copy engine moves whole boxes both ways.
__device__ __forceinline__ void tma_accumulate_tile(const CUtensorMap* map_old, const CUtensorMap* map_out,
                                                    float (&d)[128], uint32_t buf,
                                                    long row0, int n0, int bar, uint32_t landed, uint32_t parity) {
  if (tma_store_issuer()) {
    // The copy engine has read the buffer's previous contents (the previous item's stores).
    asm volatile("cp.async.bulk.wait_group.read 0;\n" ::: "memory");
    mbarrier_arrive_expect_bytes(landed, 64 * WG_BN * 2);
#pragma unroll
    for (int box = 0; box < WG_BN / 64; box++) tma_load_box(buf + box * 8192, map_old, n0 + 64 * box, (int)row0, landed);
  }
  mbarrier_wait(landed, parity);
  const int lane = threadIdx.x % 32, q = (threadIdx.x % 128) / 32;
#pragma unroll
  for (int h = 0; h < 2; h++) {
    const int r = 16 * q + 8 * h + lane / 4;  // register 4j + 2h + {0, 1}: row r, columns 8j + 2(lane%4)
#pragma unroll
    for (int j = 0; j < WG_BN / 8; j++) {
      uint32_t old;
      asm volatile("ld.shared.b32 %0, [%1];\n"
                   : "=r"(old)
                   : "r"(buf + (j / 8) * 8192 + r * 128 + (((j % 8) ^ (r & 7)) << 4) + (lane % 4) * 4));
      const float2 v = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&old));
      d[4 * j + 2 * h] += v.x;
      d[4 * j + 2 * h + 1] += v.y;
    }
  }
  tma_store_tile(map_out, d, buf, row0, n0, bar);
}

template <bool TA, bool TB, int STAGES, bool STORE_TMA>
__device__ __forceinline__ void gemm_tma_body(GemmOut o, const CUtensorMap* map_a, const CUtensorMap* map_b,
                                              const CUtensorMap* map_out, const CUtensorMap* map_add, int K,
                                              int k_split) {
  static_assert(!STORE_TMA || ws_epilogue_cols(STAGES) == WG_BN, "bulk stores need the full-width buffer");
  __shared__ __align__(8) uint64_t old_landed[2];  // per consumer warpgroup (tma_accumulate_tile)
  ws_run<false, STAGES>(
      o.m, o.n, o.splits, 1,
      [&](const WsBlock<false>& blk) {
        if (threadIdx.x == 0)
          tma_produce<TA, STAGES>(
              o, map_a, K, k_split, blk, [&]() { asm volatile("prefetch.tensormap [%0];\n" ::"l"(map_b) : "memory"); },
              [&](uint32_t dst, int n0, int k0, uint32_t bar) { tma_load_tile<WG_BN, TB>(dst, map_b, n0, k0, bar); });
        // Warp 0 whole again before it leaves: not needed by a lone block, but it keeps these kernels
        // instruction for instruction the harness's, which were checked and timed on the H200.
        __syncwarp();
      },
      [&](const WsBlock<false>& blk, int cw) {
        // STORE_TMA, accumulating: the old values' barrier (one arrival, the issuer's expect_tx) and
        // the parity of its next phase.
        const uint32_t landed = static_cast<uint32_t>(__cvta_generic_to_shared(&old_landed[cw]));
        uint32_t parity = 0;
        if (STORE_TMA && o.accumulate) {
          if (tma_store_issuer()) {
            mbarrier_init(landed, 1);
            asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
          }
          asm volatile("bar.sync %0, 128;\n" ::"r"(1 + cw) : "memory");
        }
        ws_consume<TA, TB, false, false, STAGES, STORE_TMA>(
            o, K, k_split, blk, cw, [&](float(&d)[128], uint32_t buf, long row0, int n0, int bar) {
              if (STORE_TMA && o.accumulate) {
                tma_accumulate_tile(map_add, map_out, d, buf, row0, n0, bar, landed, parity);
                parity ^= 1;
              } else if (STORE_TMA) {
                tma_store_tile(map_out, d, buf, row0, n0, bar);
              } else {
                ws_store_staged<STAGES>(o, d, buf, row0, n0, bar);
              }
            });
        // Shared memory is not left while the copy engine may still read the buffer.
        if (STORE_TMA && tma_store_issuer()) asm volatile("cp.async.bulk.wait_group 0;\n" ::: "memory");
      });
}

#define GEMM_TMA_BODY(TA, TB, STAGES, STORE_TMA)                                                       \
  gemm_tma_body<TA, TB, STAGES, STORE_TMA>(                                                            \
      GemmOut{out, partials, m, n, out_f32, accumulate, (k + k_split - 1) / k_split, 0}, &map_a, &map_b, \
      &map_out, &map_add, k, k_split);
#else
#define GEMM_TMA_BODY(TA, TB, STAGES, STORE_TMA)
#endif

// The parameters of gemm_tma_* and gemm_tma3st_*, in the launcher's order (GemmCuda.launch):
// GEMM_PARAMS with the operands as tensor maps of a ([M, K], or [K, M] when TA) and b ([K, N], or
// [N, K] when TB), map_out, the bf16 out's map that gemm_tma3st_* stores through where the output is
// staged (any 128 bytes otherwise, never read), and map_add, the map that an accumulated staged output's
// old values are read through (map_out's matrix, or the addend of GemmCuda.matmulAdd), all passed by
// value (GemmTensorMap says which boxes).
#define GEMM_TMA_PARAMS                                                                                \
  const __grid_constant__ CUtensorMap map_a, const __grid_constant__ CUtensorMap map_b,                \
      const __grid_constant__ CUtensorMap map_out, const __grid_constant__ CUtensorMap map_add, void *out,    \
      float *partials, int m, int n, int k, int k_split, int out_f32, int accumulate
