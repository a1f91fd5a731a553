package io.mobaspark.trainer.loop;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import com.typesafe.config.ConfigFactory;
import io.mobaspark.kernels.Backend;
import io.mobaspark.kernels.Precision;
import io.mobaspark.kernels.Tensor;
import io.mobaspark.kernels.cpu.CpuBackend;
import io.mobaspark.trainer.Parameter;
import io.mobaspark.trainer.exchange.DeviceGradients;
import io.mobaspark.trainer.exchange.ExchangeSpec;
import io.mobaspark.trainer.exchange.GradientExchange;
import io.mobaspark.trainer.exchange.LoopbackRanks;
import io.mobaspark.trainer.exchange.WireDType;
import io.mobaspark.trainer.model.Model;
import io.mobaspark.trainer.model.ModelConfig;
import io.mobaspark.trainer.optim.AdamW;
import io.mobaspark.trainer.optim.LrSchedule;
import io.mobaspark.trainer.testing.SyntheticWindows;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The step's wiring of an exchange that averages in device memory ({@link DeviceGradients}), on
 * the CPU: a stand-in averages the tensors through the host with the shared kind, so the step must
 * end with the same bits as the host path of the same kind. (The device exchange itself is checked
 * on a GPU: DeviceSharedBench.)
 */
class DeviceGradientAverageTest {
  private static final ModelConfig CONFIG = ModelConfig.fromConfig(ConfigFactory.parseString(
      "vocab_size = 11, d_model = 12, layers = 2, heads = 4, kv_heads = 2, head_dim = 4, "
          + "ffn = 20, attention = \"swa,moba\", window = 3, block_size = 2, topk = 2"));
  private static final LrSchedule SCHEDULE = new LrSchedule(0.01, 0.001, 1, 10);

  /** The stand-in: tensors read to floats, one host average of them and the loss, written back. */
  private static final class HostBacked implements GradientExchange, DeviceGradients {
    private final GradientExchange inner;
    private Backend backend;

    HostBacked(GradientExchange inner) {
      this.inner = inner;
    }

    @Override
    public double allReduceMean(int step, List<? extends Tensor> gradients, double loss) {
      List<float[]> values = new ArrayList<>();
      for (Tensor t : gradients) {
        values.add(backend.readFloats(t));
      }
      float[] mean = {(float) loss};
      values.add(mean);
      inner.allReduceMean(step, values);
      for (int i = 0; i < gradients.size(); i++) {
        backend.write(gradients.get(i), values.get(i));
      }
      return mean[0];
    }

    @Override
    public int rank() {
      return inner.rank();
    }

    @Override
    public int worldSize() {
      return inner.worldSize();
    }

    @Override
    public void allReduceMean(int step, List<float[]> buffers) {
      inner.allReduceMean(step, buffers);
    }

    @Override
    public void close() {}
  }

  @Test
  void aDeviceExchangeGetsTheWholeAverageAfterTheBackwardWithTheHostPathsBits() throws Exception {
    ExchangeSpec spec = LoopbackRanks.spec(ExchangeSpec.Kind.SHARED, 2, 256, WireDType.FP32,
        20_000);
    List<List<double[]>> host = LoopbackRanks.run(spec, exchange -> train(exchange, null));
    List<List<double[]>> device = LoopbackRanks.run(spec,
        exchange -> train(new HostBacked(exchange), exchange));
    for (int r = 0; r < 2; r++) {
      for (int p = 0; p < host.get(r).size(); p++) {
        assertArrayEquals(host.get(r).get(p), device.get(r).get(p), 0,
            "rank " + r + ", " + (p == 0 ? "losses" : "parameter " + p));
      }
    }
  }

  /** Losses of 3 steps, then every parameter, of rank {@code exchange.rank()}'s half batches. */
  private static List<double[]> train(GradientExchange exchange, GradientExchange inner) {
    SyntheticWindows windows = new SyntheticWindows(2, 9, 11);
    try (CpuBackend backend = new CpuBackend(Precision.FLOAT64, 1);
        Model model = new Model(backend, CONFIG, 5);
        AdamW adamw = new AdamW(backend, model.parameters(), 0.9, 0.95, 1e-8, 0.1);
        TrainStep step = new TrainStep(backend, model, adamw, SCHEDULE, 0.5, exchange)) {
      if (exchange instanceof HostBacked stub) {
        stub.backend = backend;
        assertInstanceOf(DeviceGradientAverage.class, step.average());
      }
      double[] losses = new double[3];
      for (int s = 0; s < 3; s++) {
        List<TokenBatch> both = List.of(TokenBatch.fromWindows(windows.next(), 2, 8, -1),
            TokenBatch.fromWindows(windows.next(), 2, 8, -1));
        losses[s] = step.run(s + 1, List.of(both.get(exchange.rank()))).loss();
      }
      List<double[]> out = new ArrayList<>(List.of(losses));
      for (Parameter p : model.parameters()) {
        out.add(backend.read(p.value()));
      }
      return out;
    }
  }
}
