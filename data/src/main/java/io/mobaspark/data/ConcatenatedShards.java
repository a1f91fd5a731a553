package io.mobaspark.data;

import io.mobaspark.data.shard.ShardReader;
import java.util.List;
import java.util.Objects;

/** Several shards read as one token stream, in list order. */
final class ConcatenatedShards {
  private final List<ShardReader> shards;
  /** {@code [shards + 1]}: where each shard starts in the stream, then the total. */
  private final long[] starts;

  ConcatenatedShards(List<ShardReader> shards) {
    this.shards = List.copyOf(shards);
    this.starts = new long[shards.size() + 1];
    for (int i = 0; i < shards.size(); i++) {
      starts[i + 1] = starts[i] + shards.get(i).tokens();
    }
  }

  long tokens() {
    return starts[shards.size()];
  }

  /** Copies stream tokens {@code [start, start+len)} into {@code dst[off, off+len)}. */
  void read(long start, int[] dst, int off, int len) {
    Objects.checkFromIndexSize(off, len, dst.length);
    if (start < 0 || start > tokens() - len) {
      throw new IndexOutOfBoundsException("tokens [" + start + ", " + (start + len)
          + ") outside the stream [0, " + tokens() + ")");
    }
    int s = shardOf(start);
    int copied = 0;
    while (copied < len) {
      long at = start + copied;
      int n = (int) Math.min(len - copied, starts[s + 1] - at);
      shards.get(s).read(at - starts[s], dst, off + copied, n);
      copied += n;
      s++;
    }
  }

  /** The shard holding stream token {@code i} (shards are never empty). */
  private int shardOf(long i) {
    int lo = 0;
    int hi = shards.size() - 1;
    while (lo < hi) {
      int mid = (lo + hi + 1) >>> 1;
      if (starts[mid] <= i) {
        lo = mid;
      } else {
        hi = mid - 1;
      }
    }
    return lo;
  }
}
