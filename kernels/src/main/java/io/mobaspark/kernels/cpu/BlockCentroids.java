package io.mobaspark.kernels.cpu;

import io.mobaspark.kernels.AttentionConfig;
import io.mobaspark.kernels.SeqLayout;
import java.util.Arrays;

/**
 * The MoBA block centroids of a packed batch (MoBA, arXiv 2502.13189, Sec. 2.2: mean pooling of the
 * keys of each block). Blocks restart at every sequence start and are numbered globally across the
 * batch: sequence {@code s} owns {@code ceil(n_s / B)} consecutive blocks. Block {@code j} of a
 * sequence of length {@code n} covers keys {@code [jB, min((j+1)B, n))}; a partial last block is
 * averaged over the keys it has. Sums run in float64 in key order, then divide by the length.
 */
final class BlockCentroids {
  private final double[] values; // [blocks, Hkv, D]
  private final int[] firstBlockOfToken; // [T]: global index of block 0 of the token's sequence
  private final int kvHeads;
  private final int dim;

  private BlockCentroids(double[] values, int[] firstBlockOfToken, int kvHeads, int dim) {
    this.values = values;
    this.firstBlockOfToken = firstBlockOfToken;
    this.kvHeads = kvHeads;
    this.dim = dim;
  }

  /** Centroids of the keys {@code k [T, Hkv, D]}, one block per task. */
  static BlockCentroids compute(Parallel parallel, double[] k, AttentionConfig config,
      SeqLayout layout) {
    int kvHeads = config.kvHeads();
    int dim = config.headDim();
    int blockSize = config.blockSize();
    int blocks = 0;
    for (int s = 0; s < layout.sequences(); s++) {
      blocks += (layout.length(s) + blockSize - 1) / blockSize;
    }
    int[] blockStart = new int[blocks]; // first key token of each global block
    int[] blockEnd = new int[blocks];
    int[] firstBlockOfToken = new int[layout.totalTokens()];
    int next = 0;
    for (int s = 0; s < layout.sequences(); s++) {
      Arrays.fill(firstBlockOfToken, layout.start(s), layout.end(s), next);
      for (int lo = layout.start(s); lo < layout.end(s); lo += blockSize) {
        blockStart[next] = lo;
        blockEnd[next] = Math.min(lo + blockSize, layout.end(s));
        next++;
      }
    }

    double[] values = new double[blocks * kvHeads * dim];
    parallel.forRange(blocks, 1, (firstBlock, endBlock) -> {
      for (int b = firstBlock; b < endBlock; b++) {
        int rowWidth = kvHeads * dim; // one block's centroids, all KV heads: [Hkv, D]
        int centroid = b * rowWidth;
        for (int t = blockStart[b]; t < blockEnd[b]; t++) {
          for (int i = 0; i < rowWidth; i++) {
            values[centroid + i] += k[t * rowWidth + i];
          }
        }
        int length = blockEnd[b] - blockStart[b];
        for (int i = 0; i < rowWidth; i++) {
          values[centroid + i] /= length;
        }
      }
    });
    return new BlockCentroids(values, firstBlockOfToken, kvHeads, dim);
  }

  /** All centroids, {@code [blocks, Hkv, D]}. */
  double[] values() {
    return values;
  }

  /** Global index of block 0 of the sequence that holds {@code token}. */
  int firstBlockOf(int token) {
    return firstBlockOfToken[token];
  }

  /** Offset in {@link #values()} of the centroid {@code [D]} of a global block for a KV head. */
  int offset(int globalBlock, int kvHead) {
    return (globalBlock * kvHeads + kvHead) * dim;
  }
}
