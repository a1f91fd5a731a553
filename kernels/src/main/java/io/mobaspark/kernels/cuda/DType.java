package io.mobaspark.kernels.cuda;

/** Element type of a CUDA tensor: bf16 activations, fp32 master weights, gradients and centroids. */
public enum DType {
  BF16(2),
  F32(4);

  private final int bytes;

  DType(int bytes) {
    this.bytes = bytes;
  }

  public int bytes() {
    return bytes;
  }

  /** The suffix of the memory kernels' names: {@code bf16} or {@code f32}. */
  String kernelSuffix() {
    return name().toLowerCase(java.util.Locale.ROOT);
  }
}
