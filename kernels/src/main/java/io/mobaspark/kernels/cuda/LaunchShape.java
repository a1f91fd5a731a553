package io.mobaspark.kernels.cuda;

/**
 * Grid and block dimensions and dynamic shared memory of one kernel launch, checked against the
 * hardware limits before the launch so that a bad shape fails with the kernel's name instead of an
 * anonymous {@code CUDA_ERROR_INVALID_VALUE}.
 */
public record LaunchShape(long gridX, int gridY, int gridZ, int blockX, int blockY, int blockZ,
    int sharedBytes) {
  /** Largest grid x (2^31 - 1), y and z (65535) and threads per block on every GPU since sm_30. */
  static final long MAX_GRID_X = Integer.MAX_VALUE;
  static final int MAX_GRID_YZ = 65535;
  static final int MAX_THREADS = 1024;
  static final int MAX_BLOCK_Z = 64;

  /** A 1-D launch. */
  public static LaunchShape of(long grid, int block) {
    return new LaunchShape(grid, 1, 1, block, 1, 1, 0);
  }

  /** A 2-D grid of 1-D blocks. */
  public static LaunchShape of(long gridX, int gridY, int block) {
    return new LaunchShape(gridX, gridY, 1, block, 1, 1, 0);
  }

  /**
   * Throws {@link IllegalArgumentException} naming {@code kernel} and this shape when it cannot
   * launch: an empty or oversized grid or block, or more shared memory than {@code maxSharedBytes}.
   */
  public void validate(String kernel, int maxSharedBytes) {
    String problem = null;
    if (gridX < 1 || gridY < 1 || gridZ < 1) {
      problem = "every grid dimension must be at least 1";
    } else if (gridX > MAX_GRID_X || gridY > MAX_GRID_YZ || gridZ > MAX_GRID_YZ) {
      problem = "grid exceeds the limits (" + MAX_GRID_X + ", " + MAX_GRID_YZ + ", " + MAX_GRID_YZ + ")";
    } else if (blockX < 1 || blockY < 1 || blockZ < 1) {
      problem = "every block dimension must be at least 1";
    } else if ((long) blockX * blockY * blockZ > MAX_THREADS || blockZ > MAX_BLOCK_Z) {
      problem = "block exceeds " + MAX_THREADS + " threads (or " + MAX_BLOCK_Z + " in z)";
    } else if (sharedBytes < 0 || sharedBytes > maxSharedBytes) {
      problem = "dynamic shared memory must lie in [0, " + maxSharedBytes + "] bytes";
    }
    if (problem != null) {
      throw new IllegalArgumentException("cannot launch " + kernel + " with " + this + ": " + problem);
    }
  }

  @Override
  public String toString() {
    return "grid (" + gridX + ", " + gridY + ", " + gridZ + ") block (" + blockX + ", " + blockY
        + ", " + blockZ + ") shared " + sharedBytes + " B";
  }
}
