package io.mobaspark.kernels.cuda;

import java.util.Locale;

/**
 * What {@code cuTensorMapEncodeTiled} is told about one bf16 matrix of the TMA GEMM kernels
 * (gemm_tma.cuh): the row-major matrix {@code [rows, cols]} as stored (cols contiguous), and the box
 * that one bulk tensor copy moves between it and shared memory, {@code boxCols x boxRows}, with the
 * 128-byte swizzle that the kernels' wgmma descriptors (operands) and stmatrix stores (out) use. Pure: {@link TensorMapEncoder} makes the
 * 128-byte map from it on the GPU path, tests check it without a driver.
 *
 * <p>Boxes: a K-major operand ({@code a [M, K]}, {@code b [N, K]} transposed) is loaded as one box of
 * 64 K by all the rows a block takes (128 of A, 256 of B); an M/N-major one ({@code a [K, M]}
 * transposed, {@code b [K, N]}) as boxes of 64 rows by 64 K. 64 bf16 are the 128 bytes that the
 * swizzle spans. The bf16 output of gemm_tma3st_* leaves in boxes of 64 x 64.
 *
 * @param operand "a", "b" or "out", for errors
 * @param rows the outer dimension (slow, the stride's)
 * @param cols the inner dimension (contiguous)
 * @param boxRows rows of one box
 */
public record GemmTensorMap(String operand, long rows, long cols, int boxRows) {
  /** Elements of the box's inner dimension: 128 bytes of bf16, the 128B swizzle's span. */
  public static final int BOX_COLS = 64;
  /** CUtensorMapDataType CU_TENSOR_MAP_DATA_TYPE_BFLOAT16. */
  static final int DATA_TYPE_BFLOAT16 = 9;
  /** CUtensorMapInterleave CU_TENSOR_MAP_INTERLEAVE_NONE. */
  static final int INTERLEAVE_NONE = 0;
  /** CUtensorMapSwizzle CU_TENSOR_MAP_SWIZZLE_128B. */
  static final int SWIZZLE_128B = 3;
  /** CUtensorMapL2promotion CU_TENSOR_MAP_L2_PROMOTION_L2_256B. */
  static final int L2_PROMOTION_256B = 3;
  /** CUtensorMapFloatOOBfill CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE: zeros outside the bounds. */
  static final int OOB_FILL_NONE = 0;
  /** The driver's limit on each dimension. */
  static final long MAX_DIM = 1L << 32;

  private static final int BF16_BYTES = 2;

  public GemmTensorMap {
    if (rows < 1 || cols < 1 || rows > MAX_DIM || cols > MAX_DIM) {
      throw new IllegalArgumentException("tensor map of operand " + operand + " [" + rows + ", "
          + cols + "]: each dimension must be in [1, 2^32]");
    }
    if (cols * BF16_BYTES % 16 != 0) {
      throw new IllegalArgumentException("tensor map of operand " + operand + " [" + rows + ", "
          + cols + "]: rows of " + cols + " bf16 do not start on 16 bytes");
    }
  }

  /** Operand a of an M x N x K product: {@code [M, K]}, or {@code [K, M]} when transposed. */
  public static GemmTensorMap a(int m, int k, boolean transA) {
    return transA ? new GemmTensorMap("a", k, m, BOX_COLS)
        : new GemmTensorMap("a", m, k, GemmCuda.Family.TMA.tileM);
  }

  /** Operand b of an M x N x K product: {@code [K, N]}, or {@code [N, K]} when transposed. */
  public static GemmTensorMap b(int n, int k, boolean transB) {
    return transB ? new GemmTensorMap("b", n, k, GemmCuda.Family.TMA.tileN)
        : new GemmTensorMap("b", k, n, BOX_COLS);
  }

  /**
   * A transposed b {@code [N, K]} that fills half of a block's B tile (128 rows): each of
   * gemm_tma3st_swiglu_nt's weights {@code [F, C]}, w_gate's rows above w_up's in every stage.
   */
  public static GemmTensorMap bHalf(int n, int k) {
    return new GemmTensorMap("b", n, k, GemmCuda.Family.TMA.tileN / 2);
  }

  /** The plain bf16 output {@code [M, N]} that gemm_tma3st_* stores through the copy engine. */
  public static GemmTensorMap out(int m, int n) {
    return new GemmTensorMap("out", m, n, BOX_COLS);
  }

  /** globalDim, innermost first. */
  public long[] globalDims() {
    return new long[] {cols, rows};
  }

  /** globalStrides: the bytes from one row to the next (the innermost dimension's is implied). */
  public long[] globalStrideBytes() {
    return new long[] {cols * BF16_BYTES};
  }

  /** boxDim, innermost first. */
  public int[] boxDims() {
    return new int[] {BOX_COLS, boxRows};
  }

  /** elementStrides: every element (no strided sampling). */
  public int[] elementStrides() {
    return new int[] {1, 1};
  }

  /** {@code a[rows, cols] box 64x128}, for messages. */
  public String describe() {
    return String.format(Locale.ROOT, "%s[%d, %d] box %dx%d", operand, rows, cols, BOX_COLS, boxRows);
  }
}
