package io.mobaspark.kernels.cuda;

import io.mobaspark.kernels.SeqLayout;
import java.util.HashMap;
import java.util.Map;

/**
 * A packed batch's {@code cu_seqlens} in device memory, and, per MoBA block size, {@code cu_blocks}
 * (sequence s owns global key blocks {@code [cu_blocks[s], cu_blocks[s+1])}), and {@code cu_qtiles}
 * (sequence s owns the 64-row query tiles {@code [cu_qtiles[s], cu_qtiles[s+1])} of the MoBA
 * kernels). The backend keeps the last one, since consecutive layers of a step share the layout;
 * every block size seen stays uploaded, since MoBA and dense layers (a block size of their own,
 * MobaAttentionCuda) alternate and each upload synchronizes with the host.
 */
final class DeviceLayout implements AutoCloseable {
  /** Query rows per tile of the MoBA router and forward kernels ({@code kTile} in moba_common.cuh). */
  static final int QUERY_TILE = 64;

  private final SeqLayout layout;
  private final DeviceBuffer cuSeqlens; // [S + 1] int32
  private final Map<Integer, DeviceBuffer> cuBlocks = new HashMap<>(); // block size -> [S + 1] int32
  private DeviceBuffer cuQtiles; // [S + 1] int32, on first use

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

  /** {@code cu_blocks} for this block size, uploaded once per block size. */
  DeviceBuffer cuBlocks(CudaContext context, int size) {
    return cuBlocks.computeIfAbsent(size, b -> upload(context, blockOffsets(layout, b)));
  }

  /** {@code cu_qtiles}: prefix sums of {@code ceil(len_s / 64)}, uploaded once. */
  DeviceBuffer cuQtiles(CudaContext context) {
    if (cuQtiles == null) {
      cuQtiles = upload(context, blockOffsets(layout, QUERY_TILE));
    }
    return cuQtiles;
  }

  private static DeviceBuffer upload(CudaContext context, int[] values) {
    DeviceBuffer buffer = context.allocate(4L * values.length);
    buffer.write(values);
    return buffer;
  }

  /** {@code cu_blocks}: prefix sums of {@code ceil(len_s / blockSize)}. */
  static int[] blockOffsets(SeqLayout layout, int blockSize) {
    int[] cu = new int[layout.sequences() + 1];
    for (int s = 0; s < layout.sequences(); s++) {
      cu[s + 1] = cu[s] + (layout.length(s) + blockSize - 1) / blockSize;
    }
    return cu;
  }

  /** The most key blocks any one sequence has. */
  static int maxBlocks(SeqLayout layout, int blockSize) {
    return (layout.maxLength() + blockSize - 1) / blockSize;
  }

  @Override
  public void close() {
    cuSeqlens.close();
    cuBlocks.values().forEach(DeviceBuffer::close);
    if (cuQtiles != null) {
      cuQtiles.close();
    }
  }
}
