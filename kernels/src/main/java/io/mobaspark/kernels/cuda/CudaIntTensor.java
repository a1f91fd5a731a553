package io.mobaspark.kernels.cuda;

import io.mobaspark.kernels.IntTensor;
import io.mobaspark.kernels.Shape;

/** An int32 tensor in device memory. */
public final class CudaIntTensor extends IntTensor {
  private final DeviceBuffer buffer;

  CudaIntTensor(Shape shape, DeviceBuffer buffer) {
    super(shape);
    this.buffer = buffer;
  }

  public DeviceBuffer buffer() {
    return buffer;
  }

  @Override
  public void close() {
    buffer.close();
  }
}
