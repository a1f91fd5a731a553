package io.mobaspark.kernels.cpu;

import io.mobaspark.kernels.AttentionConfig;
import io.mobaspark.kernels.AttentionKind;

/**
 * The keys one query attends to, as up to {@link #maxSpans()} disjoint runs of key tokens
 * {@code [lo, hi)} in ascending order. This is the only place where DENSE, SLIDING and MOBA differ,
 * so that the attention forward and backward share one code path (docs/moba.md, "Causal rules"):
 * <ul>
 *   <li>DENSE: one run, from the sequence start up to and including the query.
 *   <li>SLIDING: one run, {@code pos - window < keyPos <= pos}, clipped to the sequence.
 *   <li>MOBA: one run per routed block (MoBA, arXiv 2502.13189, Sec. 2.2): a past block whole, the
 *       query's own block token-causal, up to and including the query.
 * </ul>
 * A MOBA routing row is validated as it is read, so a malformed table (a buggy kernel, a hand-made
 * test) fails loudly instead of silently attending to future keys.
 */
final class KeySpans {
  private final AttentionKind kind;
  private final int window;
  private final int blockSize;
  private final int topk;
  private final int tokens;
  private final int[] routing; // [H, T, topk] for MOBA, else null

  KeySpans(AttentionConfig config, int[] routing, int tokens) {
    this.kind = config.kind();
    this.window = config.window();
    this.blockSize = config.blockSize();
    this.topk = config.topk();
    this.tokens = tokens;
    this.routing = routing;
  }

  /** The most runs {@link #fill} returns: the length the {@code lo}/{@code hi} arrays need. */
  int maxSpans() {
    return kind == AttentionKind.MOBA ? topk : 1;
  }

  /**
   * Writes the runs of query {@code token} of query head {@code head}, whose sequence starts at
   * token {@code seqStart}, into {@code lo}/{@code hi} (absolute token indices, {@code hi}
   * exclusive) and returns how many there are (at least one: every query sees itself).
   */
  int fill(int head, int token, int seqStart, int[] lo, int[] hi) {
    int pos = token - seqStart;
    switch (kind) {
      case DENSE -> {
        lo[0] = seqStart;
        hi[0] = token + 1;
        return 1;
      }
      case SLIDING -> {
        lo[0] = seqStart + Math.max(0, pos - window + 1);
        hi[0] = token + 1;
        return 1;
      }
      case MOBA -> {
        return fillRouted(head, token, seqStart, pos, lo, hi);
      }
      default -> throw new IllegalStateException("unhandled attention kind " + kind);
    }
  }

  /**
   * One run per routed block. Past blocks end before the query, so they are whole blocks even when
   * the sequence's last block is partial; only the own block is cut at the query.
   */
  private int fillRouted(int head, int token, int seqStart, int pos, int[] lo, int[] hi) {
    int own = pos / blockSize;
    int row = (head * tokens + token) * topk;
    int count = 0;
    int previous = -1;
    for (int slot = 0; slot < topk; slot++) {
      int block = routing[row + slot];
      if (block == -1) {
        requirePadding(head, token, row, slot);
        break;
      }
      if (block <= previous || block > own) {
        throw invalid(head, token, slot, block,
            "blocks must be ascending and none after the query's own block " + own);
      }
      lo[count] = seqStart + block * blockSize;
      hi[count] = block == own ? token + 1 : seqStart + (block + 1) * blockSize;
      count++;
      previous = block;
    }
    if (previous != own) {
      int last = Math.max(0, count - 1);
      throw invalid(head, token, last, routing[row + last],
          "the row's last block must be the query's own block " + own);
    }
    return count;
  }

  /** Empty slots (-1) only at the end of a row. */
  private void requirePadding(int head, int token, int row, int firstEmpty) {
    for (int slot = firstEmpty + 1; slot < topk; slot++) {
      if (routing[row + slot] != -1) {
        throw invalid(head, token, slot, routing[row + slot], "empty slots (-1) must come last");
      }
    }
  }

  private static IllegalArgumentException invalid(int head, int token, int slot, int block,
      String rule) {
    return new IllegalArgumentException("invalid MoBA routing at [head " + head + ", token " + token
        + ", slot " + slot + "] = " + block + ": " + rule);
  }
}
