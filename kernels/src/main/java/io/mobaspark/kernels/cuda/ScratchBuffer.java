package io.mobaspark.kernels.cuda;

/**
 * A device buffer reused across calls that grows to the largest size asked for and never shrinks:
 * kernel workspace, so that the hot path allocates (and synchronizes the device) only while sizes
 * still grow. Its contents are undefined after {@link #atLeast} grows it.
 */
final class ScratchBuffer implements AutoCloseable {
  private final CudaContext context;
  private DeviceBuffer buffer;

  ScratchBuffer(CudaContext context) {
    this.context = context;
  }

  /** This buffer with room for at least {@code bytes} bytes. */
  DeviceBuffer atLeast(long bytes) {
    if (buffer == null || buffer.bytes() < bytes) {
      if (buffer != null) {
        buffer.close();
      }
      buffer = context.allocate(bytes);
    }
    return buffer;
  }

  /** Bytes held now (0 before the first use). */
  long bytes() {
    return buffer == null ? 0 : buffer.bytes();
  }

  @Override
  public void close() {
    if (buffer != null) {
      buffer.close();
      buffer = null;
    }
  }
}
