// gemm_tma3st_swiglu_nt (docs/gemm-cuda.md "Prepared: SwiGLU in the epilogue"): the MLP's two input
// projections and SwiGLU in one launch, a candidate for the next device session (not launched by
// GemmCuda yet). For x [T, C] (mlp_norm_out) and the weights w_gate, w_up [F, C] as the model keeps
// them:
//   gate = x w_gate^T, up = x w_up^T   [T, F] bf16, written only when save_gate_up (the backward's inputs)
//   act  = silu(gate) * up             [T, F] bf16, always
// Included by gemm.cu after gemm_tma.cuh, whose producer, bulk tensor copies and stmatrix staging it
// reuses on gemm_tma3st_nt's frame (3 stages, full-width epilogue buffers, the same tile walk).
//
// Tiles: the walk runs over N = 2F in 256-column tiles; tile n0 covers hidden units [f0, f0 + 128),
// f0 = n0 / 2. Its B stage holds w_gate rows [f0, f0 + 128) in rows 0..127 and w_up rows [f0, f0 + 128)
// in rows 128..255 (two boxes {64 K, 128 rows}, one per weight's map, at 0 and 16 KiB: the layout the
// single box {64 K, 256 rows} of gemm_tma3st_nt gives), so accumulator fragment i (i < 64) of a
// consumer thread is gate and fragment i + 64 the up value of the same (row, unit): no weight
// interleaving, no change to parameters or checkpoints. Units past F read as zeros (the maps' bounds)
// and their stores are dropped.
//
// Epilogue, per consumer warpgroup through its 32 KiB buffer (4 boxes of 64 x 64 bf16):
//   save_gate_up: all 256 columns as bf16 -> boxes 0-1 to gate, 2-3 to up (bulk tensor stores); the
//     buffer is reused once the copy engine has read them (wait_group.read), a short wait on shared
//     memory reads, not on the global writes;
//   act: gate and up rounded to bf16 first, then swiglu_value in fp32 -> bf16 -> boxes 0-1 to act.
// Rounding first makes act the unfused path's (two gemm_tma3st_nt + swiglu_forward_bf16) bit for bit,
// since swiglu_forward_bf16 reads the rounded GEMM outputs and evaluates the same swiglu_value.
// Shared memory is gemm_tma3st's 209 KiB: no room for a separate act buffer (227 KiB at most).
#include "swiglu_math.cuh"

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)

// The value stored in bf16 by a plain GEMM, back in fp32.
__device__ __forceinline__ float bf16_rounded(float x) { return __bfloat162float(__float2bfloat16_rn(x)); }

// A consumer warpgroup's 64 x 256 accumulators (gate units f0.. in fragments 0..63, up in 64..127, rows
// row0..) -> act (and gate, up when save_gate_up). bar: the warpgroup's named barrier.
__device__ __forceinline__ void swiglu_store_tile(const CUtensorMap* map_gate, const CUtensorMap* map_up,
                                                  const CUtensorMap* map_act, const float (&d)[128], uint32_t buf,
                                                  long row0, int f0, int bar, bool save_gate_up) {
  const bool issuer = tma_store_issuer();
  // The copy engine has read the buffer's previous contents (the previous item's act).
  if (issuer) asm volatile("cp.async.bulk.wait_group.read 0;\n" ::: "memory");
  asm volatile("bar.sync %0, 128;\n" ::"r"(bar) : "memory");
  if (save_gate_up) {
    stmatrix_boxes<WG_BN / 8>(buf, [&](int i) { return d[i]; });
    asm volatile("bar.sync %0, 128;\n" ::"r"(bar) : "memory");
    if (issuer) {
      tma_store_boxes(map_gate, buf, 0, 2, f0, row0);
      tma_store_boxes(map_up, buf, 2, 2, f0, row0);
      asm volatile("cp.async.bulk.commit_group;\n" ::: "memory");
      asm volatile("cp.async.bulk.wait_group.read 0;\n" ::: "memory");
    }
    asm volatile("bar.sync %0, 128;\n" ::"r"(bar) : "memory");  // boxes 0-1 are free for act
  }
  stmatrix_boxes<WG_BN / 16>(buf, [&](int i) { return swiglu_value(bf16_rounded(d[i]), bf16_rounded(d[i + 64])); });
  asm volatile("bar.sync %0, 128;\n" ::"r"(bar) : "memory");
  if (issuer) {
    tma_store_boxes(map_act, buf, 0, 2, f0, row0);
    asm volatile("cp.async.bulk.commit_group;\n" ::: "memory");
  }
}

