// Candidate (not in the launcher, never run on a GPU yet): the persistent 128 x 256 wgmma GEMM of
// gemm.cu with a producer warpgroup and per-stage mbarriers instead of one block barrier per K step
// (docs/gemm-cuda.md, "Candidates prepared, not yet run"). Included by gemm_harness.cu after gemm.cu,
// whose contract, tile order, copy mapping, descriptors and epilogues it reuses.
//
// 384 threads: warpgroup 0 copies (setmaxnreg 40), warpgroups 1 and 2 compute rows [0, 64) and
// [64, 128) of the tile (setmaxnreg 232). Stage s has two mbarriers:
//   full[s]  128 arrivals: each producer thread's `cp.async.mbarrier.arrive.noinc` arrives when that
//            thread's copies into the stage have landed, without the thread waiting for them;
//   empty[s] 8 arrivals: one per consumer warp once its wgmmas that read the stage are done.
// The producer waits only for empty stages, so its copies run up to WS_STAGES - 1 steps ahead of
// the wgmmas (3 with 4 stages; the landed kernel: 2, tied to a block barrier). The removed 2026-11
// warp-specialized kernel signalled "full" from the producer only after its cp.async.wait_group saw
// the stage land, two stages later, so each full signal waited on the consumers' release of an
// older stage; here the hardware signals it.
//
// Epilogue: the stages belong to the producer, which is already copying the next item; each consumer
// warpgroup stages its bf16 rows in a 16 KiB buffer of its own, half of the 256 columns at a time.

// Stages: 3 gives a full-width 32 KiB staging buffer per warpgroup and a copy lead of 2 steps, 4 half
// buffers and a lead of 3 (the shared memory holds 208 or 224 KiB plus alignment either way).
#ifndef WS_STAGES
#define WS_STAGES 4
#endif
#define WS_THREADS 384
#define WS_PRODUCER_THREADS 128
#define WS_CONSUMER_WARPS 8
// Registers per thread after setmaxnreg: the producer's, and the consumers' share of the rest of the
// SM's 64K (a multiple of 8).
#ifndef WS_PRODUCER_REGS
#define WS_PRODUCER_REGS 40
#endif
#define WS_CONSUMER_REGS ((65536 - WS_PRODUCER_THREADS * WS_PRODUCER_REGS) / (WS_THREADS - WS_PRODUCER_THREADS) / 8 * 8)
#define WS_EPILOGUE_COLS (WS_STAGES == 3 ? WG_BN : WG_BN / 2)
#define WS_EPILOGUE_BYTES (64 * WS_EPILOGUE_COLS * 2)  // per consumer warpgroup
// Dynamic shared memory: the stages, the two warpgroups' staging buffers, slack to align to 1 KiB.
#define WS_SMEM_BYTES (WS_STAGES * WG_STAGE_BYTES + 2 * WS_EPILOGUE_BYTES + 1024)

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)

__device__ __forceinline__ void mbarrier_init(uint32_t bar, int count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count) : "memory");
}

// Returns once the phase of `bar` with this parity has completed (parity 1 on a fresh barrier: at once).
__device__ __forceinline__ void mbarrier_wait(uint32_t bar, uint32_t parity) {
  asm volatile(
      "{\n"
      ".reg .pred done;\n"
      "wait_%=:\n"
      "mbarrier.try_wait.parity.shared::cta.b64 done, [%0], %1;\n"
      "@!done bra wait_%=;\n"
      "}\n" ::"r"(bar),
      "r"(parity)
      : "memory");
}

__device__ __forceinline__ void mbarrier_arrive(uint32_t bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(bar) : "memory");
}

// One of the barrier's expected arrivals, made by the hardware once all of this thread's earlier
// cp.async copies have landed (.noinc: the arrival counts against the count given at init).
__device__ __forceinline__ void cp_async_arrive_noinc(uint32_t bar) {
  asm volatile("cp.async.mbarrier.arrive.noinc.shared::cta.b64 [%0];\n" ::"r"(bar) : "memory");
}

template <bool TA, bool TB>
__device__ __forceinline__ void ws_produce(const GemmOut& o, const __nv_bfloat16* __restrict__ a,
                                           const __nv_bfloat16* __restrict__ b, int K, int k_split, int items,
                                           uint32_t smem, uint32_t full, uint32_t empty) {
  const int tid = threadIdx.x;  // 0..127
  int stage = 0;
  uint32_t round = 0;  // how many times the stages have been walked, mod 2
  for (int item = blockIdx.x; item < items; item += gridDim.x) {
    const WgItem it = wg_item(item, o.m, o.n, K, k_split);
    for (int step = 0; step < it.steps; step++) {
      mbarrier_wait(empty + 8 * stage, round ^ 1);
      const uint32_t sa = smem + stage * WG_STAGE_BYTES, sb = sa + WG_A_BYTES;
      const int k0 = it.k_begin + step * WG_BK;
      wg_load_tile<WG_BM, !TA, WS_PRODUCER_THREADS, true>(sa, a, o.m, K, it.m0, k0, it.k_end, tid);
      wg_load_tile<WG_BN, TB, WS_PRODUCER_THREADS, true>(sb, b, o.n, K, it.n0, k0, it.k_end, tid);
      cp_async_arrive_noinc(full + 8 * stage);
      if (++stage == WS_STAGES) {
        stage = 0;
        round ^= 1;
      }
    }
  }
  cp_async_wait<0>();  // leave no copy in flight behind an exited thread
}

