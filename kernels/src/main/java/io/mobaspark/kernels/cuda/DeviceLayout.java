package io.mobaspark.kernels.cuda;

import io.mobaspark.kernels.SeqLayout;

/**
 * A packed batch's {@code cu_seqlens} in device memory, and, per MoBA block size, {@code cu_blocks}
 * (sequence s owns global key blocks {@code [cu_blocks[s], cu_blocks[s+1])}). The backend keeps the
 * last one, since consecutive layers of a step share the layout.
 */
final class DeviceLayout implements AutoCloseable {
  private final SeqLayout layout;
  private final DeviceBuffer cuSeqlens; // [S + 1] int32
  private DeviceBuffer cuBlocks; // [S + 1] int32 for blockSize
  private int blockSize;

  DeviceLayout(CudaContext context, SeqLayout layout) {
    this.layout = layout;
    int[] cu = layout.cuSeqlens();
    this.cuSeqlens = context.allocate(4L * cu.length);
    cuSeqlens.write(cu);
  }

  SeqLayout layout() {
    return layout;
  }

  DeviceBuffer cuSeqlens() {
    return cuSeqlens;
  }

  /** {@code cu_blocks} for this block size, kept until another block size is asked for. */
  DeviceBuffer cuBlocks(CudaContext context, int size) {
    if (cuBlocks == null || blockSize != size) {
      if (cuBlocks != null) {
        cuBlocks.close();
      }
      cuBlocks = context.allocate(4L * (layout.sequences() + 1));
      cuBlocks.write(blockOffsets(layout, size));
      blockSize = size;
    }
    return cuBlocks;
  }

  /** {@code cu_blocks}: prefix sums of {@code ceil(len_s / blockSize)}. */
  static int[] blockOffsets(SeqLayout layout, int blockSize) {
    int[] cu = new int[layout.sequences() + 1];
    for (int s = 0; s < layout.sequences(); s++) {
      cu[s + 1] = cu[s] + (layout.length(s) + blockSize - 1) / blockSize;
    }
    return cu;
  }

  @Override
  public void close() {
    cuSeqlens.close();
    if (cuBlocks != null) {
      cuBlocks.close();
    }
  }
}
