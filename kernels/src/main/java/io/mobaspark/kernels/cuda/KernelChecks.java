package io.mobaspark.kernels.cuda;

import io.mobaspark.kernels.Shape;

/** Operand checks of the CUDA launchers that the shared {@code OpChecks} do not cover: dtypes, aliasing. */
final class KernelChecks {
  private KernelChecks() {}

  /** Throws naming the tensor unless it has {@code expected} dtype; {@code role} says what it is for. */
  static void requireDType(Shape shape, DType actual, DType expected, String role) {
    if (actual != expected) {
      throw new IllegalArgumentException("tensor " + shape + " (" + role + ") must be "
          + expected.name().toLowerCase(java.util.Locale.ROOT) + " on the CUDA backend, got "
          + actual.name().toLowerCase(java.util.Locale.ROOT));
    }
  }

  /** Kernels that read neighbouring tokens of their input cannot write their output in place. */
  static void requireDistinct(CudaTensor out, CudaTensor in) {
    if (out.buffer() == in.buffer()) {
      throw new IllegalArgumentException("tensor " + out.shape() + " must not be the same tensor as "
          + in.shape() + ": this kernel reads neighbouring tokens of its input while writing");
    }
  }
}
