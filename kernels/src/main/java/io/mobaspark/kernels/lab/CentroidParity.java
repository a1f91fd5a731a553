package io.mobaspark.kernels.lab;

import io.mobaspark.kernels.SeqLayout;
import io.mobaspark.kernels.Tensor;
import io.mobaspark.kernels.cuda.CudaBackend;
import io.mobaspark.kernels.cuda.DType;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/**
 * The CUDA block centroids against BlockCentroids' definition in float64 ({@link #reference}, which
 * {@code CentroidReferenceTest} pins to BlockCentroids itself) and a float32 naive mean.
 */
public final class CentroidParity {
  /** One problem: packed layout, KV heads, head dim, block size. */
  public record Case(int[] cuSeqlens, int kvHeads, int dim, int blockSize) {
    public String label() {
      int[] cu = cuSeqlens;
      return String.format(Locale.ROOT, "T=%d S=%d Hkv=%d D=%d B=%d", cu[cu.length - 1],
          cu.length - 1, kvHeads, dim, blockSize);
    }
  }

  /** Partial last blocks, T = 1, a 1-token document, one head, D = 64 and 128. */
  public static final List<Case> CASES = List.of(
      new Case(new int[] {0, 1}, 1, 64, 64),
      new Case(new int[] {0, 113}, 2, 64, 16),
      new Case(new int[] {0, 1023}, 1, 128, 128),
      new Case(new int[] {0, 1, 60, 61, 300}, 4, 128, 64),
      new Case(new int[] {0, 4096, 8191}, 2, 64, 512));

  private CentroidParity() {}

  public static ParityCheck run(CudaBackend gpu, Case c, long seed) {
    SeqLayout layout = SeqLayout.of(c.cuSeqlens());
    int tokens = layout.totalTokens();
    int blocks = blockCount(layout, c.blockSize());
    Random random = new Random(seed);
    try (Tensor k = gpu.tensor("k", tokens, c.kvHeads(), c.dim());
        Tensor out = gpu.tensor("centroids", DType.F32, blocks, c.kvHeads(), c.dim())) {
      // Keys with a common offset, as real keys have: the mean is then not near zero.
      double[] keys = KeyConvParity.gaussian(random, (int) k.numel(), 1.0);
      for (int i = 0; i < keys.length; i++) {
        keys[i] += 0.5;
      }
      double[] kq = KeyConvParity.stored(gpu, k, keys);
      KeyConvParity.poison(gpu, out);
      gpu.blockCentroids(out, k, c.blockSize(), layout);
      double[] first = gpu.read(out);
      KeyConvParity.poison(gpu, out);
      gpu.blockCentroids(out, k, c.blockSize(), layout);
      boolean repeats = Arrays.equals(first, gpu.read(out));
      int width = c.kvHeads() * c.dim();
      return ParityCheck.of("centroids", c.label(), "c", first,
          naive(kq, width, c.blockSize(), layout), reference(kq, width, c.blockSize(), layout),
          ParityCheck.FORWARD_FACTOR, repeats);
    }
  }

  /**
   * Float64 centroids {@code [blocks, width]} of keys {@code [T, width]}: sums in key order divided
   * by the block's real length, blocks restarting at each sequence and numbered across the batch.
   */
  public static double[] reference(double[] k, int width, int blockSize, SeqLayout layout) {
    return perBlock(width, blockSize, layout, (lo, hi, i) -> {
      double sum = 0;
      for (int t = lo; t < hi; t++) {
        sum += k[t * width + i];
      }
      return sum / (hi - lo);
    });
  }

  /** The same in float32, keys summed last to first. */
  static double[] naive(double[] k, int width, int blockSize, SeqLayout layout) {
    return perBlock(width, blockSize, layout, (lo, hi, i) -> {
      float sum = 0;
      for (int t = hi - 1; t >= lo; t--) {
        sum += (float) k[t * width + i];
      }
      return sum / (hi - lo);
    });
  }

  /** The mean of channel {@code i} over key tokens {@code [lo, hi)}. */
  private interface BlockMean {
    double of(int lo, int hi, int i);
  }

  /** {@code [blocks, width]}: {@code mean} of every block and channel, blocks in batch order. */
  private static double[] perBlock(int width, int blockSize, SeqLayout layout, BlockMean mean) {
    double[] out = new double[blockCount(layout, blockSize) * width];
    int block = 0;
    for (int s = 0; s < layout.sequences(); s++) {
      for (int lo = layout.start(s); lo < layout.end(s); lo += blockSize, block++) {
        int hi = Math.min(lo + blockSize, layout.end(s));
        for (int i = 0; i < width; i++) {
          out[block * width + i] = mean.of(lo, hi, i);
        }
      }
    }
    return out;
  }

  static int blockCount(SeqLayout layout, int blockSize) {
    int blocks = 0;
    for (int s = 0; s < layout.sequences(); s++) {
      blocks += (layout.length(s) + blockSize - 1) / blockSize;
    }
    return blocks;
  }
}
