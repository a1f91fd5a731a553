package io.mobaspark.trainer.checkpoint;

import java.util.Arrays;

/**
 * A tensor's entry in a safetensors header: element type and shape (row-major). An empty shape is a
 * scalar.
 */
public record TensorInfo(DType dtype, int[] shape) {

  public TensorInfo {
    if (dtype == null || shape == null) {
      throw new IllegalArgumentException("dtype and shape must be given");
    }
    for (int d : shape) {
      if (d < 0) {
        throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
      }
    }
    shape = shape.clone();
  }

  @Override
  public int[] shape() {
    return shape.clone();
  }

  public long numel() {
    long n = 1;
    for (int d : shape) {
      n *= d;
    }
    return n;
  }

  public long byteSize() {
    return numel() * dtype.bytes();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof TensorInfo other && dtype == other.dtype && Arrays.equals(shape, other.shape);
  }

  @Override
  public int hashCode() {
    return 31 * dtype.hashCode() + Arrays.hashCode(shape);
  }

  @Override
  public String toString() {
    return dtype + Arrays.toString(shape);
  }
}
