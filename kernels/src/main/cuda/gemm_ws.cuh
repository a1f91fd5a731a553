// The warp-specialized persistent 128 x 256 wgmma GEMM (gemm_ws_*, docs/gemm-cuda.md "Kernels"): the
// pipelined kernel of gemm.cu with a producer warpgroup and per-stage mbarriers instead of one block
// barrier per K step. Included by gemm.cu after the pipelined kernel, whose contract, tile order,
// copy mapping, descriptors and epilogues it reuses; gemm.cu defines the kernels. The lab's
// gemm_ws_pair.cu adds 2-block cluster pairs on the same code (PAIR below; slower, not launched by
// the trainer).
//
// 384 threads: warpgroup 0 copies (setmaxnreg 40), warpgroups 1 and 2 compute rows [0, 64) and
// [64, 128) of the tile (setmaxnreg 232). Stage s has two mbarriers:
//   full[s]  128 arrivals: each producer thread's `cp.async.mbarrier.arrive.noinc` arrives when that
//            thread's copies into the stage have landed, without the thread waiting for them;
//   empty[s] 8 arrivals: one per consumer warp once its wgmmas that read the stage are done.
// The producer waits only for empty stages, so its copies run up to WS_STAGES - 1 steps ahead of
// the wgmmas (3 with 4 stages; the pipelined kernel: 2, tied to a block barrier). The removed 2026-11
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
// Pairs: how many steps after issuing its copies of a step the producer forwards that step's half of B.
#ifndef WS_FORWARD_LAG
#define WS_FORWARD_LAG 1
#endif
// Columns of a consumer warpgroup's epilogue buffer for a stage count: all 256 with 3 stages, half with 4.
__host__ __device__ constexpr int ws_epilogue_cols(int stages) { return stages == 3 ? WG_BN : WG_BN / 2; }
// Dynamic shared memory: the stages, the two warpgroups' staging buffers, slack to align to 1 KiB.
__host__ __device__ constexpr int ws_smem_bytes(int stages) {
  return stages * WG_STAGE_BYTES + 2 * (64 * ws_epilogue_cols(stages) * 2) + 1024;
}
#define WS_SMEM_BYTES ws_smem_bytes(WS_STAGES)

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

// ---- cluster pairs (gemm_ws_pair_*) ----------------------------------------------------------------

