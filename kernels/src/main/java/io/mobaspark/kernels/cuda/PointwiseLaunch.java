package io.mobaspark.kernels.cuda;

import io.mobaspark.kernels.Shape;

/**
 * What the launchers of the pointwise ops (embedding, RMSNorm, RoPE, SwiGLU, cross-entropy, AdamW)
 * share: the pack width of {@code pack.cuh}, grid-stride grids, kernel-name suffixes and the dtype
 * rule for fp32-only operands.
 */
final class PointwiseLaunch {
  static final int THREADS = 256;
  /** Grid-stride launches stop growing here; each thread then takes several packs. */
  static final long MAX_BLOCKS = 1L << 16;

  private PointwiseLaunch() {}

  /**
   * Elements per thread step: 8 (16-byte vector accesses) when every row of {@code rowLength}
   * elements starts 16-byte aligned for both bf16 and fp32, else 1.
   */
  static int pack(long rowLength) {
    return rowLength % 8 == 0 ? 8 : 1;
  }

  /** A 1-D grid of {@link #THREADS}-thread blocks over {@code work} items, at least one block. */
  static LaunchShape grid(long work) {
    long blocks = Math.max(1, Math.min(MAX_BLOCKS, (work + THREADS - 1) / THREADS));
    return LaunchShape.of(blocks, THREADS);
  }

  /** {@code bf16} or {@code f32}, as in the kernels' names. */
  static String suffix(CudaTensor t) {
    return t.dtype().kernelSuffix();
  }

  /** Throws naming the tensor unless it is fp32 (statistics, parameter gradients, optimizer state). */
  static void requireF32(Shape shape, DType dtype, String role) {
    KernelChecks.requireDType(shape, dtype, DType.F32, role);
  }

  /** The operands of one call that the kernel reads and writes as one activation type. */
  static void requireSameDType(Shape shape, DType dtype, Shape like, DType likeType, String role) {
    if (dtype != likeType) {
      throw new IllegalArgumentException("tensor " + shape + " (" + role + ") must have the dtype of "
          + like + " (" + likeType.kernelSuffix() + ") on the CUDA backend, got " + dtype.kernelSuffix());
    }
  }
}
