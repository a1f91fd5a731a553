package io.mobaspark.trainer.exchange;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.mobaspark.kernels.Tensor;
import io.mobaspark.kernels.cuda.CudaBackend;
import io.mobaspark.kernels.cuda.CudaDevice;
import io.mobaspark.kernels.cuda.PeerAccess;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The device shared kind with ranks that are threads of this process (the Spark job's executor
 * running several tasks): each rank's arena is read directly by the others, on one GPU or over
 * peer access between two, and every rank ends with the host shared kind's bits. Skipped without
 * a GPU (and the two-GPU case without two).
 */
class DeviceSharedExchangeGpuTest {
  /** Gradient sizes that fit no block, warp or slice evenly; the loss comes after them. */
  private static final int[] SIZES = {1, 1_000_003, 37, 4099};
  private static final int STEPS = 2;

  @BeforeEach
  void requireDevice() {
    assumeTrue(CudaDevice.available(), "no CUDA device");
  }

  @Test
  void threadRanksOnOneGpuGetTheHostRulesBits() throws Exception {
    assertDeviceMeansAreHostBits(new int[] {0, 0}, true);
    assertDeviceMeansAreHostBits(new int[] {0, 0, 0}, true);
  }

  @Test
  void threadRanksOnTwoGpusAverageOverPeerAccessOrOnTheHost() throws Exception {
    assumeTrue(CudaDevice.count() >= 2, "needs 2 GPUs, this machine has " + CudaDevice.count());
    boolean peers = PeerAccess.possible(0, 1) && PeerAccess.possible(1, 0);
    assertDeviceMeansAreHostBits(new int[] {0, 1}, peers);
  }

  /**
   * Ranks on {@code devices} (by rank) average {@link #STEPS} steps of gradients and a loss
   * through {@link GradientExchanges#open} with their backends; the results must be the host
   * shared kind's, bit for bit, on every rank.
   */
  private static void assertDeviceMeansAreHostBits(int[] devices, boolean onDevice)
      throws Exception {
    int ranks = devices.length;
    ExchangeSpec spec = LoopbackRanks.spec(ExchangeSpec.Kind.SHARED, ranks, 1 << 20,
        WireDType.FP32, 60_000);
    List<float[][]> device = LoopbackRanks.runRanks(ranks, (rank, board) -> {
      try (CudaBackend backend = new CudaBackend(devices[rank])) {
        List<Tensor> grads = new ArrayList<>();
        for (int size : SIZES) {
          grads.add(backend.fp32Tensor("grad" + grads.size(), size));
        }
        float[][] out = new float[STEPS][];
        try (GradientExchange exchange = GradientExchanges.open(spec, rank, "127.0.0.1",
            board.forRank(rank), backend)) {
          assertEquals(onDevice, exchange instanceof DeviceGradients, "on the device");
          for (int step = 1; step <= STEPS; step++) {
            float[] values = inputs(rank, step);
            int at = 0;
            for (Tensor g : grads) {
              float[] part = new float[(int) g.numel()];
              System.arraycopy(values, at, part, 0, part.length);
              backend.write(g, part);
              at += part.length;
            }
            float loss = values[at];
            List<float[]> read = new ArrayList<>();
            if (exchange instanceof DeviceGradients gradients) {
              loss = (float) gradients.allReduceMean(step, grads, loss);
            } else {
              for (Tensor g : grads) {
                read.add(backend.readFloats(g));
              }
              float[] lossBox = {loss};
              read.add(lossBox);
              exchange.allReduceMean(step, read);
              loss = lossBox[0];
              for (int i = 0; i < grads.size(); i++) {
                backend.write(grads.get(i), read.get(i));
              }
            }
            out[step - 1] = concat(backend, grads, loss);
          }
        }
        return out;
      }
    });
    List<float[][]> host = LoopbackRanks.runRanks(ranks, (rank, board) -> {
      float[][] out = new float[STEPS][];
      try (GradientExchange exchange = GradientExchanges.open(spec, rank, "127.0.0.1",
          board.forRank(rank))) {
        assertInstanceOf(SharedExchange.class, exchange);
        for (int step = 1; step <= STEPS; step++) {
          out[step - 1] = inputs(rank, step);
          exchange.allReduceMean(step, List.of(out[step - 1]));
        }
      }
      return out;
    });
    for (int rank = 0; rank < ranks; rank++) {
      for (int step = 0; step < STEPS; step++) {
        assertArrayEquals(bits(host.get(0)[step]), bits(device.get(rank)[step]),
            "rank " + rank + ", step " + (step + 1) + " of ranks on devices "
                + Arrays.toString(devices));
      }
    }
  }

  /** Rank {@code rank}'s gradients of {@code step}, then its loss. */
  private static float[] inputs(int rank, int step) {
    int total = 1;
    for (int size : SIZES) {
      total += size;
    }
    SplittableRandom random = new SplittableRandom(31L * rank + step);
    float[] values = new float[total];
    for (int i = 0; i < total; i++) {
      values[i] = (float) (random.nextGaussian() * Math.pow(2, random.nextInt(-20, 20)));
    }
    return values;
  }

  private static float[] concat(CudaBackend backend, List<Tensor> grads, float loss) {
    List<float[]> parts = new ArrayList<>();
    int total = 1;
    for (Tensor g : grads) {
      parts.add(backend.readFloats(g));
      total += parts.get(parts.size() - 1).length;
    }
    float[] all = new float[total];
    int at = 0;
    for (float[] part : parts) {
      System.arraycopy(part, 0, all, at, part.length);
      at += part.length;
    }
    all[at] = loss;
    return all;
  }

  private static int[] bits(float[] values) {
    int[] bits = new int[values.length];
    for (int i = 0; i < values.length; i++) {
      bits[i] = Float.floatToRawIntBits(values[i]);
    }
    return bits;
  }
}
