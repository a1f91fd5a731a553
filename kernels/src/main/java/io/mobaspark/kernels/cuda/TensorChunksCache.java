package io.mobaspark.kernels.cuda;

import java.util.List;

/**
 * The {@link TensorChunks} table of the last list of tensors asked for, rebuilt only when the
 * tensors change: a training step passes the same parameters every time, so its table is uploaded
 * once (the upload and the old table's free both synchronize the device).
 */
final class TensorChunksCache implements AutoCloseable {
  private final CudaContext context;
  private TensorChunks table;

  TensorChunksCache(CudaContext context) {
    this.context = context;
  }

  /** The table of {@code columns} (see {@link TensorChunks#TensorChunks}). */
  TensorChunks of(List<List<CudaTensor>> columns) {
    if (table == null || !table.matches(columns)) {
      close();
      table = new TensorChunks(context, columns);
    }
    return table;
  }

  @Override
  public void close() {
    if (table != null) {
      table.close();
      table = null;
    }
  }
}