// o: m = T, n = 2F (the walk's columns), one split, bf16 out (o.out is not used: the maps are).
__device__ __forceinline__ void gemm_swiglu_body(GemmOut o, const CUtensorMap* map_x, const CUtensorMap* map_w_gate,
                                                 const CUtensorMap* map_w_up, const CUtensorMap* map_gate,
                                                 const CUtensorMap* map_up, const CUtensorMap* map_act, int K,
                                                 bool save_gate_up) {
  constexpr int STAGES = 3;
  static_assert(ws_epilogue_cols(STAGES) == WG_BN, "the epilogue needs the full-width buffer");
  ws_run<false, STAGES>(
      o.m, o.n, 1, 1,
      [&](const WsBlock<false>& blk) {
        if (threadIdx.x == 0)
          tma_produce<false, STAGES>(
              o, map_x, K, K, blk,
              [&]() {
                asm volatile("prefetch.tensormap [%0];\n" ::"l"(map_w_gate) : "memory");
                asm volatile("prefetch.tensormap [%0];\n" ::"l"(map_w_up) : "memory");
              },
              [&](uint32_t dst, int n0, int k0, uint32_t bar) {
                tma_load_box(dst, map_w_gate, k0, n0 / 2, bar);
                tma_load_box(dst + WG_B_BYTES / 2, map_w_up, k0, n0 / 2, bar);
              });
        __syncwarp();
      },
      [&](const WsBlock<false>& blk, int cw) {
        ws_consume<false, true, false, false, STAGES>(
            o, K, K, blk, cw, [&](const float(&d)[128], uint32_t buf, long row0, int n0, int bar) {
              swiglu_store_tile(map_gate, map_up, map_act, d, buf, row0, n0 / 2, bar, save_gate_up);
            });
        // Shared memory is not left while the copy engine may still read the buffer.
        if (tma_store_issuer()) asm volatile("cp.async.bulk.wait_group 0;\n" ::: "memory");
      });
}

#define GEMM_SWIGLU_BODY                                                                               \
  gemm_swiglu_body(GemmOut{nullptr, nullptr, t, 2 * f, 0, 0, 1, 0}, &map_x, &map_w_gate, &map_w_up, &map_gate, \
                   &map_up, &map_act, c, save_gate_up != 0);
#else
#define GEMM_SWIGLU_BODY
#endif

// The parameters of gemm_tma3st_swiglu_nt: the maps of x [T, C] (box {64, 128}), w_gate and w_up
// [F, C] (box {64, 128} each: half of gemm_tma3st_nt's B box), gate, up and act [T, F] (box {64, 64},
// gemm_tma3st's output maps; gate's and up's are never read unless save_gate_up), then T, F, C.
// Needs C % 8 == 0 and F % 8 == 0 (16-byte rows for the maps). Grid: (min(tiles, SMs), 1, 1) with
// tiles = ceil(T / 128) * ceil(2F / 256), WS_THREADS threads, ws_smem_bytes(3) of dynamic shared memory.
#define GEMM_SWIGLU_PARAMS                                                                             \
  const __grid_constant__ CUtensorMap map_x, const __grid_constant__ CUtensorMap map_w_gate,           \
      const __grid_constant__ CUtensorMap map_w_up, const __grid_constant__ CUtensorMap map_gate,      \
      const __grid_constant__ CUtensorMap map_up, const __grid_constant__ CUtensorMap map_act, int t, int f, int c, \
      int save_gate_up