__device__ __forceinline__ int cluster_rank() {
  uint32_t r;
  asm volatile("mov.u32 %0, %%cluster_ctarank;\n" : "=r"(r));
  return (int)r;
}
// The peer block's shared::cluster address of the same offset as `local` in this block.
__device__ __forceinline__ uint32_t peer_address(uint32_t local, int peer) {
  uint32_t remote;
  asm volatile("mapa.shared::cluster.u32 %0, %1, %2;\n" : "=r"(remote) : "r"(local), "r"(peer));
  return remote;
}
// Every thread of both blocks; release / acquire order the shared-memory work around it.
__device__ __forceinline__ void cluster_sync() {
  asm volatile("barrier.cluster.arrive.release.aligned;\nbarrier.cluster.wait.acquire.aligned;\n" ::: "memory");
}
__device__ __forceinline__ void mbarrier_arrive_remote(uint32_t remote_bar) {
  asm volatile("mbarrier.arrive.shared::cluster.b64 _, [%0];\n" ::"r"(remote_bar) : "memory");
}
// Announces `bytes` of asynchronous copies completing on the barrier's current phase (no arrival).
__device__ __forceinline__ void mbarrier_expect_bytes(uint32_t bar, uint32_t bytes) {
  asm volatile("mbarrier.expect_tx.relaxed.cta.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(bytes) : "memory");
}
// `bytes` of this block's shared memory at `local` -> the peer's `remote_dst`, completing on the
// peer's barrier `remote_bar` (both shared::cluster addresses).
__device__ __forceinline__ void copy_to_peer(uint32_t remote_dst, uint32_t local, uint32_t bytes, uint32_t remote_bar) {
  asm volatile(
      "cp.async.bulk.shared::cluster.shared::cta.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];\n" ::"r"(
          remote_dst),
      "r"(local), "r"(bytes), "r"(remote_bar)
      : "memory");
}

// Where a block's barriers are and who it works with. PAIR: blocks 2u and 2u + 1 form cluster u and
// take the two tile rows of each of unit u's items (wg_item with rows 2), sharing its B tile: rank r
// copies B rows [128 r, 128 r + 128) of the 256 (16 KiB, contiguous in either layout) and forwards
// them to the peer. Barriers, 8 bytes each: full[s], empty[s], then (PAIR) half[s] (128 arrivals:
// this block's half of B landed, so it may be forwarded).
template <bool PAIR>
struct WsBlock {
  static constexpr int ROWS = PAIR ? 2 : 1;                   // tile rows per unit
  static constexpr int B_ROWS = WG_BN / ROWS;                 // rows of B this block copies
  static constexpr int B_OWN_BYTES = WG_B_BYTES / ROWS;
  uint32_t smem, full, empty, half;
  int rank, unit, units, items;

  __device__ uint32_t stage_a(int s) const { return smem + s * WG_STAGE_BYTES; }
  __device__ uint32_t own_b(int s) const { return smem + s * WG_STAGE_BYTES + WG_A_BYTES + rank * B_OWN_BYTES; }
};

// Producer warpgroup (PAIR: thread 0 also forwards this block's half of each step's B to the peer
// once it has landed: by default one step after issuing it, so that its warp's next copies do not wait
// for the landing; WS_FORWARD_LAG 0 forwards right after issuing, waiting for it within the step).
template <bool TA, bool TB, bool PAIR>
__device__ __forceinline__ void ws_produce(const GemmOut& o, const __nv_bfloat16* __restrict__ a,
                                           const __nv_bfloat16* __restrict__ b, int K, int k_split,
                                           const WsBlock<PAIR>& blk) {
  const int tid = threadIdx.x;  // 0..127
  const bool forwarder = PAIR && tid == 0;
  int stage = 0, sent = -1;  // sent: the stage whose half is forwarded next, -1 none
  uint32_t round = 0, sent_round = 0;  // how many times the stages have been walked, mod 2
  auto forward = [&]() {
    mbarrier_wait(blk.half + 8 * sent, sent_round);
    asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");  // cp.async wrote it, the bulk copy reads it
    const int peer = blk.rank ^ 1;
    copy_to_peer(peer_address(blk.own_b(sent), peer), blk.own_b(sent), WsBlock<PAIR>::B_OWN_BYTES,
                 peer_address(blk.full + 8 * sent, peer));
  };
  for (int item = blk.unit; item < blk.items; item += blk.units) {
    const WgItem it = wg_item(item, o.m, o.n, K, k_split, WsBlock<PAIR>::ROWS, blk.rank);
    for (int step = 0; step < it.steps; step++) {
      // Free in this block (and, PAIR, in the peer, whose consumers arrive here too).
      mbarrier_wait(blk.empty + 8 * stage, round ^ 1);
      if (forwarder) mbarrier_expect_bytes(blk.full + 8 * stage, WG_B_BYTES - WsBlock<PAIR>::B_OWN_BYTES);
      const int k0 = it.k_begin + step * WG_BK;
      wg_load_tile<WsBlock<PAIR>::B_ROWS, TB, WS_PRODUCER_THREADS, true>(
          blk.own_b(stage), b, o.n, K, it.n0 + blk.rank * WsBlock<PAIR>::B_ROWS, k0, it.k_end, tid);
      if (PAIR) cp_async_arrive_noinc(blk.half + 8 * stage);
      wg_load_tile<WG_BM, !TA, WS_PRODUCER_THREADS, true>(blk.stage_a(stage), a, o.m, K, it.m0, k0, it.k_end, tid);
      cp_async_arrive_noinc(blk.full + 8 * stage);
      if (forwarder) {
        if (sent >= 0) forward();  // the previous step's half (lag 1)
        sent = stage;
        sent_round = round;
        if (WS_FORWARD_LAG == 0) {  // this step's, as soon as it has landed
          forward();
          sent = -1;
        }
      }
      if (++stage == WS_STAGES) {
        stage = 0;
        round ^= 1;
      }
    }
  }
  if (forwarder && sent >= 0) forward();
  // No copy in flight behind an exited thread (wait_all: none of them was committed to a group).
  asm volatile("cp.async.wait_all;\n" ::: "memory");
}

// A consumer warpgroup's plain bf16 output (the staged case) through its buffer `buf` of 64 x
// ws_epilogue_cols(STAGES) bf16: the whole 64 x 256, or one half of the columns at a time.
template <int STAGES>
__device__ __forceinline__ void ws_store_staged(const GemmOut& o, const float (&d)[128], uint32_t buf, long row0, int n0,
                                                int bar) {
  // The buffer is free once every warp of this warpgroup has read back the previous item's rows.
  asm volatile("bar.sync %0, 128;\n" ::"r"(bar) : "memory");
  if (ws_epilogue_cols(STAGES) == WG_BN) {
    wg_store_staged<WG_BN, 0>(o, d, buf, row0, n0, bar);
  } else {
    wg_store_staged<WG_BN / 2, 0>(o, d, buf, row0, n0, bar);
    asm volatile("bar.sync %0, 128;\n" ::"r"(bar) : "memory");
    wg_store_staged<WG_BN / 2, WG_BN / 16>(o, d, buf, row0, n0, bar);
  }
}

// Consumer warpgroup cw (0 or 1): rows [64 cw, 64 cw + 64) of every item's tile. GENERIC_COPIES: the
// stages were written by cp.async (the generic proxy), which the wgmmas' async proxy must be fenced
// against; the TMA-fed kernel's bulk tensor copies (gemm_tma.cuh) write through the async proxy already.
// store_staged(d, buf, row0, n0, bar) writes a plain bf16 output (ws_store_staged, or gemm_tma.cuh's
// bulk tensor stores), and an accumulated one too where STAGED_ACCUMULATE (gemm_tma.cuh's, which
// reads the old values through the copy engine); other outputs leave from the fragments.
template <bool TA, bool TB, bool PAIR, bool GENERIC_COPIES, int STAGES, bool STAGED_ACCUMULATE = false,
          typename StoreStaged>
__device__ __forceinline__ void ws_consume(GemmOut o, int K, int k_split, const WsBlock<PAIR>& blk, int cw,
                                           StoreStaged store_staged) {
  const bool staged = o.splits == 1 && !o.out_f32 && (!o.accumulate || STAGED_ACCUMULATE) && o.n % 8 == 0;
  const bool warp_leader = threadIdx.x % 32 == 0;
  const int bar = 1 + cw;  // this warpgroup's named barrier (0 is the block's)
  const uint32_t buf = blk.smem + STAGES * WG_STAGE_BYTES + cw * (64 * ws_epilogue_cols(STAGES) * 2);
  const uint32_t peer_empty = PAIR ? peer_address(blk.empty, blk.rank ^ 1) : 0;
  // Stage s goes back to the producers that write it: this block's, and (PAIR) the peer's forward.
  auto release = [&](int s) {
    if (!warp_leader) return;
    mbarrier_arrive(blk.empty + 8 * s);
    if (PAIR) mbarrier_arrive_remote(peer_empty + 8 * s);
  };
  float d[128];
  int stage = 0, held = 0;
  uint32_t round = 0;
  for (int item = blk.unit; item < blk.items; item += blk.units) {
    const WgItem it = wg_item(item, o.m, o.n, K, k_split, WsBlock<PAIR>::ROWS, blk.rank);
    wg_prefetch_accumulated(o, it.m0 + cw * 64, it.n0);
#pragma unroll
    for (int i = 0; i < 128; i++) d[i] = 0.0f;
    for (int step = 0; step < it.steps; step++) {
      mbarrier_wait(blk.full + 8 * stage, round);
      if (GENERIC_COPIES) asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
      const uint32_t a_base = blk.stage_a(stage) + cw * 8192;
      const uint32_t b_base = blk.stage_a(stage) + WG_A_BYTES;
      wg_mma_step<TA, TB>(d, a_base, b_base);
      if (step > 0) release(held);  // the previous step's wgmmas are done: its stage goes back
      held = stage;
      if (++stage == STAGES) {
        stage = 0;
        round ^= 1;
      }
    }
    wgmma_wait<0>();
    fence_accumulators(d);
    if (it.steps > 0) release(held);

    o.split = it.split;
    const long row0 = it.m0 + cw * 64;
    if (staged) {
      store_staged(d, buf, row0, it.n0, bar);
    } else {
      wg_store_fragments(o, d, row0, it.n0);
    }
  }
}

// The block's frame, shared with the TMA-fed kernels (gemm_tma.cuh): STAGES stages' barriers (full[s]
// expecting `full_arrivals`), roles (warpgroup 0 runs produce(blk), warpgroups 1 and 2 consume(blk,
// cw) after setmaxnreg) and, PAIR, the cluster syncs around them.
template <bool PAIR, int STAGES, typename Produce, typename Consume>
__device__ __forceinline__ void ws_run(int m, int n, int splits, int full_arrivals, Produce produce, Consume consume) {
  extern __shared__ uint8_t smem_raw[];
  __shared__ __align__(8) uint64_t barriers[3 * STAGES];
  WsBlock<PAIR> blk;
  blk.smem = (static_cast<uint32_t>(__cvta_generic_to_shared(smem_raw)) + 1023) & ~1023u;
  blk.full = static_cast<uint32_t>(__cvta_generic_to_shared(barriers));
  blk.empty = blk.full + 8 * STAGES;
  blk.half = blk.empty + 8 * STAGES;
  blk.rank = PAIR ? cluster_rank() : 0;
  blk.unit = blockIdx.x / WsBlock<PAIR>::ROWS;
  blk.units = gridDim.x / WsBlock<PAIR>::ROWS;
  const int rows = WsBlock<PAIR>::ROWS * WG_BM;
  blk.items = ((m + rows - 1) / rows) * ((n + WG_BN - 1) / WG_BN) * splits;
  if (threadIdx.x == 0) {
    for (int s = 0; s < STAGES; s++) {
      mbarrier_init(blk.full + 8 * s, full_arrivals);
      mbarrier_init(blk.empty + 8 * s, WS_CONSUMER_WARPS * WsBlock<PAIR>::ROWS);
      if (PAIR) mbarrier_init(blk.half + 8 * s, WS_PRODUCER_THREADS);
    }
    // The initialized barriers visible to the peer and to the async proxy (bulk copies complete on them).
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
  }
  if (PAIR) {
    cluster_sync();  // the peer's barriers exist before anything arrives on them
  } else {
    __syncthreads();
  }
  const int wg = threadIdx.x / 128;
  if (wg == 0) {
    asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(WS_PRODUCER_REGS));
    produce(blk);
  } else {
    asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(WS_CONSUMER_REGS));
    consume(blk, wg - 1);
  }
  if (PAIR) cluster_sync();  // the peer no longer reads, writes or arrives on this block's shared memory
}

template <bool TA, bool TB, bool PAIR>
__device__ __forceinline__ void gemm_ws_body(GemmOut o, const __nv_bfloat16* __restrict__ a,
                                             const __nv_bfloat16* __restrict__ b, int K, int k_split) {
  ws_run<PAIR, WS_STAGES>(
      o.m, o.n, o.splits, WS_PRODUCER_THREADS,
      [&](const WsBlock<PAIR>& blk) { ws_produce<TA, TB, PAIR>(o, a, b, K, k_split, blk); },
      [&](const WsBlock<PAIR>& blk, int cw) {
        ws_consume<TA, TB, PAIR, true, WS_STAGES>(o, K, k_split, blk, cw,
                                                  [&](const float(&d)[128], uint32_t buf, long row0, int n0, int bar) {
                                                    ws_store_staged<WS_STAGES>(o, d, buf, row0, n0, bar);
                                                  });
      });
}

#define GEMM_WS_BODY(TA, TB, PAIR)                                                                     \
  gemm_ws_body<TA, TB, PAIR>(GemmOut{out, partials, m, n, out_f32, accumulate, (k + k_split - 1) / k_split, 0}, \
                             a, b, k, k_split);
#else
#define GEMM_WS_BODY(TA, TB, PAIR)
#endif
