package io.mobaspark.jobs.preprocess;

import io.mobaspark.data.shard.Manifest;

/**
 * The datasets the preprocess job wrote and what it took.
 *
 * @param train the training split's manifest
 * @param val the validation split's manifest, or null when the validation fraction was 0
 */
public record PreprocessResult(Manifest train, Manifest val, long files, long documents,
    long bytes, double seconds) {

  /** A one-line summary for the console. */
  public String summary() {
    String valPart = val == null ? "no validation split"
        : String.format("val %,d tokens in %d shards", val.totalTokens(), val.shards().size());
    return String.format("%,d files, %,d documents, %.1f MB -> train %,d tokens in %d shards, %s "
            + "(%s, %.1f s, %,.0f tokens/s)",
        files, documents, bytes / 1e6, train.totalTokens(), train.shards().size(), valPart,
        train.tokenizer(), seconds,
        (train.totalTokens() + (val == null ? 0 : val.totalTokens())) / Math.max(seconds, 1e-9));
  }
}
