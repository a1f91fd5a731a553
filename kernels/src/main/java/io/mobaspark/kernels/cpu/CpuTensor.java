package io.mobaspark.kernels.cpu;

import io.mobaspark.kernels.Shape;
import io.mobaspark.kernels.Tensor;

/** A tensor on the Java heap. Values are doubles; FLOAT32 backends keep them float-representable. */
public final class CpuTensor extends Tensor {
  final double[] data;

  CpuTensor(Shape shape) {
    super(shape);
    if (shape.numel() > Integer.MAX_VALUE - 8) {
      throw new IllegalArgumentException(
          "tensor " + shape + " is too large for one Java array (" + shape.numel() + " elements)");
    }
    this.data = new double[(int) shape.numel()];
  }

  /** A view: another shape over {@code data}, which it shares. */
  CpuTensor(Shape shape, double[] data) {
    super(shape);
    shape.requireNumel(data.length);
    this.data = data;
  }

  /** Direct access for the CPU kernels and tests of this package's callers; row-major. */
  public double[] data() {
    return data;
  }
}
