package io.mobaspark.kernels.cuda;

import io.mobaspark.kernels.AttentionConfig;
import io.mobaspark.kernels.AttentionKind;
import io.mobaspark.kernels.SeqLayout;

/**
 * The sizes one MoBA kernel run is launched with, all known on the host from the config and the
 * packed layout (no device sync). Dense causal attention runs as MoBA with one block per sequence
 * and {@code topk = 1}: the own block is then every earlier key of the sequence, which is MOBA.md
 * rule 5 without a router, a routing table of zeros and no past-block partials.
 *
 * @param blockSize   key block size B (dense: the longest sequence rounded up to the 128-key tile)
 * @param topk        blocks per query, own block included (dense: 1)
 * @param totalBlocks key blocks of the whole batch, {@code NB}
 * @param maxBlocks   key blocks of the longest sequence
 * @param queryTiles  64-row query tiles of the whole batch
 */
record MobaGeometry(int tokens, int heads, int kvHeads, int dim, int sequences, int blockSize,
    int topk, int totalBlocks, int maxBlocks, int queryTiles) {

  static MobaGeometry of(AttentionConfig config, SeqLayout layout) {
    boolean dense = config.kind() == AttentionKind.DENSE;
    int tile = MobaKernelShapes.WIDE_KEY_TILE;
    int blockSize = dense ? (layout.maxLength() + tile - 1) / tile * tile : config.blockSize();
    int topk = dense ? 1 : config.topk();
    int[] blocks = DeviceLayout.blockOffsets(layout, blockSize);
    int[] tiles = DeviceLayout.blockOffsets(layout, MobaKernelShapes.TILE);
    return new MobaGeometry(layout.totalTokens(), config.heads(), config.kvHeads(),
        config.headDim(), layout.sequences(), blockSize, topk, blocks[layout.sequences()],
        DeviceLayout.maxBlocks(layout, blockSize), tiles[layout.sequences()]);
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