// Consumer warpgroup cw (0 or 1): rows [64 cw, 64 cw + 64) of every item's tile.
template <bool TA, bool TB>
__device__ __forceinline__ void ws_consume(GemmOut o, int K, int k_split, int items, uint32_t smem, uint32_t full,
                                           uint32_t empty, int cw) {
  const bool staged = o.splits == 1 && !o.out_f32 && !o.accumulate && o.n % 8 == 0;
  const bool warp_leader = threadIdx.x % 32 == 0;
  const int bar = 1 + cw;  // this warpgroup's named barrier (0 is the block's)
  const uint32_t buf = smem + WS_STAGES * WG_STAGE_BYTES + cw * WS_EPILOGUE_BYTES;
  float d[128];
  int stage = 0, held = 0;
  uint32_t round = 0;
  for (int item = blockIdx.x; item < items; item += gridDim.x) {
    const WgItem it = wg_item(item, o.m, o.n, K, k_split);
#pragma unroll
    for (int i = 0; i < 128; i++) d[i] = 0.0f;
    for (int step = 0; step < it.steps; step++) {
      mbarrier_wait(full + 8 * stage, round);
      // The copies reached shared memory through the generic proxy; wgmma reads through the async one.
      asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
      const uint32_t a_base = smem + stage * WG_STAGE_BYTES + cw * 8192;
      const uint32_t b_base = smem + stage * WG_STAGE_BYTES + WG_A_BYTES;
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
      wgmma_wait<1>();  // the previous step's wgmmas are done: its stage goes back to the producer
      fence_accumulators(d);
      if (step > 0 && warp_leader) mbarrier_arrive(empty + 8 * held);
      held = stage;
      if (++stage == WS_STAGES) {
        stage = 0;
        round ^= 1;
      }
    }
    wgmma_wait<0>();
    fence_accumulators(d);
    if (it.steps > 0 && warp_leader) mbarrier_arrive(empty + 8 * held);

    o.split = it.split;
    const long row0 = it.m0 + cw * 64;
    if (staged) {
      // The buffer is free once every warp of this warpgroup has read back the previous item's rows.
      asm volatile("bar.sync %0, 128;\n" ::"r"(bar) : "memory");
      if (WS_EPILOGUE_COLS == WG_BN) {
        wg_store_staged<WG_BN, 0>(o, d, buf, row0, it.n0, bar);
      } else {
        wg_store_staged<WG_BN / 2, 0>(o, d, buf, row0, it.n0, bar);
        asm volatile("bar.sync %0, 128;\n" ::"r"(bar) : "memory");
        wg_store_staged<WG_BN / 2, WG_BN / 16>(o, d, buf, row0, it.n0, bar);
      }
    } else {
      wg_store_fragments(o, d, row0, it.n0);
    }
  }
}

template <bool TA, bool TB>
__device__ __forceinline__ void gemm_ws_body(GemmOut o, const __nv_bfloat16* __restrict__ a,
                                             const __nv_bfloat16* __restrict__ b, int K, int k_split) {
  extern __shared__ uint8_t smem_raw[];
  __shared__ __align__(8) uint64_t barriers[2 * WS_STAGES];  // full[s] at 8 s, empty[s] after them
  const uint32_t smem = (static_cast<uint32_t>(__cvta_generic_to_shared(smem_raw)) + 1023) & ~1023u;
  const uint32_t full = static_cast<uint32_t>(__cvta_generic_to_shared(barriers));
  const uint32_t empty = full + 8 * WS_STAGES;
  const int items = ((o.m + WG_BM - 1) / WG_BM) * ((o.n + WG_BN - 1) / WG_BN) * o.splits;
  if (threadIdx.x == 0) {
    for (int s = 0; s < WS_STAGES; s++) {
      mbarrier_init(full + 8 * s, WS_PRODUCER_THREADS);
      mbarrier_init(empty + 8 * s, WS_CONSUMER_WARPS);
    }
  }
  __syncthreads();
  const int wg = threadIdx.x / 128;
  if (wg == 0) {
    asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(WS_PRODUCER_REGS));
    ws_produce<TA, TB>(o, a, b, K, k_split, items, smem, full, empty);
  } else {
    asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(WS_CONSUMER_REGS));
    ws_consume<TA, TB>(o, K, k_split, items, smem, full, empty, wg - 1);
  }
}

#define GEMM_WS_BODY(TA, TB)                                                                              \
  gemm_ws_body<TA, TB>(GemmOut{out, partials, m, n, out_f32, accumulate, (k + k_split - 1) / k_split, 0}, a, \
                       b, k, k_split);
#else
#define GEMM_WS_BODY(TA, TB)
#endif

// Grid: (min(work items, SMs), 1, 1), WS_SMEM_BYTES of dynamic shared memory.
#define GEMM_WS_KERNEL(NAME, TA, TB)                                                                   \
  extern "C" __global__ void __launch_bounds__(WS_THREADS, 1) NAME(GEMM_PARAMS) {                   \
    GEMM_WS_BODY(TA, TB)                                                                               \
  }
GEMM_WS_KERNEL(gemm_ws_nn, false, false)
GEMM_WS_KERNEL(gemm_ws_nt, false, true)
GEMM_WS_KERNEL(gemm_ws_tn, true, false)
GEMM_WS_KERNEL(gemm_ws_tt, true, true)
