package io.mobaspark.jobs.preprocess;

import java.nio.file.Path;
import java.util.List;

/**
 * What the preprocess job reads and writes.
 *
 * @param inputs text files, or folders searched recursively for {@code *.txt}
 * @param output dataset root; the job writes {@code output/train} and {@code output/val}
 * @param tokenizer tokenizer name ({@code r50k_base}, {@code cl100k_base}, {@code bytes})
 * @param valFraction share of documents (by content hash) in the validation split, in [0, 1)
 * @param shardTokens tokens per shard (the last shard of a partition holds the rest)
 * @param chunkChars documents longer than this are split at paragraph breaks; 0 keeps them whole
 * @param partitions Spark partitions (parallel tasks); each writes its own shards
 * @param overwrite replace a dataset already at {@code output}
 */
public record PreprocessOptions(List<Path> inputs, Path output, String tokenizer,
    double valFraction, long shardTokens, int chunkChars, int partitions, boolean overwrite) {

  public PreprocessOptions {
    if (inputs == null || inputs.isEmpty()) {
      throw new IllegalArgumentException("--input: give at least one text file or folder");
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
    if (partitions < 1) {
      throw new IllegalArgumentException("--partitions must be >= 1, got " + partitions);
    }
    inputs = List.copyOf(inputs);
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
