package io.mobaspark.kernels.lab;

import io.mobaspark.kernels.cuda.Bf16;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.stream.IntStream;

/** Inputs and statistics shared by the timing labs. */
final class LabInputs {
  private LabInputs() {}

  /**
   * Standard normal values as bf16 bits, generated in parallel chunks of 2^20, each from its own
   * seeded stream: at 64K tokens MobaTiming's four inputs hold 1.07 G values, which a serial
   * {@code Random.nextGaussian} into {@code double[]} took minutes to make.
   */
  static short[] normalBf16(int count, long seed) {
    short[] bits = new short[count];
    int chunk = 1 << 20;
    IntStream.range(0, (count + chunk - 1) / chunk).parallel().forEach(c -> {
      SplittableRandom random = new SplittableRandom(seed * 1_000_003L + c);
      for (int i = c * chunk, end = Math.min(count, i + chunk); i < end; i++) {
        bits[i] = Bf16.fromFloat((float) random.nextGaussian());
      }
    });
    return bits;
  }

  /** The upper median of timings (the middle one for odd counts). */
  static double median(double[] v) {
    double[] s = v.clone();
    Arrays.sort(s);
    return s[s.length / 2];
  }
}
