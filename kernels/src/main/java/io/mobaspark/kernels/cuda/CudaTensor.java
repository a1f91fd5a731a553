package io.mobaspark.kernels.cuda;

import io.mobaspark.kernels.Shape;
import io.mobaspark.kernels.Tensor;

/** A tensor in device memory, bf16 or fp32, row-major. */
public final class CudaTensor extends Tensor {
  private final DType dtype;
  private final DeviceBuffer buffer;
  /** False for a view ({@code Backend.view}): the tensor it views frees the buffer. */
  private final boolean ownsBuffer;

  CudaTensor(Shape shape, DType dtype, DeviceBuffer buffer) {
    this(shape, dtype, buffer, true);
  }

  private CudaTensor(Shape shape, DType dtype, DeviceBuffer buffer, boolean ownsBuffer) {
    super(shape);
    this.dtype = dtype;
    this.buffer = buffer;
    this.ownsBuffer = ownsBuffer;
  }

  /**
   * A tensor over the first bytes of a buffer it does not own (a reused scratch buffer, which may be
   * larger); closing it frees nothing.
   */
  static CudaTensor borrowing(Shape shape, DType dtype, DeviceBuffer buffer) {
    if (buffer.bytes() < shape.numel() * dtype.bytes()) {
      throw new IllegalArgumentException("buffer of " + buffer.bytes() + " bytes cannot hold " + shape
          + " " + dtype);
    }
    return new CudaTensor(shape, dtype, buffer, false);
  }

  /** Another shape over this tensor's buffer, same element count; closing it frees nothing. */
  CudaTensor view(Shape shape) {
    shape.requireNumel(numel());
    return new CudaTensor(shape, dtype, buffer, false);
  }

  public DType dtype() {
    return dtype;
  }

  public DeviceBuffer buffer() {
    return buffer;
  }

  @Override
  public void close() {
    if (ownsBuffer) {
      buffer.close();
    }
  }

  @Override
  public String toString() {
    return super.toString() + " " + dtype.name().toLowerCase(java.util.Locale.ROOT);
  }
}
