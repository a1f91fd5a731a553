package io.mobaspark.trainer.exchange;

import java.util.List;

/**
 * A list of gradient buffers seen as one flat array, so that buckets of a fixed element count can
 * span buffer boundaries: many small tensors (norm weights) share one bucket and a large one
 * (the embedding) streams over several. Reading and writing disjoint ranges from two threads is safe.
 * The buffers hold floats, and so do the ranks' bucket buffers: every wire value is a float, so a
 * bucket moves by {@link System#arraycopy} both ways.
 */
final class FlatBuffers {
  private final float[][] buffers;
  /** starts[i] = flat index of buffers[i][0]; starts[length] = size. */
  private final long[] starts;

  FlatBuffers(List<float[]> buffers) {
    if (buffers == null || buffers.isEmpty()) {
      throw new IllegalArgumentException("buffers must be a non-empty list, got " + buffers);
    }
    this.buffers = buffers.toArray(new float[0][]);
    this.starts = new long[this.buffers.length + 1];
    for (int i = 0; i < this.buffers.length; i++) {
      if (this.buffers[i] == null) {
        throw new IllegalArgumentException("buffer " + i + " is null");
      }
      starts[i + 1] = starts[i] + this.buffers[i].length;
    }
    if (size() == 0) {
      throw new IllegalArgumentException("the " + this.buffers.length + " buffers are all empty");
    }
  }

  long size() {
    return starts[buffers.length];
  }

  /** How many buckets of {@code bucketElements} cover the flat array (the last may be shorter). */
  int bucketCount(int bucketElements) {
    long count = (size() + bucketElements - 1) / bucketElements;
    if (count > Integer.MAX_VALUE) {
      throw new IllegalArgumentException(size() + " elements need too many buckets of "
          + bucketElements);
    }
    return (int) count;
  }

  /** Element count of bucket {@code bucket}. */
  int bucketLength(int bucket, int bucketElements) {
    return (int) Math.min(bucketElements, size() - (long) bucket * bucketElements);
  }

  /** {@code dst[0, count) = flat[from, from + count)}. */
  void read(long from, float[] dst, int count) {
    copy(from, dst, count, true);
  }

  /** {@code flat[from, from + count) = src[0, count)}. */
  void write(long from, float[] src, int count) {
    copy(from, src, count, false);
  }

  private void copy(long from, float[] bucket, int count, boolean toBucket) {
    int buffer = bufferOf(from);
    int done = 0;
    while (done < count) {
      int offset = (int) (from + done - starts[buffer]);
      int n = Math.min(count - done, buffers[buffer].length - offset);
      if (toBucket) {
        System.arraycopy(buffers[buffer], offset, bucket, done, n);
      } else {
        System.arraycopy(bucket, done, buffers[buffer], offset, n);
      }
      done += n;
      buffer++;
    }
  }

  /** The buffer holding flat index {@code index} (skipping empty buffers). */
  private int bufferOf(long index) {
    int lo = 0;
    int hi = buffers.length - 1;
    while (lo < hi) {
      int mid = (lo + hi + 1) >>> 1;
      if (starts[mid] <= index) {
        lo = mid;
      } else {
        hi = mid - 1;
      }
    }
    return lo;
  }
}
