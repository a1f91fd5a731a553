package io.mobaspark.kernels.cpu;

import io.mobaspark.kernels.AttentionConfig;
import io.mobaspark.kernels.SeqLayout;
import java.util.Arrays;

/**
 * The MoBA gate (MoBA, arXiv 2502.13189, Sec. 2.2; docs/moba.md, "Routing"): per sequence and KV
 * head, block {@code j} covers keys {@code [jB, min((j+1)B, n))} and has centroid {@code c_j}, the
 * mean of those keys (accumulated in float64). A query at position {@code pos} always takes its own
 * block {@code floor(pos/B)}; the other {@code topk-1} slots go to the past blocks
 * ({@code j < floor(pos/B)}, those that end strictly before the query) with the highest unscaled
 * score {@code q . c_j}, ties to the higher block index. The routing row {@code [topk]} lists the
 * chosen blocks in ascending order, then -1 for the slots that had no eligible block.
 *
 * <p>The cost is one dot product per (query, past block), as in FlashMoBA's fused top-k; no
 * {@code [T, T/B]} score matrix is stored. Each routing row is computed alone, so the result does
 * not depend on the thread count.
 */
final class MobaRouterCpu {
  /** Query rows per task. */
  private static final int QUERY_ROWS_PER_TASK = 32;

  private MobaRouterCpu() {}

  static void route(Parallel parallel, int[] routing, double[] q, double[] k,
      AttentionConfig config, SeqLayout layout) {
    int tokens = layout.totalTokens();
    int heads = config.heads();
    int group = config.groupSize();
    int dim = config.headDim();
    int blockSize = config.blockSize();
    int topk = config.topk();
    BlockCentroids centroids = BlockCentroids.compute(parallel, k, config, layout);
    int[] positions = layout.positions(); // [T]

    parallel.forRange(tokens * heads, QUERY_ROWS_PER_TASK, (firstRow, endRow) -> {
      // The best past blocks so far, best first: by score, then by the higher index.
      double[] bestScores = new double[topk - 1];
      int[] bestBlocks = new int[topk - 1];
      for (int row = firstRow; row < endRow; row++) {
        int t = row / heads;
        int h = row % heads;
        int ownBlock = positions[t] / blockSize;
        int firstCentroid = centroids.firstBlockOf(t);
        int kvHead = h / group;
        int qRow = row * dim; // row (t, h) of q [T, H, D]
        int kept = 0;
        for (int j = 0; j < ownBlock; j++) {
          double score = dot(q, qRow, centroids.values(),
              centroids.offset(firstCentroid + j, kvHead), dim);
          kept = offer(bestScores, bestBlocks, kept, score, j);
        }
        int[] chosen = Arrays.copyOf(bestBlocks, kept + 1);
        chosen[kept] = ownBlock;
        Arrays.sort(chosen); // the own block is the largest; past blocks go in ascending order
        int out = (h * tokens + t) * topk; // routing [H, T, topk]
        System.arraycopy(chosen, 0, routing, out, chosen.length);
        Arrays.fill(routing, out + chosen.length, out + topk, -1);
      }
    });
  }

  /**
   * Inserts block {@code block} with {@code score} into the best-first list of length {@code kept}
   * (capacity {@code scores.length}) when it ranks high enough, and returns the new length. Blocks
   * arrive in ascending index order, so a block ranks above every listed block of equal score: that
   * is the tie rule, higher index wins.
   */
  private static int offer(double[] scores, int[] blocks, int kept, double score, int block) {
    int capacity = scores.length;
    boolean full = kept == capacity;
    if (full && (capacity == 0 || score < scores[capacity - 1])) {
      return kept;
    }
    int slot = full ? capacity - 1 : kept; // a full list drops its last entry
    while (slot > 0 && scores[slot - 1] <= score) {
      scores[slot] = scores[slot - 1];
      blocks[slot] = blocks[slot - 1];
      slot--;
    }
    scores[slot] = score;
    blocks[slot] = block;
    return full ? kept : kept + 1;
  }

  private static double dot(double[] a, int aOff, double[] b, int bOff, int dim) {
    double s = 0;
    for (int d = 0; d < dim; d++) {
      s += a[aOff + d] * b[bOff + d];
    }
    return s;
  }
}
