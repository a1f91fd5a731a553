package io.mobaspark.jobs.preprocess;

import java.nio.file.Path;
import java.util.List;

/**
 * What the preprocess job reads and writes.
 *
 * @param inputs files or folders, local paths or any Hadoop FileSystem URI
 * @param format how to read them; null guesses per input from its name ({@link InputFormat#guess})
 * @param textField the JSON field or Parquet column that holds the document
 * @param output dataset root on the local (or mounted shared) file system: {@code output/train}
 *     and {@code output/val}
 * @param tokenizer tokenizer name ({@code r50k_base}, {@code cl100k_base}, {@code bytes})
 * @param valFraction share of documents (by content hash) in the validation split, in [0, 1)
 * @param shardTokens tokens per shard (the last shard of a partition holds the rest)
 * @param chunkChars documents longer than this are split at paragraph breaks; 0 keeps them whole
 * @param minChars documents shorter than this after cleaning are dropped (1 drops empty ones)
 * @param maxChars documents longer than this after cleaning are dropped; 0 means no limit
 * @param partitions Spark partitions of each split; each writes its own shards
 * @param overwrite replace a dataset already at {@code output}
 * @param cleaning where the cleaning and length filter run; null means {@link CleaningPath#AUTO}
 */
public record PreprocessOptions(List<String> inputs, InputFormat format, String textField,
    Path output, String tokenizer, double valFraction, long shardTokens, int chunkChars,
    int minChars, int maxChars, int partitions, boolean overwrite, CleaningPath cleaning) {

  public PreprocessOptions {
    if (inputs == null || inputs.isEmpty()) {
      throw new IllegalArgumentException("--input: give at least one file or folder");
    }
    if (textField == null || textField.isBlank()) {
      throw new IllegalArgumentException("--text-field must name a field, got '" + textField + "'");
    }
    if (output == null) {
      throw new IllegalArgumentException("--output: a dataset folder is required");
    }
    if (!(valFraction >= 0 && valFraction < 1)) {
      throw new IllegalArgumentException("--val-fraction must be in [0, 1), got " + valFraction);
    }
    if (shardTokens < 1) {
      throw new IllegalArgumentException("--shard-tokens must be >= 1, got " + shardTokens);
    }
    if (chunkChars < 0) {
      throw new IllegalArgumentException("--chunk-chars must be >= 0, got " + chunkChars);
    }
    if (minChars < 1) {
      throw new IllegalArgumentException("--min-chars must be >= 1, got " + minChars);
    }
    if (maxChars < 0 || (maxChars > 0 && maxChars < minChars)) {
      throw new IllegalArgumentException("--max-chars must be 0 (no limit) or >= --min-chars "
          + minChars + ", got " + maxChars);
    }
    if (partitions < 1) {
      throw new IllegalArgumentException("--partitions must be >= 1, got " + partitions);
    }
    inputs = List.copyOf(inputs);
    cleaning = cleaning == null ? CleaningPath.AUTO : cleaning;
  }

  /** Text files (or folders of them) with the usual defaults: the demo's and the tests' form. */
  public static PreprocessOptions textFiles(List<String> inputs, Path output, String tokenizer,
      double valFraction, long shardTokens, int chunkChars, int partitions, boolean overwrite) {
    return new PreprocessOptions(inputs, InputFormat.TEXT, "text", output, tokenizer, valFraction,
        shardTokens, chunkChars, 1, 0, partitions, overwrite, CleaningPath.AUTO);
  }

  /** These options with another cleaning path. */
  public PreprocessOptions withCleaning(CleaningPath path) {
    return new PreprocessOptions(inputs, format, textField, output, tokenizer, valFraction,
        shardTokens, chunkChars, minChars, maxChars, partitions, overwrite, path);
  }

  /** The training split's folder. */
  public Path trainDir() {
    return output.resolve("train");
  }

  /** The validation split's folder. */
  public Path valDir() {
    return output.resolve("val");
  }
}
