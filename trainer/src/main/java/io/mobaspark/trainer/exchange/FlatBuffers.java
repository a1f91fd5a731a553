package io.mobaspark.trainer.exchange;

import java.util.List;

/**
 * A list of gradient buffers seen as one flat array, so that buckets of a fixed element count can
 * span buffer boundaries: many small tensors (norm weights) share one bucket and a large one
 * (the embedding) streams over several. Reading and writing disjoint ranges from two threads is safe.
 * Every wire value is a float, so the exchanges encode straight from these buffers and decode
 * straight into them, piece by piece ({@link #forEachPiece}).
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

  /** One piece of a flat range that lies in a single buffer. */
  @FunctionalInterface
  interface Piece {
    /**
     * @param buffer the buffer holding the piece
     * @param offset index of the piece's first element in {@code buffer}
     * @param count  elements in the piece
     * @param done   elements of the range before this piece
     */
    void accept(float[] buffer, int offset, int count, int done);
  }

  /**
   * Visits {@code flat[from, from + count)} as the pieces it spans, in order, so that a codec can
   * move each piece in bulk between the buffers and a wire buffer without a copy in between.
   */
  void forEachPiece(long from, int count, Piece piece) {
    int buffer = bufferOf(from);
    int done = 0;
    while (done < count) {
      int offset = (int) (from + done - starts[buffer]);
      int n = Math.min(count - done, buffers[buffer].length - offset);
      if (n > 0) {
        piece.accept(buffers[buffer], offset, n, done);
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
