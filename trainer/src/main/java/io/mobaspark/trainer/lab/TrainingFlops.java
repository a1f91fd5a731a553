package io.mobaspark.trainer.lab;

import io.mobaspark.kernels.AttentionKind;
import io.mobaspark.kernels.SeqLayout;
import io.mobaspark.trainer.model.ModelConfig;

/**
 * The FLOPs a training step does, as issue 5's MFU counts them: the dense-equivalent matmul FLOPs
 * (6 per weight per token: 2 forward, 4 backward; the lm_head included, the embedding lookup not) plus
 * the attention FLOPs of the query-key pairs each layer actually attends (12 per pair, head and head
 * dimension: QK^T and PV forward, dP, dS K, dS^T Q and P^T dO backward; the backward's recomputation
 * of P is not counted, as in FlashAttention's convention). A MoBA layer's pairs come from its routing,
 * so the count follows the sparsity the router chose.
 */
public final class TrainingFlops {
  private TrainingFlops() {}

  /** 6 x the weights of every matmul, per token. */
  public static long matmulFlopsPerToken(ModelConfig c) {
    long d = c.dModel();
    long perLayer = 2 * d * c.queryDim() + 2 * d * c.keyValueDim() + 3 * d * c.ffn();
    long weights = c.layers() * perLayer + (long) c.vocabSize() * d;
    return 6 * weights;
  }

  /**
   * Query-key pairs one head attends in a DENSE or SLIDING layer: causal within each sequence, at most
   * {@code window} keys per query for SLIDING.
   */
  public static long densePairs(AttentionKind kind, int window, SeqLayout layout) {
    if (kind == AttentionKind.MOBA) {
      throw new IllegalArgumentException("MoBA pairs depend on the routing: use mobaPairs");
    }
    long pairs = 0;
    for (int s = 0; s < layout.sequences(); s++) {
      for (long p = 0; p < layout.length(s); p++) {
        pairs += kind == AttentionKind.SLIDING ? Math.min(p + 1, window) : p + 1;
      }
    }
    return pairs;
  }

  /**
   * Query-key pairs of a MoBA layer summed over its heads: for every head and query, the causal keys
   * of each selected block. routing {@code [H, T, topk]} as {@code Backend.mobaRoute} writes it
   * (block indices relative to the sequence start, -1 for empty slots).
   */
  public static long mobaPairs(int[] routing, int heads, int topk, int blockSize, SeqLayout layout) {
    int tokens = layout.totalTokens();
    if (routing.length != (long) heads * tokens * topk) {
      throw new IllegalArgumentException("routing has " + routing.length + " entries, expected heads "
          + heads + " x tokens " + tokens + " x topk " + topk);
    }
    long pairs = 0;
    for (int s = 0; s < layout.sequences(); s++) {
      int start = layout.start(s);
      int end = layout.end(s);
      for (int h = 0; h < heads; h++) {
        for (int t = start; t < end; t++) {
          int base = (h * tokens + t) * topk;
          for (int i = 0; i < topk; i++) {
            int block = routing[base + i];
            if (block >= 0) {
              long first = start + (long) block * blockSize;
              long last = Math.min(Math.min(first + blockSize, end) - 1, t);
              pairs += Math.max(0, last - first + 1);
            }
          }
        }
      }
    }
    return pairs;
  }

  /** 12 FLOPs per attended pair and head dimension (pairs already summed over heads). */
  public static double attentionFlops(long pairsOverHeads, int headDim) {
    return 12.0 * headDim * pairsOverHeads;
  }
}
