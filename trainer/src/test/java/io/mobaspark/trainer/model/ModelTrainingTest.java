package io.mobaspark.trainer.model;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import io.mobaspark.kernels.Precision;
import io.mobaspark.kernels.SeqLayout;
import io.mobaspark.kernels.cpu.CpuBackend;
import io.mobaspark.trainer.Parameter;
import org.junit.jupiter.api.Test;

/** Learning works end to end: plain SGD on a repetitive sequence drives the loss far down. */
class ModelTrainingTest {
  private static final int STEPS = 300;
  private static final double LEARNING_RATE = 0.3;

  @Test
  void sgdLearnsARepeatingSequence() {
    ModelConfig config = ModelConfig.fromConfig(ConfigFactory.parseString(
        "vocab_size = 16, d_model = 32, layers = 2, heads = 2, kv_heads = 1, head_dim = 16, "
            + "ffn = 64, attention = \"swa,moba\", window = 8, block_size = 4, topk = 2, kconv = 3"));
    int[] period = {3, 1, 4, 1, 5, 9, 2, 6};
    SeqLayout layout = SeqLayout.uniform(2, 32);
    int[] inputs = new int[layout.totalTokens()];
    for (int t = 0; t < inputs.length; t++) {
      // The second sequence starts at a different phase, so position alone does not predict.
      int phase = t < 32 ? t : t + 3;
      inputs[t] = period[phase % period.length];
    }
    int[] targets = TinyModels.nextTokenTargets(inputs, layout);

    try (CpuBackend backend = new CpuBackend(Precision.FLOAT32, 2);
        Model model = new Model(backend, config, 11)) {
      double first = model.evaluate(inputs, targets, layout);
      for (int step = 0; step < STEPS; step++) {
        model.zeroGradients();
        model.forwardBackward(inputs, targets, layout, 1.0);
        for (Parameter p : model.parameters()) {
          // Plain SGD on the host, so that this test depends on the model alone, not an optimizer.
          double[] w = backend.read(p.value());
          double[] g = backend.read(p.grad());
          for (int i = 0; i < w.length; i++) {
            w[i] -= LEARNING_RATE * g[i];
          }
          backend.write(p.value(), w);
        }
      }
      double last = model.evaluate(inputs, targets, layout);
      assertTrue(last < 0.05 * first,
          "loss went from " + first + " to " + last + " in " + STEPS + " SGD steps");
    }
  }
}
