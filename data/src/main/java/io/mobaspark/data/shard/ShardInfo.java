package io.mobaspark.data.shard;

import java.io.Serializable;
import java.util.regex.Pattern;

/**
 * One shard as the manifest lists it.
 *
 * @param file the file name inside the dataset folder (no folders, so a dataset can be moved)
 * @param tokens token count, end-of-text tokens included
 * @param documents end-of-text tokens in this shard, i.e. documents that end here
 * @param bytes the file's size
 * @param sha256 the file's SHA-256, 64 lowercase hex digits
 */
public record ShardInfo(String file, long tokens, long documents, long bytes, String sha256)
    implements Serializable {
  private static final Pattern FILE_NAME = Pattern.compile("[A-Za-z0-9_][A-Za-z0-9._-]*\\.arrow");
  private static final Pattern SHA256 = Pattern.compile("[0-9a-f]{64}");

  public ShardInfo {
    requireFileName(file);
    if (tokens < 1) {
      throw new IllegalArgumentException("shard " + file + ": tokens must be >= 1, got " + tokens);
    }
    if (documents < 0 || documents > tokens) {
      throw new IllegalArgumentException(
          "shard " + file + ": documents must be in [0, tokens=" + tokens + "], got " + documents);
    }
    if (bytes < 1) {
      throw new IllegalArgumentException("shard " + file + ": bytes must be >= 1, got " + bytes);
    }
    if (sha256 == null || !SHA256.matcher(sha256).matches()) {
      throw new IllegalArgumentException(
          "shard " + file + ": sha256 must be 64 lowercase hex digits, got '" + sha256 + "'");
    }
  }

  /**
   * Checks that {@code file} is a plain shard file name: ends in {@code .arrow}, no folder, no
   * leading dot (the writer's temporary files start with one).
   */
  public static void requireFileName(String file) {
    if (file == null || !FILE_NAME.matcher(file).matches()) {
      throw new IllegalArgumentException("shard file name must match " + FILE_NAME.pattern()
          + " (a plain name, no folder), got '" + file + "'");
    }
  }
}
