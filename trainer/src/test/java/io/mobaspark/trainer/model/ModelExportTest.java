package io.mobaspark.trainer.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mobaspark.kernels.Precision;
import io.mobaspark.kernels.SeqLayout;
import io.mobaspark.kernels.cpu.CpuBackend;
import io.mobaspark.trainer.Parameter;
import io.mobaspark.trainer.checkpoint.DType;
import io.mobaspark.trainer.checkpoint.HostTensor;
import io.mobaspark.trainer.checkpoint.SafeTensors;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** BatchExport writes what tools/torch_reference.py reads (docs/model.md). */
class ModelExportTest {

  @Test
  void batchFileHoldsBatchLossGradientsRoutingAndConfig(@TempDir Path dir) {
    ModelConfig config = TinyModels.everyFeature(false);
    SeqLayout layout = TinyModels.varlenLayout();
    int[] inputs = TinyModels.inputs(layout.totalTokens(), config.vocabSize(), 5);
    int[] targets = TinyModels.nextTokenTargets(inputs, layout);
    try (CpuBackend backend = new CpuBackend(Precision.FLOAT32, 2);
        Model model = new Model(backend, config, 1)) {
      Path file = dir.resolve("batch.safetensors");
      double loss = BatchExport.writeBatch(file, model, inputs, targets, layout);
      SafeTensors.Contents contents = SafeTensors.read(file);
      Map<String, HostTensor> t = contents.tensors();

      assertArrayEquals(inputs, t.get("inputs").ints());
      assertArrayEquals(targets, t.get("targets").ints());
      assertArrayEquals(layout.cuSeqlens(), t.get("cu_seqlens").ints());
      assertEquals(loss, t.get("loss").floats()[0], 1e-6);
      Map<String, double[]> grads = model.readGradients();
      for (Parameter p : model.parameters()) {
        HostTensor g = t.get("grad." + p.name());
        assertEquals(DType.F32, g.dtype());
        assertArrayEquals(p.value().shape().dims(), g.shape(), p.name());
        assertArrayEquals(grads.get(p.name()), g.floats(), 0.0, p.name());
      }
      assertArrayEquals(new int[] {4, 17, 2}, t.get("routing.layers.1").shape());
      assertArrayEquals(model.readRouting(1), t.get("routing.layers.1").ints());
      // inputs, targets, cu_seqlens, loss, one routing table (one MoBA layer), the gradients.
      assertEquals(5 + model.parameters().size(), t.size());

      Map<String, String> meta = contents.metadata();
      assertEquals(BatchExport.BATCH_FORMAT, meta.get("format"));
      config.toMap().forEach((key, value) -> assertEquals(value, meta.get("model." + key), key));
    }
  }

  @Test
  void weightsRoundTripThroughSafetensors(@TempDir Path dir) {
    ModelConfig config = TinyModels.everyFeature(true);
    try (CpuBackend backend = new CpuBackend(Precision.FLOAT32, 2);
        Model source = new Model(backend, config, 1);
        Model restored = new Model(backend, config, 2)) {
      Path file = dir.resolve("model.safetensors");
      BatchExport.writeWeights(file, source);
      Map<String, double[]> weights = new HashMap<>();
      SafeTensors.read(file).tensors().forEach((name, tensor) -> weights.put(name, tensor.floats()));
      restored.loadWeights(weights);
      Map<String, double[]> expected = source.readWeights();
      Map<String, double[]> actual = restored.readWeights();
      for (String name : expected.keySet()) {
        assertArrayEquals(expected.get(name), actual.get(name), name);
      }
    }
  }

  @Test
  void mainWritesBothFiles(@TempDir Path dir) {
    Path out = dir.resolve("export");
    BatchExport.main(new String[] {out.toString()});
    assertTrue(SafeTensors.read(out.resolve("model.safetensors")).tensors()
        .containsKey("tok_embeddings.weight"));
    assertTrue(SafeTensors.read(out.resolve("batch.safetensors")).tensors()
        .containsKey("grad.norm.weight"));
  }
}
