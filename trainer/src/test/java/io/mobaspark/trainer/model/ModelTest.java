package io.mobaspark.trainer.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import io.mobaspark.kernels.Precision;
import io.mobaspark.kernels.SeqLayout;
import io.mobaspark.kernels.cpu.CpuBackend;
import io.mobaspark.trainer.Parameter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class ModelTest {
  private CpuBackend backend;

  @BeforeEach
  void start() {
    backend = new CpuBackend(Precision.FLOAT32, 2);
  }

  @AfterEach
  void stop() {
    backend.close();
  }

  private static ModelConfig twoLayers(boolean tied) {
    return ModelConfig.fromConfig(ConfigFactory.parseString(
        "vocab_size = 13, d_model = 8, layers = 2, heads = 2, kv_heads = 1, head_dim = 4, ffn = 16, "
            + "attention = \"swa,moba\", kconv = 3, tie_embeddings = " + tied));
  }

  private static List<String> names(Model model) {
    List<String> names = new ArrayList<>();
    for (Parameter p : model.parameters()) {
      names.add(p.name());
    }
    return names;
  }

  private static List<String> layerNames(int layer, boolean keyConv) {
    String p = "layers." + layer + ".";
    List<String> names = new ArrayList<>(List.of(p + "attn_norm.weight", p + "attn.wq.weight",
        p + "attn.wk.weight", p + "attn.wv.weight", p + "attn.wo.weight"));
    if (keyConv) {
      names.add(p + "attn.kconv.weight");
    }
    names.addAll(List.of(p + "mlp_norm.weight", p + "mlp.w_gate.weight", p + "mlp.w_up.weight",
        p + "mlp.w_down.weight"));
    return names;
  }

  @Test
  void tiedModelNamesItsParametersInTheDocumentedOrder() {
    try (Model model = new Model(backend, twoLayers(true), 1)) {
      List<String> expected = new ArrayList<>();
      expected.add("tok_embeddings.weight");
      expected.addAll(layerNames(0, false));
      expected.addAll(layerNames(1, true));
      expected.add("norm.weight");
      assertEquals(expected, names(model));
    }
  }

  @Test
  void untiedModelAddsAnLmHead() {
    try (Model model = new Model(backend, twoLayers(false), 1)) {
      List<String> names = names(model);
      assertEquals("lm_head.weight", names.get(names.size() - 1));
      assertArrayEquals(new int[] {13, 8}, model.parameter("lm_head.weight").value().shape().dims());
      assertNotEquals(model.parameter("tok_embeddings.weight"), model.parameter("lm_head.weight"));
    }
  }

  @Test
  void shapesDecayAndParameterCountFollowTheConfig() {
    ModelConfig config = TinyModels.everyFeature(false);
    try (Model model = new Model(backend, config, 1)) {
      long sum = 0;
      for (Parameter p : model.parameters()) {
        sum += p.value().numel();
        assertArrayEquals(p.value().shape().dims(), p.grad().shape().dims(), p.name());
        boolean matrix = p.value().shape().rank() == 2;
        assertEquals(matrix, p.decay(), p.name() + ": decay exactly on matrices and embeddings");
      }
      assertEquals(config.parameterCount(), sum);
      assertArrayEquals(new int[] {16, 12}, model.parameter("layers.0.attn.wq.weight").value()
          .shape().dims());
      assertArrayEquals(new int[] {8, 12}, model.parameter("layers.0.attn.wk.weight").value()
          .shape().dims());
      assertArrayEquals(new int[] {12, 16}, model.parameter("layers.0.attn.wo.weight").value()
          .shape().dims());
      assertArrayEquals(new int[] {2, 3, 4}, model.parameter("layers.1.attn.kconv.weight").value()
          .shape().dims());
      assertArrayEquals(new int[] {12, 20}, model.parameter("layers.2.mlp.w_down.weight").value()
          .shape().dims());
    }
  }

  @Test
  void initFollowsTheDocumentedRules() {
    ModelConfig config = ModelConfig.fromConfig(ConfigFactory.parseString(
        "layers = 2, attention = \"swa,moba\", kconv = 3"));
    try (Model model = new Model(backend, config, 5)) {
      Map<String, double[]> w = model.readWeights();
      assertTrue(Arrays.stream(w.get("norm.weight")).allMatch(x -> x == 1.0));
      assertTrue(Arrays.stream(w.get("layers.1.attn.kconv.weight")).allMatch(x -> x == 0.0));
      double std = config.initStd();
      assertEquals(std, rms(w.get("tok_embeddings.weight")), 0.05 * std);
      assertEquals(std, rms(w.get("layers.0.mlp.w_up.weight")), 0.05 * std);
      assertEquals(std / 2, rms(w.get("layers.1.mlp.w_down.weight")), 0.05 * std / 2,
          "w_down is scaled by 1/sqrt(2 * layers)");
    }
  }

  @Test
  void sameSeedGivesSameWeightsAndLoss() {
    ModelConfig config = TinyModels.everyFeature(true);
    SeqLayout layout = TinyModels.varlenLayout();
    int[] inputs = TinyModels.inputs(layout.totalTokens(), config.vocabSize(), 9);
    int[] targets = TinyModels.nextTokenTargets(inputs, layout);
    try (Model a = new Model(backend, config, 42);
        Model b = new Model(backend, config, 42);
        Model c = new Model(backend, config, 43)) {
      Map<String, double[]> wa = a.readWeights();
      Map<String, double[]> wb = b.readWeights();
      for (String name : wa.keySet()) {
        assertArrayEquals(wa.get(name), wb.get(name), name);
      }
      assertFalse(Arrays.equals(wa.get("tok_embeddings.weight"),
          c.readWeights().get("tok_embeddings.weight")));
      assertEquals(a.evaluate(inputs, targets, layout), b.evaluate(inputs, targets, layout));
      assertEquals(a.forwardBackward(inputs, targets, layout, 1.0),
          b.forwardBackward(inputs, targets, layout, 1.0));
    }
  }

  @Test
  void untrainedLossIsNearUniform() {
    ModelConfig config = TinyModels.everyFeature(true);
    SeqLayout layout = TinyModels.varlenLayout();
    int[] inputs = TinyModels.inputs(layout.totalTokens(), config.vocabSize(), 9);
    try (Model model = new Model(backend, config, 1)) {
      double loss = model.evaluate(inputs, TinyModels.nextTokenTargets(inputs, layout), layout);
      assertEquals(Math.log(config.vocabSize()), loss, 0.05);
    }
  }

  @Test
  void gradientsAccumulateScaledAndEvaluateLeavesThemAlone() {
    ModelConfig config = TinyModels.everyFeature(false);
    SeqLayout layout = TinyModels.varlenLayout();
    int[] inputs = TinyModels.inputs(layout.totalTokens(), config.vocabSize(), 9);
    int[] targets = TinyModels.nextTokenTargets(inputs, layout);
    try (CpuBackend exact = new CpuBackend(Precision.FLOAT64, 2);
        Model model = new Model(exact, config, 3)) {
      double loss = model.forwardBackward(inputs, targets, layout, 1.0);
      Map<String, double[]> once = model.readGradients();
      assertEquals(loss, model.evaluate(inputs, targets, layout), 1e-12);
      model.zeroGradients();
      model.forwardBackward(inputs, targets, layout, 0.25);
      model.evaluate(inputs, targets, layout);
      model.forwardBackward(inputs, targets, layout, 0.75);
      Map<String, double[]> twice = model.readGradients();
      for (String name : once.keySet()) {
        double[] expected = once.get(name);
        double[] actual = twice.get(name);
        for (int i = 0; i < expected.length; i++) {
          assertEquals(expected[i], actual[i], 1e-12 + 1e-9 * Math.abs(expected[i]), name);
        }
      }
    }
  }

  @Test
  void loadWeightsReplacesEveryTensorAndRejectsStrangers() {
    ModelConfig config = twoLayers(true);
    try (Model source = new Model(backend, config, 1); Model copy = new Model(backend, config, 2)) {
      copy.loadWeights(source.readWeights());
      Map<String, double[]> expected = source.readWeights();
      Map<String, double[]> actual = copy.readWeights();
      for (String name : expected.keySet()) {
        assertArrayEquals(expected.get(name), actual.get(name), name);
      }
      Map<String, double[]> extra = new HashMap<>(expected);
      extra.put("layers.9.attn.wq.weight", new double[1]);
      assertTrue(assertThrows(IllegalArgumentException.class, () -> copy.loadWeights(extra))
          .getMessage().contains("layers.9.attn.wq.weight"));
      Map<String, double[]> missing = new HashMap<>(expected);
      missing.remove("norm.weight");
      assertTrue(assertThrows(IllegalArgumentException.class, () -> copy.loadWeights(missing))
          .getMessage().contains("norm.weight"));
      assertTrue(assertThrows(IllegalArgumentException.class,
          () -> copy.setWeights("norm.weight", new double[3])).getMessage().contains("norm.weight"));
    }
  }

  @Test
  void badBatchesAreRejectedWithTheOffendingValue() {
    try (Model model = new Model(backend, twoLayers(true), 1)) {
      SeqLayout layout = SeqLayout.uniform(1, 4);
      int[] ok = {1, 2, 3, 4};
      assertTrue(assertThrows(IllegalArgumentException.class,
          () -> model.evaluate(new int[] {1, 2, 13, 4}, ok, layout)).getMessage()
          .contains("inputs[2] = 13"));
      assertTrue(assertThrows(IllegalArgumentException.class,
          () -> model.evaluate(ok, new int[] {1, -2, 3, 4}, layout)).getMessage()
          .contains("targets[1] = -2"));
      assertThrows(IllegalArgumentException.class,
          () -> model.evaluate(ok, new int[] {1, 2, 3}, layout));
      assertThrows(IllegalArgumentException.class,
          () -> model.evaluate(ok, ok, SeqLayout.uniform(1, 5)));
      assertThrows(IllegalArgumentException.class,
          () -> model.evaluate(ok, new int[] {-1, -1, -1, -1}, layout));
      assertThrows(IllegalArgumentException.class,
          () -> model.forwardBackward(ok, ok, layout, Double.NaN));
    }
  }

  private static double rms(double[] values) {
    double s = 0;
    for (double v : values) {
      s += v * v;
    }
    return Math.sqrt(s / values.length);
  }
}
