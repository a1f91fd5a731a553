package io.mobaspark.kernels.cpu;

import io.mobaspark.kernels.AttentionConfig;
import io.mobaspark.kernels.SeqLayout;
import java.util.Arrays;

/**
 * Causal softmax attention for DENSE, SLIDING and MOBA on one code path: the kinds differ only in
 * which keys a query sees ({@link KeySpans}), so the work is proportional to the selected keys
 * (MoBA never touches the blocks it did not route to). Layouts, as in {@link AttentionConfig}:
 * q, out {@code [T, H, D]}, k, v {@code [T, Hkv, D]}, lse {@code [H, T]}; query head {@code h}
 * reads KV head {@code h / (H/Hkv)}.
 *
 * <p>The forward is a two-pass stable softmax per query and saves
 * {@code lse = max + log(sum exp(s - max))} of the scaled scores {@code s = q.k / sqrt(D)}. The
 * backward recomputes {@code P = exp(s - lse)} from it instead of storing P, as FlashAttention-2
 * (arXiv 2307.08691, backward pass) and FlashMoBA (arXiv 2511.11571) do: with
 * {@code delta = rowsum(dO * O)}, {@code dV = P^T dO}, {@code dP = dO V^T},
 * {@code dS = P * (dP - delta)}, {@code dQ = scale dS K}, {@code dK = scale dS^T Q}.
 *
 * <p>Determinism: the forward computes each output row (token, head) alone; the backward runs one
 * task per (sequence, KV head), which alone writes that sequence's dk/dv rows of the KV head and
 * the dq rows of its query heads, visiting heads and queries in a fixed order. No result depends on
 * the thread count.
 */
final class AttentionCpu {
  /** Query rows per forward task: enough work to amortize a task even for short causal rows. */
  private static final int QUERY_ROWS_PER_TASK = 16;

  private AttentionCpu() {}

  static void forward(Parallel parallel, double[] out, double[] lse, double[] q, double[] k,
      double[] v, int[] routing, AttentionConfig config, SeqLayout layout) {
    int tokens = layout.totalTokens();
    int heads = config.heads();
    int kvHeads = config.kvHeads();
    int dim = config.headDim();
    int group = config.groupSize();
    double scale = config.scale();
    int[] positions = layout.positions(); // [T]
    KeySpans spans = new KeySpans(config, routing, tokens);
    int maxKeys = layout.maxLength();

    parallel.forRange(tokens * heads, QUERY_ROWS_PER_TASK, (firstRow, endRow) -> {
      double[] scores = new double[maxKeys]; // scaled scores of one query's selected keys
      int[] lo = new int[spans.maxSpans()];
      int[] hi = new int[spans.maxSpans()];
      for (int row = firstRow; row < endRow; row++) {
        int t = row / heads;
        int h = row % heads;
        int kvHead = h / group;
        int qRow = row * dim; // q and out row (t, h): [T, H, D] flattened
        int runs = spans.fill(h, t, t - positions[t], lo, hi);

        double max = Double.NEGATIVE_INFINITY;
        int n = 0;
        for (int r = 0; r < runs; r++) {
          for (int key = lo[r]; key < hi[r]; key++) {
            double s = scale * dot(q, qRow, k, (key * kvHeads + kvHead) * dim, dim);
            scores[n++] = s;
            max = Math.max(max, s);
          }
        }

        // Subtracting the max keeps every exp <= 1; the query's own key makes the sum >= exp(0).
        Arrays.fill(out, qRow, qRow + dim, 0.0);
        double sum = 0;
        n = 0;
        for (int r = 0; r < runs; r++) {
          for (int key = lo[r]; key < hi[r]; key++) {
            double weight = Math.exp(scores[n++] - max);
            sum += weight;
            axpy(weight, v, (key * kvHeads + kvHead) * dim, out, qRow, dim);
          }
        }
        double inverse = 1.0 / sum;
        for (int d = 0; d < dim; d++) {
          out[qRow + d] *= inverse;
        }
        lse[h * tokens + t] = max + Math.log(sum);
      }
    });
  }

  static void backward(Parallel parallel, double[] dq, double[] dk, double[] dv, double[] dOut,
      double[] q, double[] k, double[] v, double[] out, double[] lse, int[] routing,
      AttentionConfig config, SeqLayout layout) {
    int tokens = layout.totalTokens();
    int heads = config.heads();
    int kvHeads = config.kvHeads();
    int dim = config.headDim();
    int group = config.groupSize();
    double scale = config.scale();
    KeySpans spans = new KeySpans(config, routing, tokens);

    // One task per (sequence, KV head): tasks write disjoint rows of dq, dk and dv.
    parallel.forRange(layout.sequences() * kvHeads, 1, (firstTask, endTask) -> {
      int[] lo = new int[spans.maxSpans()];
      int[] hi = new int[spans.maxSpans()];
      double[] dqRow = new double[dim]; // [D]
      for (int task = firstTask; task < endTask; task++) {
        int seq = task / kvHeads;
        int kvHead = task % kvHeads;
        int start = layout.start(seq);
        int end = layout.end(seq);
        for (int t = start; t < end; t++) {
          int kvRow = (t * kvHeads + kvHead) * dim;
          Arrays.fill(dk, kvRow, kvRow + dim, 0.0);
          Arrays.fill(dv, kvRow, kvRow + dim, 0.0);
        }
        for (int h = kvHead * group; h < (kvHead + 1) * group; h++) {
          for (int t = start; t < end; t++) {
            int qRow = (t * heads + h) * dim;
            double rowLse = lse[h * tokens + t];
            double delta = dot(dOut, qRow, out, qRow, dim); // rowsum(dO * O)
            Arrays.fill(dqRow, 0.0);
            int runs = spans.fill(h, t, start, lo, hi);
            for (int r = 0; r < runs; r++) {
              for (int key = lo[r]; key < hi[r]; key++) {
                int kvRow = (key * kvHeads + kvHead) * dim;
                double p = Math.exp(scale * dot(q, qRow, k, kvRow, dim) - rowLse);
                double dp = dot(dOut, qRow, v, kvRow, dim);
                double ds = p * (dp - delta);
                axpy(scale * ds, k, kvRow, dqRow, 0, dim);
                axpy(scale * ds, q, qRow, dk, kvRow, dim);
                axpy(p, dOut, qRow, dv, kvRow, dim);
              }
            }
            System.arraycopy(dqRow, 0, dq, qRow, dim);
          }
        }
      }
    });
  }

  /** {@code sum_d a[aOff + d] * b[bOff + d]} over {@code dim} entries. */
  private static double dot(double[] a, int aOff, double[] b, int bOff, int dim) {
    double s = 0;
    for (int d = 0; d < dim; d++) {
      s += a[aOff + d] * b[bOff + d];
    }
    return s;
  }

  /** {@code y[yOff + d] += alpha * x[xOff + d]} over {@code dim} entries. */
  private static void axpy(double alpha, double[] x, int xOff, double[] y, int yOff, int dim) {
    for (int d = 0; d < dim; d++) {
      y[yOff + d] += alpha * x[xOff + d];
    }
  }
}
