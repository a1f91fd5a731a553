package io.mobaspark.kernels.cuda;

/**
 * The launch constants of the MoBA kernels, mirrored from their {@code .cu} sources (which own
 * them): threads per CTA, tile sizes and the dynamic shared memory of each kernel. When a kernel
 * file changes one of these, the matching line here must change with it; the GPU parity lab
 * ({@code MobaParity}) and compute-sanitizer catch a mismatch.
 */
final class MobaKernelShapes {
  /** Threads of the router and forward CTAs ({@code kThreads}, moba_common.cuh). */
  static final int THREADS = 128;
  /** Query rows per router / forward CTA ({@code kTile}, moba_common.cuh). */
  static final int TILE = DeviceLayout.QUERY_TILE;
  /** Row tiles per (head, block) histogram column ({@code kListTiles}, moba_router.cu). */
  static final int LIST_TILES = 16;
  /** Routing rows a list warp stages per step for topk > 32 ({@code kListRows}, moba_router.cu). */
  static final int LIST_ROWS = 32;
  /** Threads and elements per CTA of the scan kernels ({@code kScanThreads}, {@code kScanChunk}). */
  static final int SCAN_THREADS = 1024;
  static final int SCAN_CHUNK = 4096;
  /** Key-tile width of moba_bwd_main: 128 keys when the block size allows it, else 64. */
  static final int WIDE_KEY_TILE = 128;
  static final int NARROW_KEY_TILE = 64;
  /** Threads of the elementwise helpers (centroid split, dq convert). */
  static final int ELEMENTWISE_THREADS = 256;
  /** Threads of a moba_bwd_delta CTA; a row (t, h) takes D / 8 of them. */
  static final int DELTA_THREADS = 128;

  private MobaKernelShapes() {}

  /** Longest per-lane router list kept in registers ({@code kRegCap}, moba_router.cu). */
  static final int ROUTE_REGISTER_CAP = 8;

  /**
   * {@code RouteSmem<D>::bytes(topk)}: two stages of hi/lo centroids (q and register lists alias
   * them), list lengths, and for topk - 1 > ROUTE_REGISTER_CAP the per-lane lists.
   */
  static int routeShared(int dim, int topk) {
    int lists = topk - 1 <= ROUTE_REGISTER_CAP ? 0 : TILE * 4 * (topk - 1) * 8;
    return 4 * TILE * dim * 2 + TILE * 4 * 4 + lists;
  }

  /** {@code FwdSmem<D>::bytes}: q tile, double-buffered 32-key K and V stages, three int rows. */
  static int forwardShared(int dim) {
    return forwardShared(dim, 32);
  }

  /** Keys per step of moba_fwd_window_d{D} (moba_window.cu): 64 at D = 64, else MoBA's 32. */
  static int windowForwardKeys(int dim) {
    return dim == 64 ? 64 : 32;
  }

  /** {@code FwdSmem<D, KEYS>::bytes} of moba_fwd_window_d{D}. */
  static int windowForwardShared(int dim) {
    return forwardShared(dim, windowForwardKeys(dim));
  }

  private static int forwardShared(int dim, int keys) {
    return TILE * dim * 2 + 2 * (2 * keys * dim * 2) + 3 * TILE * 4;
  }

  /** Key tile of moba_bwd_window_d{D}_k{KT} (moba_window.cu): 64 at D = 64, else 128. */
  static int windowKeyTile(int dim) {
    return dim == 64 ? NARROW_KEY_TILE : WIDE_KEY_TILE;
  }

  /**
   * Largest block size whose K and V moba_fwd_past_d{D} keeps in shared memory
   * ({@code kResidentKeys}, moba_fwd.cu); larger blocks run moba_fwd_past_wide_d{D}.
   */
  static final int RESIDENT_KEYS = 128;
  /** Rows of a (head, block) run per moba_fwd_past work item ({@code kItemRows}, moba_fwd.cu). */
  static final int ITEM_ROWS = 1024;

  /** {@code past_item_rows(B)}: rows per past work item, one 64-row tile for wide blocks. */
  static int pastItemRows(int blockSize) {
    return blockSize <= RESIDENT_KEYS ? ITEM_ROWS : TILE;
  }

  /** The past kernel for this block size, without its {@code _d{D}} suffix. */
  static String pastKernel(int blockSize) {
    return blockSize <= RESIDENT_KEYS ? "moba_fwd_past" : "moba_fwd_past_wide";
  }

  /** Query rows a warp of moba_fwd_past takes at a time ({@code kUnitRows}, moba_fwd.cu). */
  static final int UNIT_ROWS = 32;

  /**
   * Dynamic shared memory of the past kernel: {@code PastSmem<D>::bytes} (the block's K and V, one
   * 32-row q tile per warp, the item's rows and slots) for resident blocks, else
   * {@link #forwardShared}.
   */
  static int pastShared(int dim, int blockSize) {
    return blockSize <= RESIDENT_KEYS
        ? 2 * RESIDENT_KEYS * dim * 2 + THREADS / 32 * UNIT_ROWS * dim * 2 + 2 * ITEM_ROWS * 4
        : forwardShared(dim);
  }

  /**
   * {@code BwdSmem<D, KT>::bytes}: K, V tile, three 32-row q/dO stages, two dS^T buffers, four
   * rows of list entries, three of lse and delta, and 1 KiB to align the tiles for wgmma. On the
   * sm_90a image ({@code wgmmaImage}) the 128 x 128 tile takes {@code bytes_staged_dq}: two
   * 32-row chunks of dQ in fp32 (rows padded by 16 bytes) and their tokens beside that.
   */
  static int backwardShared(int dim, int keyTile, boolean wgmmaImage) {
    int chunk = 32;
    int bytes = 2 * keyTile * dim * 2 + 3 * (2 * chunk * dim * 2) + 2 * keyTile * chunk * 2
        + 4 * chunk * 4 + 2 * (3 * chunk * 4) + 1024;
    boolean stagedDq = wgmmaImage && dim == 128 && keyTile == WIDE_KEY_TILE;
    return stagedDq ? bytes + 2 * chunk * (dim + 4) * 4 + 2 * chunk * 4 : bytes;
  }

  /** Dynamic shared memory of moba_list_count / moba_list_scatter: counters plus staged routing. */
  static long listShared(int maxBlocksPerSequence, int topk) {
    return 4L * (maxBlocksPerSequence + (long) LIST_ROWS * topk);
  }

  /** Rows (t, h) of one moba_bwd_delta CTA: 16 bytes of O and of dO per thread. */
  static int deltaRowsPerCta(int dim) {
    return DELTA_THREADS * 8 / dim;
  }

  /** The backward's key tile for block size {@code blockSize}. */
  static int keyTile(int blockSize) {
    return blockSize % WIDE_KEY_TILE == 0 ? WIDE_KEY_TILE : NARROW_KEY_TILE;
  }
}
