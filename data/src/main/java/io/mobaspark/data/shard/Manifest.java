package io.mobaspark.data.shard;

import java.io.IOException;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The dataset's table of contents, {@code manifest.json} beside the shards: which tokenizer made
 * them, how ids are stored, and each shard's size and checksum. The shards are the listed files, in
 * the listed order; any other file in the folder is ignored.
 *
 * @param formatVersion {@link #FORMAT_VERSION}; readers refuse others
 * @param tokenizer the {@code Tokenizers} name the tokens came from
 * @param vocabSize one more than the highest id
 * @param eotId the end-of-text id that ends every document
 * @param dtype how the shards store an id
 * @param shards in dataset order, at least one
 * @param totalTokens the sum of the shards' tokens
 * @param totalDocuments the sum of the shards' documents
 */
public record Manifest(int formatVersion, String tokenizer, int vocabSize, int eotId,
    TokenDtype dtype, List<ShardInfo> shards, long totalTokens, long totalDocuments) {

  public static final int FORMAT_VERSION = 1;
  public static final String FILE_NAME = "manifest.json";

  /** Checks the fields against each other; messages name the offending field and value. */
  public Manifest {
    if (formatVersion != FORMAT_VERSION) {
      throw new IllegalArgumentException("formatVersion " + formatVersion
          + " is not supported; this reader knows version " + FORMAT_VERSION);
    }
    if (tokenizer == null || tokenizer.isBlank()) {
      throw new IllegalArgumentException("tokenizer must be a non-empty name, got '" + tokenizer
          + "'");
    }
    if (vocabSize < 1) {
      throw new IllegalArgumentException("vocabSize must be >= 1, got " + vocabSize);
    }
    if (eotId < 0 || eotId >= vocabSize) {
      throw new IllegalArgumentException(
          "eotId must be in [0, vocabSize=" + vocabSize + "), got " + eotId);
    }
    if (dtype == null || !dtype.holds(vocabSize)) {
      throw new IllegalArgumentException(
          "dtype " + dtype + " cannot hold ids of a vocabulary of " + vocabSize);
    }
    if (shards == null || shards.isEmpty()) {
      throw new IllegalArgumentException("shards must list at least one shard, got " + shards);
    }
    shards = List.copyOf(shards);
    Set<String> files = new HashSet<>();
    long tokens = 0;
    long documents = 0;
    for (ShardInfo s : shards) {
      if (!files.add(s.file())) {
        throw new IllegalArgumentException("shards lists file " + s.file() + " twice");
      }
      tokens += s.tokens();
      documents += s.documents();
    }
    if (totalTokens != tokens) {
      throw new IllegalArgumentException(
          "totalTokens " + totalTokens + " differs from the shards' sum " + tokens);
    }
    if (totalDocuments != documents) {
      throw new IllegalArgumentException(
          "totalDocuments " + totalDocuments + " differs from the shards' sum " + documents);
    }
  }

  /** A current-version manifest for {@code shards}, with the dtype and totals they imply. */
  public static Manifest of(String tokenizer, int vocabSize, int eotId, List<ShardInfo> shards) {
    if (shards == null) {
      throw new IllegalArgumentException("shards is null");
    }
    long tokens = shards.stream().mapToLong(ShardInfo::tokens).sum();
    long documents = shards.stream().mapToLong(ShardInfo::documents).sum();
    return new Manifest(FORMAT_VERSION, tokenizer, vocabSize, eotId,
        TokenDtype.forVocab(vocabSize), shards, tokens, documents);
  }

  /**
   * Reads and validates {@code file}.
   *
   * @throws ManifestException naming the file and the missing or invalid field
   */
  public static Manifest read(Path file) throws IOException {
    return ManifestJson.read(file);
  }

  /** Writes this manifest to {@code file} atomically (temporary file, fsync, rename). */
  public void write(Path file) throws IOException {
    ManifestJson.write(this, file);
  }
}
