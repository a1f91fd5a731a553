package io.mobaspark.jobs.preprocess;

import io.mobaspark.data.shard.Manifest;
import java.util.Locale;

/**
 * The datasets the preprocess job wrote and what it took.
 *
 * @param train the training split's manifest
 * @param val the validation split's manifest, or null when the validation fraction was 0
 * @param documentsRead documents after chunking, before filters
 * @param outsideLimits documents dropped by the length filters (empty ones included)
 * @param duplicates documents dropped as exact duplicates of a kept one
 */
public record PreprocessResult(Manifest train, Manifest val, long documentsRead,
    long outsideLimits, long duplicates, double seconds) {

  /** A one-line summary for the console. */
  public String summary() {
    long tokens = train.totalTokens() + (val == null ? 0 : val.totalTokens());
    String valPart = val == null ? "no validation split"
        : String.format(Locale.ROOT, "val %,d tokens / %,d documents in %d shards",
            val.totalTokens(), val.totalDocuments(), val.shards().size());
    return String.format(Locale.ROOT, "%,d documents read -> train %,d tokens / %,d documents in "
            + "%d shards, %s (%s, %.1f s, %,.0f tokens/s)",
        documentsRead, train.totalTokens(), train.totalDocuments(), train.shards().size(), valPart,
        train.tokenizer(), seconds, tokens / Math.max(seconds, 1e-9));
  }
}
