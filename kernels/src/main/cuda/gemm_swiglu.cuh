// gemm_tma3st_swiglu_nt (docs/gemm-cuda.md "SwiGLU in the epilogue"): the MLP's two input projections
// and SwiGLU in one launch (GemmCuda.swigluProjections, Model.blockActivations through
// Backend.swigluProjections). For x [T, C] (mlp_norm_out) and the weights w_gate, w_up [F, C] as the
// model keeps them:
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
// Epilogue, per consumer warpgroup through its 32 KiB buffer (4 boxes of 64 x 64 bf16): all 256
// columns as bf16 (boxes 0-1 gate, 2-3 up), stored to gate and up when save_gate_up (bulk tensor
// stores, waited for only until the copy engine has read them); then act in place over gate's boxes
// from the bf16 gate and up, stored from boxes 0-1. act is evaluated from the bf16 values, as
// swiglu_forward_bf16 reads the unfused GEMMs' outputs, with swiglu_value's bits: the unfused path's
// act bit for bit. Shared memory is gemm_tma3st's 209 KiB: no room for a separate act buffer (227 KiB
// at most).
#include "swiglu_math.cuh"

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)

// bf16 pairs -> fp32, the low half first.
__device__ __forceinline__ float bf16_lo(uint32_t pair) { return __uint_as_float(pair << 16); }
__device__ __forceinline__ float bf16_hi(uint32_t pair) { return __uint_as_float(pair & 0xffff0000u); }

// 8 act values from 8 gate and 8 up values (bf16, as 16-byte chunks), packed as bf16 again. First all 8
// by the unbranched evaluation, so that their chains interleave, then any it cannot round as `/` does
// (numerators below 2^-64) by swiglu_value, behind one branch that is almost never taken.
__device__ __forceinline__ uint4 swiglu_chunk(uint4 gate, uint4 up) {
  const uint32_t g[4] = {gate.x, gate.y, gate.z, gate.w}, u[4] = {up.x, up.y, up.z, up.w};
  float act[8];
  bool exact = true;
#pragma unroll
  for (int i = 0; i < 4; i++) {
    bool lo, hi;
    act[2 * i] = swiglu_value_unbranched(bf16_lo(g[i]), bf16_lo(u[i]), lo);
    act[2 * i + 1] = swiglu_value_unbranched(bf16_hi(g[i]), bf16_hi(u[i]), hi);
    exact = exact && lo && hi;
  }
  if (!exact) {
    for (int i = 0; i < 4; i++) {
      act[2 * i] = swiglu_value(bf16_lo(g[i]), bf16_lo(u[i]));
      act[2 * i + 1] = swiglu_value(bf16_hi(g[i]), bf16_hi(u[i]));
    }
  }
  return make_uint4(bf16x2(act[0], act[1]), bf16x2(act[2], act[3]), bf16x2(act[4], act[5]), bf16x2(act[6], act[7]));
}

// A consumer warpgroup's 64 x 256 accumulators (gate units f0.. in fragments 0..63, up in 64..127, rows
// row0..) -> act (and gate, up when save_gate_up). bar: the warpgroup's named barrier.
// gate and up go to the buffer as bf16 (boxes 0-1 and 2-3, the rounding the unfused path stores);
// then each thread turns 8 of its 16-byte gate chunks into act in place, reading up from the same
// offset two boxes on (the boxes share their swizzled layout, so no address is remapped). A short
// loop over shared memory instead of 64 values unrolled from the accumulators: the unrolled epilogue
// was some 1600 instructions per warp of straight-line code per tile (docs/gemm-cuda.md).
__device__ __forceinline__ void swiglu_store_tile(const CUtensorMap* map_gate, const CUtensorMap* map_up,
                                                  const CUtensorMap* map_act, const float (&d)[128], uint32_t buf,
                                                  long row0, int f0, int bar, bool save_gate_up) {
  const bool issuer = tma_store_issuer();
  // The copy engine has read the buffer's previous contents (the previous item's act).
  if (issuer) asm volatile("cp.async.bulk.wait_group.read 0;\n" ::: "memory");
  asm volatile("bar.sync %0, 128;\n" ::"r"(bar) : "memory");
  stmatrix_boxes<WG_BN / 8>(buf, [&](int i) { return d[i]; });
  asm volatile("bar.sync %0, 128;\n" ::"r"(bar) : "memory");
  if (save_gate_up) {
    if (issuer) {
      tma_store_boxes(map_gate, buf, 0, 2, f0, row0);
      tma_store_boxes(map_up, buf, 2, 2, f0, row0);
      asm volatile("cp.async.bulk.commit_group;\n" ::: "memory");
      // Gate's boxes are overwritten next.
      asm volatile("cp.async.bulk.wait_group.read 0;\n" ::: "memory");
    }
    asm volatile("bar.sync %0, 128;\n" ::"r"(bar) : "memory");
  }
#pragma unroll 2
  for (int k = 0; k < 8; k++) {
    const uint32_t at = buf + 16 * (threadIdx.x % 128 + 128 * k);
    uint4 g, u;
    asm volatile("ld.shared.v4.u32 {%0, %1, %2, %3}, [%4];\n" : "=r"(g.x), "=r"(g.y), "=r"(g.z), "=r"(g.w) : "r"(at));
    asm volatile("ld.shared.v4.u32 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(u.x), "=r"(u.y), "=r"(u.z), "=r"(u.w)
                 : "r"(at + 2 * 8192));
    const uint4 a = swiglu_chunk(g, u);
    asm volatile("st.shared.v4.u32 [%0], {%1, %2, %3, %4};\n" ::"r"(at), "r"(a.x), "r"(a.y), "r"(a.z), "r"(a.w)
                 : "memory");
  }
  // The generic-proxy writes above are what the copy engine (async proxy) reads next.
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
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
