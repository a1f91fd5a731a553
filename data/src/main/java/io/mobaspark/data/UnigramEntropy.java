package io.mobaspark.data;

/**
 * The entropy of a dataset's token frequencies, in nats per token: the lowest loss any model that
 * ignores context can reach on that data. A language model has learned something only once its
 * loss falls below it.
 */
public final class UnigramEntropy {
  private static final int CHUNK = 1 << 16;

  private UnigramEntropy() {}

  /** H = -sum_v p(v) ln p(v) over the token counts of every shard of {@code data}. */
  public static double nats(Dataset data) {
    long[] counts = new long[data.vocabSize()];
    int[] buffer = new int[CHUNK];
    for (int s = 0; s < data.shardCount(); s++) {
      var shard = data.shard(s);
      for (long start = 0; start < shard.tokens(); start += CHUNK) {
        int n = (int) Math.min(CHUNK, shard.tokens() - start);
        shard.read(start, buffer, 0, n);
        for (int i = 0; i < n; i++) {
          counts[buffer[i]]++;
        }
      }
    }
    return entropy(counts);
  }

  /** Entropy in nats of the distribution proportional to {@code counts}; 0 for no counts. */
  static double entropy(long[] counts) {
    long total = 0;
    for (long c : counts) {
      total += c;
    }
    double h = 0;
    for (long c : counts) {
      if (c > 0) {
        double p = (double) c / total;
        h -= p * Math.log(p);
      }
    }
    return h;
  }
}
