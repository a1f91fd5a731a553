package io.mobaspark.kernels.cuda;

import io.mobaspark.kernels.AttentionConfig;
import io.mobaspark.kernels.AttentionKind;
import io.mobaspark.kernels.SeqLayout;

/**
 * The sizes one MoBA kernel run is launched with, all known on the host from the config and the
 * packed layout (no device sync). Dense causal attention runs as MoBA with one block per sequence
 * and {@code topk = 1}: the own block is then every earlier key of the sequence, which is MOBA.md
 * rule 5 without a router, a routing table of zeros and no past-block partials. Sliding-window
 * attention has the same layout (one block per sequence, no routing) plus its window, which the
 * window kernels (moba_window.cu) take instead of the lists.
 *
 * @param blockSize   key block size B (dense, sliding: the longest sequence rounded up to the
 *                    128-key tile)
 * @param topk        blocks per query, own block included (dense, sliding: 1)
 * @param totalBlocks key blocks of the whole batch, {@code NB}
 * @param maxBlocks   key blocks of the longest sequence
 * @param queryTiles  64-row query tiles of the whole batch
 * @param window      SLIDING: keys per query, at most the longest sequence (a longer window sees
 *                    the same keys, and the clamp keeps {@code t - window + 1} and
 *                    {@code key + window} far from int overflow); 0 for MOBA and DENSE
 */
record MobaGeometry(int tokens, int heads, int kvHeads, int dim, int sequences, int blockSize,
    int topk, int totalBlocks, int maxBlocks, int queryTiles, int window) {

  static MobaGeometry of(AttentionConfig config, SeqLayout layout) {
    boolean wholeSequence = config.kind() != AttentionKind.MOBA; // DENSE or SLIDING
    int tile = MobaKernelShapes.WIDE_KEY_TILE;
    int blockSize = wholeSequence ? (layout.maxLength() + tile - 1) / tile * tile
        : config.blockSize();
    int topk = wholeSequence ? 1 : config.topk();
    int window = config.kind() == AttentionKind.SLIDING
        ? Math.min(config.window(), layout.maxLength()) : 0;
    int[] blocks = DeviceLayout.blockOffsets(layout, blockSize);
    int[] tiles = DeviceLayout.blockOffsets(layout, MobaKernelShapes.TILE);
    return new MobaGeometry(layout.totalTokens(), config.heads(), config.kvHeads(),
        config.headDim(), layout.sequences(), blockSize, topk, blocks[layout.sequences()],
        DeviceLayout.maxBlocks(layout, blockSize), tiles[layout.sequences()], window);
  }

  /** Sliding-window attention: the window kernels, no routing and no lists. */
  boolean sliding() {
    return window > 0;
  }

  /** Softmax scale {@code 1/sqrt(D)} as the kernels take it. */
  float scale() {
    return (float) (1.0 / Math.sqrt(dim));
  }

  /** Entries of the routing table {@code [H, T, topk]}, which is also the most list entries. */
  long routingEntries() {
    return (long) heads * tokens * topk;
  }

  /** (head, block) pairs: the lists, {@code H * NB}. */
  long pairs() {
    return (long) heads * totalBlocks;
  }

  /** Histogram cells {@code [H, NB, LIST_TILES]}, scanned in place into list offsets. */
  long histogramCells() {
    return pairs() * MobaKernelShapes.LIST_TILES;
  }
}
