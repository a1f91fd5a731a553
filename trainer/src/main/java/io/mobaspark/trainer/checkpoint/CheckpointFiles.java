package io.mobaspark.trainer.checkpoint;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValue;
import io.mobaspark.kernels.Backend;
import io.mobaspark.kernels.Tensor;
import io.mobaspark.trainer.Parameter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The three files of one checkpoint folder: {@value #MODEL} (F32 weights under the parameter
 * names), {@value #OPTIMIZER} (F32 AdamW moments {@code exp_avg.<name>}, {@code exp_avg_sq.<name>})
 * and {@value #STATE} ({@link TrainState}). Weights are stored as float32, which is exact for the
 * float32 master weights of both backends, so a resumed run continues bit for bit.
 */
public final class CheckpointFiles {
  public static final String MODEL = "model.safetensors";
  public static final String OPTIMIZER = "optimizer.safetensors";
  public static final String STATE = "state.json";

  private CheckpointFiles() {}

  /** Whether {@code folder} holds all three files. */
  public static boolean isComplete(Path folder) {
    return Files.isRegularFile(folder.resolve(MODEL)) && Files.isRegularFile(folder.resolve(OPTIMIZER))
        && Files.isRegularFile(folder.resolve(STATE));
  }

  /**
   * Writes weights, optimizer moments and state into {@code folder}; the state goes last, so a
   * folder with a state file has all its tensors.
   */
  public static void write(Path folder, Backend backend, List<Parameter> parameters,
      Map<String, Tensor> optimizerState, TrainState state) throws IOException {
    Map<String, String> metadata = Map.of("format", "pt", "step", Integer.toString(state.step()));
    writeTensors(folder.resolve(MODEL), backend, byName(parameters), metadata);
    writeTensors(folder.resolve(OPTIMIZER), backend, optimizerState, metadata);
    Files.writeString(folder.resolve(STATE), state.toJson(), StandardCharsets.UTF_8);
  }

  /** Reads {@value #STATE} of a checkpoint folder. */
  public static TrainState readState(Path folder) {
    Path file = folder.resolve(STATE);
    try {
      return TrainState.fromJson(Files.readString(file, StandardCharsets.UTF_8), file);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + file, e);
    }
  }

  /**
   * Loads a checkpoint into the model's parameters and the optimizer's moments, after checking that
   * it was written for the same model.
   *
   * @param modelSection the current run's {@code model} config section
   * @throws IllegalArgumentException naming the file and key when the checkpoint's model config, a
   *     tensor name or a shape differs from the current model
   */
  public static TrainState restore(Path folder, Backend backend, List<Parameter> parameters,
      Map<String, Tensor> optimizerState, Config modelSection) {
    TrainState state = readState(folder);
    requireSameModel(folder.resolve(STATE), state, modelSection);
    readTensors(folder.resolve(MODEL), backend, byName(parameters));
    readTensors(folder.resolve(OPTIMIZER), backend, optimizerState);
    return state;
  }

  private static Map<String, Tensor> byName(List<Parameter> parameters) {
    Map<String, Tensor> tensors = new LinkedHashMap<>();
    for (Parameter p : parameters) {
      if (tensors.put(p.name(), p.value()) != null) {
        throw new IllegalArgumentException("two parameters are named '" + p.name() + "'");
      }
    }
    return tensors;
  }

  private static void writeTensors(Path file, Backend backend, Map<String, Tensor> tensors,
      Map<String, String> metadata) {
    Map<String, TensorInfo> infos = new TreeMap<>();
    tensors.forEach((name, t) -> infos.put(name, new TensorInfo(DType.F32, t.shape().dims())));
    SafeTensors.write(file, infos,
        name -> HostTensor.wrapFloats(infos.get(name), backend.read(tensors.get(name))), metadata);
  }

  private static void readTensors(Path file, Backend backend, Map<String, Tensor> tensors) {
    try (SafeTensorsReader reader = SafeTensorsReader.open(file)) {
      Map<String, TensorInfo> stored = reader.tensors();
      if (!stored.keySet().equals(tensors.keySet())) {
        TreeSet<String> missing = new TreeSet<>(tensors.keySet());
        missing.removeAll(stored.keySet());
        TreeSet<String> extra = new TreeSet<>(stored.keySet());
        extra.removeAll(tensors.keySet());
        throw new IllegalArgumentException(file + " does not match the model: missing tensors "
            + missing + ", unexpected tensors " + extra);
      }
      for (Map.Entry<String, Tensor> entry : tensors.entrySet()) {
        TensorInfo expected = new TensorInfo(DType.F32, entry.getValue().shape().dims());
        TensorInfo actual = stored.get(entry.getKey());
        if (!actual.equals(expected)) {
          throw new IllegalArgumentException(file + ": tensor '" + entry.getKey() + "' is " + actual
              + " but the model needs " + expected);
        }
        backend.write(entry.getValue(), reader.read(entry.getKey()).floatsView());
      }
    }
  }

  private static void requireSameModel(Path stateFile, TrainState state, Config current) {
    Config saved = ConfigFactory.parseString(state.configJson());
    if (!saved.hasPath("model")) {
      throw new IllegalArgumentException(stateFile + " records no 'model' config section");
    }
    Map<String, Object> was = leaves(saved.getConfig("model"));
    Map<String, Object> now = leaves(current);
    List<String> differences = new ArrayList<>();
    TreeSet<String> keys = new TreeSet<>(was.keySet());
    keys.addAll(now.keySet());
    for (String key : keys) {
      if (!sameValue(was.get(key), now.get(key))) {
        differences.add("model." + key + " (checkpoint: " + was.get(key) + ", config: "
            + now.get(key) + ")");
      }
    }
    if (!differences.isEmpty()) {
      throw new IllegalArgumentException("checkpoint " + stateFile
          + " was written for a different model; differing keys: " + String.join(", ", differences));
    }
  }

  private static Map<String, Object> leaves(Config section) {
    Map<String, Object> values = new TreeMap<>();
    for (Map.Entry<String, ConfigValue> e : section.entrySet()) {
      values.put(e.getKey(), e.getValue().unwrapped());
    }
    return values;
  }

  /** 1024 and 1024.0 are the same setting even when one file wrote it differently. */
  private static boolean sameValue(Object a, Object b) {
    if (a instanceof Number x && b instanceof Number y) {
      return x.doubleValue() == y.doubleValue();
    }
    return Objects.equals(a, b);
  }
}
