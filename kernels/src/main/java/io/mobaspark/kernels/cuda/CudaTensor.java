package io.mobaspark.kernels.cuda;

import io.mobaspark.kernels.Shape;
import io.mobaspark.kernels.Tensor;

/** A tensor in device memory, bf16 or fp32, row-major. */
public final class CudaTensor extends Tensor {
  private final DType dtype;
  private final DeviceBuffer buffer;

  CudaTensor(Shape shape, DType dtype, DeviceBuffer buffer) {
    super(shape);
    this.dtype = dtype;
    this.buffer = buffer;
  }

  public DType dtype() {
    return dtype;
  }

  public DeviceBuffer buffer() {
    return buffer;
  }

  @Override
  public void close() {
    buffer.close();
  }

  @Override
  public String toString() {
    return super.toString() + " " + dtype.name().toLowerCase(java.util.Locale.ROOT);
  }
}
