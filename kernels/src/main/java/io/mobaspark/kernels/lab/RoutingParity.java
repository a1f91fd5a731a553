package io.mobaspark.kernels.lab;

import io.mobaspark.kernels.SeqLayout;
import java.util.Arrays;
import java.util.TreeSet;

/**
 * The GPU routing against the float64 router (MOBA.md, "Correctness policy"): a row passes when it
 * equals the reference row, or when it is well formed (past blocks ascending, the own block last,
 * -1 padding) with as many past blocks, and every block in which the two sets differ scores within
 * a near-tie ({@value #NEAR_TIE} relative) of the reference's cut-off, the lowest score it kept.
 */
final class RoutingParity {
  static final double NEAR_TIE = 1e-3;

  /** Rows compared, rows that differ (near-ties included) and rows that differ wrongly. */
  record Result(long rows, long differing, long wrong) {
    boolean passed() {
      return wrong == 0;
    }
  }

  private RoutingParity() {}

  /**
   * @param gpu, ref routing {@code [H, T, topk]}
   * @param q    queries {@code [T, H, D]} as stored (bf16 values)
   * @param centroids float64 centroids {@code [blocks, Hkv * D]} (CentroidParity.reference)
   */
  static Result compare(int[] gpu, int[] ref, double[] q, double[] centroids, int heads, int kvHeads,
      int dim, int blockSize, int topk, SeqLayout layout) {
    int tokens = layout.totalTokens();
    int[] pos = layout.positions();
    int[] firstBlock = firstBlockOfToken(layout, blockSize);
    long differing = 0;
    long wrong = 0;
    for (int h = 0; h < heads; h++) {
      for (int t = 0; t < tokens; t++) {
        int row = (h * tokens + t) * topk;
        int[] a = Arrays.copyOfRange(gpu, row, row + topk);
        int[] r = Arrays.copyOfRange(ref, row, row + topk);
        if (Arrays.equals(a, r)) {
          continue;
        }
        differing++;
        int own = pos[t] / blockSize;
        int g = h / (heads / kvHeads);
        int qRow = (t * heads + h) * dim;
        boolean ok = wellFormed(a, own) && past(a, own).size() == past(r, own).size();
        double cutoff = Double.POSITIVE_INFINITY;
        for (int j : past(r, own)) {
          cutoff = Math.min(cutoff, score(q, qRow, centroids, firstBlock[t] + j, g, kvHeads, dim));
        }
        TreeSet<Integer> differ = past(a, own);
        TreeSet<Integer> refPast = past(r, own);
        for (int j : refPast) {
          if (!differ.remove(j)) {
            differ.add(j);
          }
        }
        for (int j : differ) {
          double s = score(q, qRow, centroids, firstBlock[t] + j, g, kvHeads, dim);
          if (Math.abs(s - cutoff) > NEAR_TIE * Math.max(Math.abs(s), Math.abs(cutoff)) + 1e-6) {
            ok = false;
          }
        }
        if (!ok) {
          wrong++;
        }
      }
    }
    return new Result((long) heads * tokens, differing, wrong);
  }

  /** Past blocks strictly ascending and below own, then own, then only -1. */
  private static boolean wellFormed(int[] row, int own) {
    int i = 0;
    int last = -1;
    while (i < row.length && row[i] >= 0 && row[i] < own) {
      if (row[i] <= last) {
        return false;
      }
      last = row[i++];
    }
    if (i == row.length || row[i++] != own) {
      return false;
    }
    while (i < row.length) {
      if (row[i++] != -1) {
        return false;
      }
    }
    return true;
  }

  private static TreeSet<Integer> past(int[] row, int own) {
    TreeSet<Integer> set = new TreeSet<>();
    for (int j : row) {
      if (j >= 0 && j != own) {
        set.add(j);
      }
    }
    return set;
  }

  private static double score(double[] q, int qRow, double[] centroids, int block, int g, int kvHeads,
      int dim) {
    int c = (block * kvHeads + g) * dim;
    double s = 0;
    for (int x = 0; x < dim; x++) {
      s += q[qRow + x] * centroids[c + x];
    }
    return s;
  }

  /** Global index of block 0 of each token's sequence. */
  private static int[] firstBlockOfToken(SeqLayout layout, int blockSize) {
    int[] first = new int[layout.totalTokens()];
    int blocks = 0;
    for (int s = 0; s < layout.sequences(); s++) {
      Arrays.fill(first, layout.start(s), layout.end(s), blocks);
      blocks += (layout.length(s) + blockSize - 1) / blockSize;
    }
    return first;
  }
}
