package io.mobaspark.data;

import io.mobaspark.data.shard.ShardReader;
import java.util.ArrayList;
import java.util.List;

/**
 * Training windows for one rank: a deterministic, resumable stream of token windows.
 *
 * <p>Rank {@code r} of {@code w} reads the shards {@code i} with {@code i % w == r}, concatenated in
 * manifest order: ranks never share a token. Each epoch {@code e} cuts that stream into
 * {@code K = floor(N / windowTokens)} adjacent windows starting at a seeded offset in
 * {@code [0, N - K * windowTokens]} (so window edges move between epochs), then visits them in a
 * seeded pseudo-random order ({@link WindowPermutation}). Window number {@code c} of the stream,
 * the cursor, is window {@code perm_e(c mod K)} of epoch {@code e = c / K}: a pure function of
 * (dataset, seed, rank, worldSize, windowTokens, c). A batch takes the next {@code batchSize}
 * cursors, and may span two epochs.
 *
 * <p>Windows hold {@code T + 1} tokens: inputs are {@code window[0, T)}, targets
 * {@code window[1, T]}. Adjacent windows do not overlap, so a window's first token is never a
 * target: 1 token in {@code windowTokens} goes unpredicted each epoch, and moves with the offset.
 *
 * <p>Not thread-safe: one sampler per training loop.
 */
public final class WindowSampler {
  private static final long OFFSET_STREAM = 1;
  private static final long ORDER_STREAM = 2;

  private final ConcatenatedShards stream;
  private final int windowTokens;
  private final int batchSize;
  private final long seed;
  private final int rank;
  private final int worldSize;
  private final long windowsPerEpoch;
  /** Tokens left over after K windows: the range of the per-epoch offset. */
  private final long slack;
  private long cursor;
  private long cachedEpoch = -1;
  private long epochOffset;
  private WindowPermutation epochOrder;

  /**
   * @param windowTokens tokens per window, {@code T + 1} for sequence length {@code T}
   * @param batchSize windows per {@link #next} call
   * @param rank this rank, in {@code [0, worldSize)}
   * @throws IllegalArgumentException naming the offending argument, when the dataset has fewer
   *     shards than ranks, or when this rank's shards hold less than one window
   */
  public WindowSampler(Dataset dataset, int windowTokens, int batchSize, long seed, int rank,
      int worldSize) {
    if (dataset == null) {
      throw new IllegalArgumentException("dataset is null");
    }
    if (windowTokens < 2) {
      throw new IllegalArgumentException(
          "windowTokens must be >= 2 (T + 1 with T >= 1), got " + windowTokens);
    }
    if (batchSize < 1) {
      throw new IllegalArgumentException("batchSize must be >= 1, got " + batchSize);
    }
    if ((long) batchSize * windowTokens > Integer.MAX_VALUE - 8) {
      throw new IllegalArgumentException("batchSize " + batchSize + " * windowTokens "
          + windowTokens + " does not fit one Java array");
    }
    if (worldSize < 1) {
      throw new IllegalArgumentException("worldSize must be >= 1, got " + worldSize);
    }
    if (rank < 0 || rank >= worldSize) {
      throw new IllegalArgumentException(
          "rank must be in [0, worldSize=" + worldSize + "), got " + rank);
    }
    if (dataset.shardCount() < worldSize) {
      throw new IllegalArgumentException("dataset " + dataset.directory() + " has "
          + dataset.shardCount() + " shards, fewer than worldSize " + worldSize
          + ": every rank needs a shard of its own; pack it into more shards");
    }
    List<ShardReader> mine = new ArrayList<>();
    for (int i = rank; i < dataset.shardCount(); i += worldSize) {
      mine.add(dataset.shard(i));
    }
    this.stream = new ConcatenatedShards(mine);
    if (stream.tokens() < windowTokens) {
      throw new IllegalArgumentException("rank " + rank + " of " + worldSize + " has "
          + stream.tokens() + " tokens in its shards of " + dataset.directory()
          + ", less than one window of windowTokens " + windowTokens);
    }
    this.windowTokens = windowTokens;
    this.batchSize = batchSize;
    this.seed = seed;
    this.rank = rank;
    this.worldSize = worldSize;
    this.windowsPerEpoch = stream.tokens() / windowTokens;
    this.slack = stream.tokens() - windowsPerEpoch * windowTokens;
  }

  /**
   * The next {@code batchSize} windows, row-major {@code [batchSize, windowTokens]}; advances the
   * cursor by {@code batchSize}.
   */
  public int[] next() {
    int[] batch = new int[batchSize * windowTokens];
    for (int b = 0; b < batchSize; b++) {
      stream.read(windowStart(cursor + b), batch, b * windowTokens, windowTokens);
    }
    cursor += batchSize;
    return batch;
  }

  /** Windows handed out so far: the number a checkpoint stores to resume exactly. */
  public long cursor() {
    return cursor;
  }

  /** Makes the next {@link #next} return what a fresh sampler returned at {@code cursor}. */
  public void seek(long cursor) {
    if (cursor < 0) {
      throw new IllegalArgumentException("cursor must be >= 0, got " + cursor);
    }
    this.cursor = cursor;
  }

  public int batchSize() {
    return batchSize;
  }

  public int windowTokens() {
    return windowTokens;
  }

  /** Windows in one epoch of this rank. */
  public long windowsPerEpoch() {
    return windowsPerEpoch;
  }

  /** The epoch that the window at {@link #cursor} belongs to. */
  public long epoch() {
    return cursor / windowsPerEpoch;
  }

  /** Where window number {@code c} of this rank's window stream starts in its token stream. */
  private long windowStart(long c) {
    long epoch = c / windowsPerEpoch;
    if (epoch != cachedEpoch) {
      epochOffset = Math.floorMod(
          SplitMix64.hash(seed, rank, worldSize, epoch, OFFSET_STREAM), slack + 1);
      epochOrder = new WindowPermutation(windowsPerEpoch,
          SplitMix64.hash(seed, rank, worldSize, epoch, ORDER_STREAM));
      cachedEpoch = epoch;
    }
    return epochOffset + epochOrder.apply(c % windowsPerEpoch) * windowTokens;
  }
}
