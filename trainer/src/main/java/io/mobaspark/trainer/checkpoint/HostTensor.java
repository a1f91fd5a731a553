package io.mobaspark.trainer.checkpoint;

/**
 * A tensor in Java heap memory, as stored in a safetensors file: floating-point types hold their
 * values as doubles (F32 values are rounded to float when written), I32 as ints.
 */
public final class HostTensor {
  private final TensorInfo info;
  private final double[] floats;
  private final int[] ints;

  private HostTensor(TensorInfo info, double[] floats, int[] ints) {
    long length = floats != null ? floats.length : ints.length;
    if (length != info.numel()) {
      throw new IllegalArgumentException(
          "a tensor of shape " + info + " needs " + info.numel() + " values, got " + length);
    }
    this.info = info;
    this.floats = floats;
    this.ints = ints;
  }

  public static HostTensor f32(int[] shape, double[] values) {
    return new HostTensor(new TensorInfo(DType.F32, shape), values.clone(), null);
  }

  public static HostTensor f64(int[] shape, double[] values) {
    return new HostTensor(new TensorInfo(DType.F64, shape), values.clone(), null);
  }

  public static HostTensor i32(int[] shape, int[] values) {
    return new HostTensor(new TensorInfo(DType.I32, shape), null, values.clone());
  }

  /** Wraps {@code values} without copying: for the reader, which owns the fresh array. */
  static HostTensor wrapFloats(TensorInfo info, double[] values) {
    return new HostTensor(info, values, null);
  }

  static HostTensor wrapInts(TensorInfo info, int[] values) {
    return new HostTensor(info, null, values);
  }

  public TensorInfo info() {
    return info;
  }

  public DType dtype() {
    return info.dtype();
  }

  public int[] shape() {
    return info.shape();
  }

  /** A copy of the values of an F32 or F64 tensor. */
  public double[] floats() {
    if (floats == null) {
      throw new IllegalStateException("tensor " + info + " holds integers; use ints()");
    }
    return floats.clone();
  }

  /** A copy of the values of an I32 tensor. */
  public int[] ints() {
    if (ints == null) {
      throw new IllegalStateException("tensor " + info + " holds floating-point values; use floats()");
    }
    return ints.clone();
  }

  /** The values without a copy, for the writer. */
  double[] floatsView() {
    return floats;
  }

  int[] intsView() {
    return ints;
  }
}
