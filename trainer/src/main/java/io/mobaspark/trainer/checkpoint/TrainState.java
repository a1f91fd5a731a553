package io.mobaspark.trainer.checkpoint;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;

/**
 * The non-tensor state of a checkpoint, stored as {@code state.json} (fields: docs/checkpoints.md).
 *
 * @param step           optimizer steps completed
 * @param dataCursor     the training sampler's cursor after those steps
 * @param tokensSeen     training target tokens consumed so far
 * @param seed           {@code train.seed} of the run
 * @param elapsedSeconds training wall time so far, summed over resumed segments
 * @param trainLoss      loss of the last step
 * @param valLoss        the latest validation loss, NaN when none was measured yet
 * @param timestamp      when the checkpoint was written, ISO-8601 UTC
 * @param configJson     the run's resolved config as JSON
 */
public record TrainState(
    int step,
    long dataCursor,
    long tokensSeen,
    long seed,
    double elapsedSeconds,
    double trainLoss,
    double valLoss,
    String timestamp,
    String configJson) {

  /** Bumped whenever the checkpoint layout changes incompatibly. */
  public static final int FORMAT_VERSION = 1;

  public String toJson() {
    ObjectNode root = SafeTensors.JSON.createObjectNode();
    root.put("format_version", FORMAT_VERSION);
    root.put("step", step);
    root.put("data_cursor", dataCursor);
    root.put("tokens_seen", tokensSeen);
    root.put("seed", seed);
    root.put("elapsed_s", elapsedSeconds);
    putFinite(root, "train_loss", trainLoss);
    putFinite(root, "val_loss", valLoss);
    root.put("timestamp", timestamp);
    try {
      root.set("config", SafeTensors.JSON.readTree(configJson));
      return SafeTensors.JSON.writerWithDefaultPrettyPrinter().writeValueAsString(root);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("the run config is not valid JSON: " + e.getOriginalMessage(), e);
    }
  }

  /**
   * {@code run.ranks} of the run that wrote this state, from its config; 1 for checkpoints written
   * before that key existed (every run was single-rank then).
   */
  public int ranks() {
    try {
      // A number, or a string when the value came from a key=value override.
      return SafeTensors.JSON.readTree(configJson).path("run").path("ranks").asInt(1);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("the run config is not valid JSON: " + e.getOriginalMessage(), e);
    }
  }

  /**
   * Parses {@code state.json}; {@code file} only names the source in errors.
   *
   * @throws IllegalArgumentException for malformed JSON, a missing field or another format version
   */
  public static TrainState fromJson(String json, Path file) {
    JsonNode root;
    try {
      root = SafeTensors.JSON.readTree(json);
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException(file + " is not valid JSON: " + e.getOriginalMessage(), e);
    }
    if (root == null || !root.isObject()) {
      throw new IllegalArgumentException(file + " must hold a JSON object");
    }
    int version = required(root, "format_version", file).asInt();
    if (version != FORMAT_VERSION) {
      throw new IllegalArgumentException(file + " has checkpoint format_version " + version
          + ", this build reads version " + FORMAT_VERSION);
    }
    JsonNode config = required(root, "config", file);
    if (!config.isObject()) {
      throw new IllegalArgumentException(file + ": field 'config' must be a JSON object");
    }
    return new TrainState(
        required(root, "step", file).asInt(),
        required(root, "data_cursor", file).asLong(),
        required(root, "tokens_seen", file).asLong(),
        required(root, "seed", file).asLong(),
        required(root, "elapsed_s", file).asDouble(),
        root.path("train_loss").asDouble(Double.NaN),
        root.path("val_loss").asDouble(Double.NaN),
        required(root, "timestamp", file).asText(),
        config.toString());
  }

  private static JsonNode required(JsonNode root, String field, Path file) {
    JsonNode node = root.get(field);
    if (node == null || node.isNull()) {
      throw new IllegalArgumentException(file + " lacks the field '" + field + "'");
    }
    return node;
  }

  /** JSON has no NaN: an unknown loss is written as null. */
  private static void putFinite(ObjectNode root, String field, double value) {
    if (Double.isFinite(value)) {
      root.put(field, value);
    } else {
      root.putNull(field);
    }
  }
}
