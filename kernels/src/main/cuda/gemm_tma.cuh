// The TMA-fed warp-specialized GEMM (gemm_tma_*, docs/gemm-cuda.md "Kernels"): gemm_ws.cuh's kernel
// with its 128 cp.async threads replaced by one thread that issues bulk tensor copies
// (cp.async.bulk.tensor.2d). Included by gemm.cu after gemm_ws.cuh, whose block frame (ws_run:
// barriers, roles, setmaxnreg), tile walk, consumers and epilogue it reuses unchanged; gemm.cu defines
// the kernels. The H200 harness measured it at 0.78-1.04 of cuBLAS where ws reaches 0.63-0.86: the
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
// The maps come from the host (GemmCuda through TensorMaps.java: cuTensorMapEncodeTiled, boxes as
// above); they are 128-byte kernel parameters (__grid_constant__), so the copy engine reads them in
// parameter space and nothing is allocated per launch.
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

// The producer's one thread: every K step of the block's items, in the consumers' order.
template <bool TA, bool TB>
__device__ __forceinline__ void tma_produce(const GemmOut& o, const CUtensorMap* map_a, const CUtensorMap* map_b, int K,
                                            int k_split, const WsBlock<false>& blk) {
  asm volatile("prefetch.tensormap [%0];\n" ::"l"(map_a) : "memory");
  asm volatile("prefetch.tensormap [%0];\n" ::"l"(map_b) : "memory");
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
      tma_load_tile<WG_BN, TB>(blk.own_b(stage), map_b, it.n0, k0, full);
      if (++stage == WS_STAGES) {
        stage = 0;
        round ^= 1;
      }
    }
  }
}

template <bool TA, bool TB>
__device__ __forceinline__ void gemm_tma_body(GemmOut o, const CUtensorMap* map_a, const CUtensorMap* map_b, int K,
                                              int k_split) {
  ws_run<false>(
      o.m, o.n, o.splits, 1,
      [&](const WsBlock<false>& blk) {
        if (threadIdx.x == 0) tma_produce<TA, TB>(o, map_a, map_b, K, k_split, blk);
      },
      [&](const WsBlock<false>& blk, int cw) { ws_consume<TA, TB, false, false>(o, K, k_split, blk, cw); });
}

#define GEMM_TMA_BODY(TA, TB)                                                                          \
  gemm_tma_body<TA, TB>(GemmOut{out, partials, m, n, out_f32, accumulate, (k + k_split - 1) / k_split, 0}, &map_a, \
                        &map_b, k, k_split);
#else
#define GEMM_TMA_BODY(TA, TB)
#endif

// The parameters of gemm_tma_*, in the launcher's order (GemmCuda.launch): GEMM_PARAMS with the
// operands as tensor maps of a ([M, K], or [K, M] when TA) and b ([K, N], or [N, K] when TB), passed
// by value (TensorMaps.java says which boxes).
#define GEMM_TMA_PARAMS                                                                                \
  const __grid_constant__ CUtensorMap map_a, const __grid_constant__ CUtensorMap map_b, void *out,       \
      float *partials, int m, int n, int k, int k_split, int out_f32, int accumulate
