package io.mobaspark.kernels.cpu;

import io.mobaspark.kernels.IntTensor;
import io.mobaspark.kernels.Shape;

/** An integer tensor on the Java heap. */
public final class CpuIntTensor extends IntTensor {
  final int[] data;

  CpuIntTensor(Shape shape) {
    super(shape);
    if (shape.numel() > Integer.MAX_VALUE - 8) {
      throw new IllegalArgumentException(
          "tensor " + shape + " is too large for one Java array (" + shape.numel() + " elements)");
    }
    this.data = new int[(int) shape.numel()];
  }

  public int[] data() {
    return data;
  }
}
