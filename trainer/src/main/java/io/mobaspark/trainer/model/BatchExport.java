package io.mobaspark.trainer.model;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.mobaspark.kernels.AttentionKind;
import io.mobaspark.kernels.Backend;
import io.mobaspark.kernels.SeqLayout;
import io.mobaspark.kernels.cpu.CpuBackend;
import io.mobaspark.trainer.Parameter;
import io.mobaspark.trainer.checkpoint.HostTensor;
import io.mobaspark.trainer.checkpoint.SafeTensors;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

/**
 * Writes what {@code tools/torch_reference.py} needs to check this model against an independent
 * PyTorch implementation ({@code docs/model.md}, "Checking against PyTorch"): the weights, and one
 * micro-batch with the Java loss, every parameter gradient and the MoBA routing. Both files carry
 * the model config as {@code model.<key>} entries of their {@code __metadata__}.
 */
public final class BatchExport {
  /** The {@code format} metadata entry of a batch file. */
  public static final String BATCH_FORMAT = "mobaspark-batch-1";

  private BatchExport() {}

  /**
   * Runs one forward/backward of {@code model} on the batch with gradScale 1 and writes
   * {@code inputs}, {@code targets}, {@code cu_seqlens} (I32), {@code loss} (F32 [1]),
   * {@code grad.<parameter>} (F32) and {@code routing.layers.<i>} (I32 [H, T, topk], MoBA layers).
   * The model's gradients are zeroed first and hold this batch's gradients afterwards.
   *
   * @return the mean loss of the batch
   */
  public static double writeBatch(Path file, Model model, int[] inputs, int[] targets,
      SeqLayout layout) {
    if (file == null || model == null) {
      throw new IllegalArgumentException("file and model must be given");
    }
    model.zeroGradients();
    double loss = model.forwardBackward(inputs, targets, layout, 1.0);
    Backend backend = model.backend();
    ModelConfig config = model.config();
    Map<String, HostTensor> tensors = new HashMap<>();
    tensors.put("inputs", HostTensor.i32(new int[] {inputs.length}, inputs));
    tensors.put("targets", HostTensor.i32(new int[] {targets.length}, targets));
    tensors.put("cu_seqlens", HostTensor.i32(new int[] {layout.sequences() + 1}, layout.cuSeqlens()));
    tensors.put("loss", HostTensor.f32(new int[] {1}, new double[] {loss}));
    for (Parameter p : model.parameters()) {
      tensors.put("grad." + p.name(), HostTensor.f32(p.grad().shape().dims(), backend.read(p.grad())));
    }
    for (int l = 0; l < config.layers(); l++) {
      if (config.attentionKind(l) == AttentionKind.MOBA) {
        int[] shape = {config.heads(), inputs.length, config.topk()};
        tensors.put("routing.layers." + l, HostTensor.i32(shape, model.readRouting(l)));
      }
    }
    Map<String, String> metadata = metadata(config);
    metadata.put("format", BATCH_FORMAT);
    metadata.put("backend", backend.description());
    SafeTensors.write(file, tensors, metadata);
    return loss;
  }

  /** Writes the model's weights (F32, by parameter name) with its config in the metadata. */
  public static void writeWeights(Path file, Model model) {
    if (file == null || model == null) {
      throw new IllegalArgumentException("file and model must be given");
    }
    Map<String, HostTensor> tensors = new HashMap<>();
    for (Parameter p : model.parameters()) {
      tensors.put(p.name(), HostTensor.f32(p.value().shape().dims(), model.backend().read(p.value())));
    }
    SafeTensors.write(file, tensors, metadata(model.config()));
  }

  private static Map<String, String> metadata(ModelConfig config) {
    Map<String, String> m = new LinkedHashMap<>();
    config.toMap().forEach((key, value) -> m.put(ModelConfig.SECTION + "." + key, value));
    return m;
  }

  /**
   * {@code BatchExport <out-dir> [<model.conf> [<weights.safetensors>]]}: writes
   * {@code model.safetensors} and {@code batch.safetensors} into out-dir for a model of the given
   * config (its {@code model} section; the defaults without one) on the float32 CPU backend. Without
   * a weights file the model is freshly initialized, and its norm and kconv weights are moved away
   * from their initial ones and zeros, at which a wrong kconv tap order or norm would go unseen. The
   * batch packs three documents (several MoBA blocks with a partial last one, a single token, and
   * two blocks plus one token) of seeded random tokens with next-token targets.
   */
  public static void main(String[] args) {
    if (args.length < 1 || args.length > 3) {
      System.err.println(
          "usage: BatchExport <out-dir> [<model.conf> [<weights.safetensors>]]");
      System.exit(2);
    }
    Path out = Path.of(args[0]);
    Config file = args.length > 1 ? ConfigFactory.parseFile(Path.of(args[1]).toFile()).resolve()
        : ConfigFactory.empty();
    ModelConfig config = ModelConfig.fromConfig(file.hasPath(ModelConfig.SECTION)
        ? file.getConfig(ModelConfig.SECTION) : ConfigFactory.empty());
    try (CpuBackend backend = CpuBackend.float32(); Model model = new Model(backend, config, 1)) {
      if (args.length > 2) {
        Map<String, double[]> weights = new HashMap<>();
        SafeTensors.read(Path.of(args[2])).tensors().forEach((name, tensor) -> {
          if (tensor.dtype().isFloat()) {
            weights.put(name, tensor.floats());
          }
        });
        weights.keySet().retainAll(model.readWeights().keySet());
        model.loadWeights(weights);
      } else {
        moveOffIdentity(model, new Random(2));
      }
      int b = config.blockSize();
      SeqLayout layout = SeqLayout.of(0, 4 * b + 5, 4 * b + 6, 6 * b + 7);
      int[] inputs = new Random(3).ints(layout.totalTokens(), 0, config.vocabSize()).toArray();
      int[] targets = new int[inputs.length];
      for (int s = 0; s < layout.sequences(); s++) {
        for (int t = layout.start(s); t < layout.end(s); t++) {
          targets[t] = t + 1 < layout.end(s) ? inputs[t + 1] : -1;
        }
      }
      Files.createDirectories(out);
      writeWeights(out.resolve("model.safetensors"), model);
      double loss = writeBatch(out.resolve("batch.safetensors"), model, inputs, targets, layout);
      System.out.printf("wrote %s and %s: %d parameters, %d tokens in %d sequences, loss %.6f%n",
          out.resolve("model.safetensors"), out.resolve("batch.safetensors"),
          config.parameterCount(), inputs.length, layout.sequences(), loss);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create " + out, e);
    }
  }

  /** Norm weights 1 + N(0, 0.1^2) and kconv weights N(0, 0.3^2) instead of exactly 1 and 0. */
  private static void moveOffIdentity(Model model, Random random) {
    for (Parameter p : model.parameters()) {
      boolean norm = p.name().endsWith("norm.weight");
      if (norm || p.name().endsWith("kconv.weight")) {
        double[] w = new double[(int) p.value().numel()];
        for (int i = 0; i < w.length; i++) {
          w[i] = norm ? 1 + 0.1 * random.nextGaussian() : 0.3 * random.nextGaussian();
        }
        model.setWeights(p.name(), w);
      }
    }
  }
}
