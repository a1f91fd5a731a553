package io.mobaspark.trainer.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import io.mobaspark.kernels.Precision;
import io.mobaspark.kernels.SeqLayout;
import io.mobaspark.kernels.cpu.CpuBackend;
import java.util.Arrays;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Activation checkpointing and the non-finite diagnosis of {@link Model}. */
class ModelRecomputeTest {

  /** Four layers of two shapes (swa; moba with kconv), so two blocks share each buffer set. */
  private static ModelConfig fourLayers() {
    return ModelConfig.fromConfig(ConfigFactory.parseString(
        "vocab_size = 11, d_model = 12, layers = 4, heads = 4, kv_heads = 2, head_dim = 4, "
            + "ffn = 20, attention = \"swa,moba\", window = 3, block_size = 2, topk = 2, "
            + "kconv = 3, rope = \"dense,swa\""));
  }

  @Test
  void checkpointingGivesTheSameLossesAndGradientsAsKeepingEveryBlock() {
    SeqLayout layout = TinyModels.varlenLayout();
    try (CpuBackend backend = new CpuBackend(Precision.FLOAT64, 2);
        Model kept = new Model(backend, fourLayers(), 5, false);
        Model recomputed = new Model(backend, fourLayers(), 5, true)) {
      for (long seed = 1; seed <= 2; seed++) { // the second pass starts from overwritten buffers
        int[] inputs = TinyModels.inputs(layout.totalTokens(), 11, seed);
        int[] targets = TinyModels.nextTokenTargets(inputs, layout);
        kept.zeroGradients();
        recomputed.zeroGradients();
        assertEquals(kept.forwardBackward(inputs, targets, layout, 1.0),
            recomputed.forwardBackward(inputs, targets, layout, 1.0), "loss of pass " + seed);
        Map<String, double[]> expected = kept.readGradients();
        Map<String, double[]> actual = recomputed.readGradients();
        for (String name : expected.keySet()) {
          assertArrayEquals(expected.get(name), actual.get(name), name + " after pass " + seed);
        }
        assertTrue(Arrays.stream(expected.get("layers.1.attn.wq.weight")).anyMatch(g -> g != 0),
            "the MoBA layer's query weights get a gradient");
      }
    }
  }

  @Test
  void checkpointingKeepsOnlyTheLastRoutingOfEachShape() {
    SeqLayout layout = TinyModels.varlenLayout();
    int[] inputs = TinyModels.inputs(layout.totalTokens(), 11, 3);
    try (CpuBackend backend = new CpuBackend(Precision.FLOAT32, 2);
        Model model = new Model(backend, fourLayers(), 5, true)) {
      model.evaluate(inputs, TinyModels.nextTokenTargets(inputs, layout), layout);
      assertEquals(model.config().topk() * model.config().heads() * layout.totalTokens(),
          model.readRouting(3).length);
      IllegalStateException e = assertThrows(IllegalStateException.class, () -> model.readRouting(1));
      assertTrue(e.getMessage().contains("layer 1") && e.getMessage().contains("layer 3"),
          e.getMessage());
    }
  }

  @Test
  void aNonFiniteWeightIsTracedToItsLayerAndHalf() {
    SeqLayout layout = TinyModels.varlenLayout();
    int[] inputs = TinyModels.inputs(layout.totalTokens(), 11, 4);
    int[] targets = TinyModels.nextTokenTargets(inputs, layout);
    try (CpuBackend backend = new CpuBackend(Precision.FLOAT32, 2);
        Model model = new Model(backend, fourLayers(), 5, false)) {
      model.evaluate(inputs, targets, layout);
      assertTrue(model.locateNonFinite().startsWith("no activation"), model.locateNonFinite());

      double[] poisoned = infinities(model, "layers.2.mlp.w_up.weight");
      Arrays.fill(poisoned, Double.NaN);
      model.setWeights("layers.2.mlp.w_up.weight", poisoned);
      assertTrue(Double.isNaN(model.evaluate(inputs, targets, layout)));
      assertEquals("layers.2's MLP activation (w_gate, w_up)", model.locateNonFinite());

      model.setWeights("layers.1.attn.wv.weight", infinities(model, "layers.1.attn.wv.weight"));
      model.evaluate(inputs, targets, layout);
      assertEquals("layers.1's moba attention output", model.locateNonFinite());
    }
  }

  private static double[] infinities(Model model, String name) {
    double[] values = new double[(int) model.parameter(name).value().numel()];
    Arrays.fill(values, Double.POSITIVE_INFINITY);
    return values;
  }
}
