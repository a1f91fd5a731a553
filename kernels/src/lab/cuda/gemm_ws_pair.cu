// Lab only (the trainer does not launch it): gemm_ws.cuh's warp-specialized kernel in clusters of two
// blocks that share each B stage, so that an SM reads 32 KiB per K step from L2 instead of 48
// (docs/gemm-cuda.md, "Tried and not kept"). Included by gemm_harness.cu after gemm.cu with -DGEMM_WS.

// Grid: 2 x min(pair items, clusters of 2 that fit at once), WS_THREADS threads, WS_SMEM_BYTES.
#define GEMM_WS_PAIR_KERNEL(NAME, TA, TB)                                                              \
  extern "C" __global__ void __cluster_dims__(2, 1, 1) __launch_bounds__(WS_THREADS, 1) NAME(GEMM_PARAMS) { \
    GEMM_WS_BODY(TA, TB, true)                                                                         \
  }
GEMM_WS_PAIR_KERNEL(gemm_ws_pair_nn, false, false)
GEMM_WS_PAIR_KERNEL(gemm_ws_pair_nt, false, true)
GEMM_WS_PAIR_KERNEL(gemm_ws_pair_tn, true, false)
GEMM_WS_PAIR_KERNEL(gemm_ws_pair_tt, true, true)
