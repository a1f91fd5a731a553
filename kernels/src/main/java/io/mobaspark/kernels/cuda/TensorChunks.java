package io.mobaspark.kernels.cuda;

import java.util.ArrayList;
import java.util.List;

/**
 * A device table with which one kernel launch walks many tensors of the same element count each
 * (a model's parameters with their gradients and moments): per tensor i its buffers' addresses
 * ({@code buffers} per tensor, {@code addresses[buffers * i + j]}) and element count, and the
 * tensors cut into chunks of at most {@value #CHUNK} elements, one CTA each ({@code chunkTensor},
 * {@code chunkStart}, and per tensor its first chunk, {@code firstChunk[i] .. firstChunk[i + 1]}).
 * A launch per tensor costs the host a kernel launch each, which for the ~120 small tensors of a
 * model left the GPU waiting on the host at every optimizer step; the table is uploaded once
 * (a synchronous copy) and reused while the same tensors come back ({@link #matches}).
 */
final class TensorChunks implements AutoCloseable {
  /** Elements per chunk: a multiple of 4 (16-byte packs) and of a CTA's 256 threads. */
  static final long CHUNK = 1L << 16;

  private final List<DeviceBuffer> key;
  private final int chunks;
  private final DeviceBuffer addresses;
  private final DeviceBuffer sizes;
  private final DeviceBuffer chunkTensor;
  private final DeviceBuffer chunkStart;
  private final DeviceBuffer firstChunk;

  /**
   * The table of {@code columns}: column j lists buffer j of every tensor (e.g. params, grads, m,
   * v), all of the same length, tensors of one index of the same element count ({@code numel}).
   */
  TensorChunks(CudaContext context, List<List<CudaTensor>> columns) {
    int tensors = columns.get(0).size();
    key = new ArrayList<>();
    long[] numel = new long[tensors];
    for (int i = 0; i < tensors; i++) {
      numel[i] = columns.get(0).get(i).numel();
      for (List<CudaTensor> column : columns) {
        CudaTensor t = column.get(i);
        if (t.numel() != numel[i]) {
          throw new IllegalArgumentException("tensor " + t + " has " + t.numel() + " elements where "
              + columns.get(0).get(i) + " has " + numel[i]);
        }
        key.add(t.buffer());
      }
    }
    int[] first = new int[tensors + 1];
    for (int i = 0; i < tensors; i++) {
      first[i + 1] = Math.addExact(first[i], Math.toIntExact((numel[i] + CHUNK - 1) / CHUNK));
    }
    chunks = first[tensors];
    int[] tensorOf = new int[chunks];
    long[] startOf = new long[chunks];
    for (int i = 0; i < tensors; i++) {
      for (int c = first[i]; c < first[i + 1]; c++) {
        tensorOf[c] = i;
        startOf[c] = (c - first[i]) * CHUNK;
      }
    }
    addresses = context.allocate(8L * key.size());
    sizes = context.allocate(8L * tensors);
    chunkTensor = context.allocate(4L * chunks);
    chunkStart = context.allocate(8L * chunks);
    firstChunk = context.allocate(4L * first.length);
    addresses.writeAddresses(key);
    sizes.write(numel);
    chunkTensor.write(tensorOf);
    chunkStart.write(startOf);
    firstChunk.write(first);
  }

  /** Whether this table was built for exactly these buffers, in this order. */
  boolean matches(List<List<CudaTensor>> columns) {
    int tensors = columns.get(0).size();
    if (key.size() != tensors * columns.size()) {
      return false;
    }
    int k = 0;
    for (int i = 0; i < tensors; i++) {
      for (List<CudaTensor> column : columns) {
        if (column.get(i).buffer() != key.get(k++)) {
          return false;
        }
      }
    }
    return true;
  }

  /** Chunks in all: the grid of a launch over the table. */
  int chunks() {
    return chunks;
  }

  DeviceBuffer addresses() {
    return addresses;
  }

  DeviceBuffer sizes() {
    return sizes;
  }

  DeviceBuffer chunkTensor() {
    return chunkTensor;
  }

  DeviceBuffer chunkStart() {
    return chunkStart;
  }

  DeviceBuffer firstChunk() {
    return firstChunk;
  }

  @Override
  public void close() {
    addresses.close();
    sizes.close();
    chunkTensor.close();
    chunkStart.close();
    firstChunk.close();
  }
}
