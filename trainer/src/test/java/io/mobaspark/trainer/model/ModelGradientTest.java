package io.mobaspark.trainer.model;

import io.mobaspark.kernels.Precision;
import io.mobaspark.kernels.SeqLayout;
import io.mobaspark.kernels.cpu.CpuBackend;
import io.mobaspark.kernels.testing.GradCheck;
import io.mobaspark.trainer.Parameter;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The whole model's backward against central finite differences of its forward, in float64: every
 * parameter, a sample of its entries, on a config that uses every feature (TinyModels.everyFeature)
 * and a varlen batch with a one-token document and uncounted targets.
 */
class ModelGradientTest {
  private static final int SAMPLES_PER_PARAMETER = 8;
  private static final double EPS = 1e-6;

  private CpuBackend backend;

  @BeforeEach
  void start() {
    backend = new CpuBackend(Precision.FLOAT64, 2);
  }

  @AfterEach
  void stop() {
    backend.close();
  }

  @ParameterizedTest(name = "tied embeddings: {0}")
  @ValueSource(booleans = {true, false})
  void backwardMatchesFiniteDifferences(boolean tied) {
    ModelConfig config = TinyModels.everyFeature(tied);
    SeqLayout layout = TinyModels.varlenLayout();
    int tokens = layout.totalTokens();
    int[] inputs = TinyModels.inputs(tokens, config.vocabSize(), 1);
    int[] targets = TinyModels.inputs(tokens, config.vocabSize(), 2);
    targets[3] = -1;
    targets[tokens - 1] = -1;

    try (Model model = new Model(backend, config, 7)) {
      model.loadWeights(randomWeights(model, 3));
      double gradScale = 0.75;
      model.forwardBackward(inputs, targets, layout, gradScale);
      Map<String, double[]> analytic = model.readGradients();

      SplittableRandom pick = new SplittableRandom(4);
      for (Parameter p : model.parameters()) {
        double[] weights = backend.read(p.value());
        int n = weights.length;
        double[] expected = new double[SAMPLES_PER_PARAMETER];
        double[] actual = new double[SAMPLES_PER_PARAMETER];
        for (int s = 0; s < SAMPLES_PER_PARAMETER; s++) {
          int i = pick.nextInt(n);
          expected[s] = gradScale * GradCheck.numericAt(weights, i, () -> {
            model.setWeights(p.name(), weights);
            return model.evaluate(inputs, targets, layout);
          }, EPS);
          actual[s] = analytic.get(p.name())[i];
        }
        model.setWeights(p.name(), weights);
        GradCheck.assertClose("d loss / d " + p.name(), expected, actual, 1e-5, 1e-8);
      }
    }
  }

  /**
   * Weights far from the init (norms around 1, kconv non-zero, matrices of order one), so that every
   * branch carries a gradient that finite differences can see.
   */
  private static Map<String, double[]> randomWeights(Model model, long seed) {
    Map<String, double[]> weights = new LinkedHashMap<>();
    long s = seed;
    for (Parameter p : model.parameters()) {
      int n = (int) p.value().numel();
      double[] w = GradCheck.random(s++, n, 0.5);
      if (p.name().endsWith("norm.weight")) {
        for (int i = 0; i < n; i++) {
          w[i] += 1.0;
        }
      }
      weights.put(p.name(), w);
    }
    return weights;
  }
}
