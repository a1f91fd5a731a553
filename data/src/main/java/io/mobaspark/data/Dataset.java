package io.mobaspark.data;

import io.mobaspark.data.shard.Manifest;
import io.mobaspark.data.shard.ShardInfo;
import io.mobaspark.data.shard.ShardReader;
import io.mobaspark.data.shard.TokenDtype;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A folder of shards and its {@code manifest.json}, every shard memory-mapped and checked against
 * the manifest. Opening maps files and reads no token; with checksums on it also reads every byte
 * once, which is what catches a corrupt copy before a run trains on it.
 */
public final class Dataset implements AutoCloseable {
  private final Path directory;
  private final Manifest manifest;
  private final List<ShardReader> shards;

  private Dataset(Path directory, Manifest manifest, List<ShardReader> shards) {
    this.directory = directory;
    this.manifest = manifest;
    this.shards = List.copyOf(shards);
  }

  /** Opens {@code dir} and verifies every shard's SHA-256. */
  public static Dataset open(Path dir) throws IOException {
    return open(dir, true);
  }

  /**
   * Opens {@code dir}: reads {@code dir/manifest.json} and maps every shard it lists, checking size,
   * schema, dtype and token count, and with {@code verifyChecksums} the SHA-256.
   *
   * @throws java.nio.file.NoSuchFileException for a missing manifest or shard
   * @throws io.mobaspark.data.shard.ManifestException for an invalid manifest
   * @throws io.mobaspark.data.shard.ShardFormatException naming a shard that fails a check
   */
  public static Dataset open(Path dir, boolean verifyChecksums) throws IOException {
    if (dir == null) {
      throw new IllegalArgumentException("dataset folder is null");
    }
    Manifest manifest = Manifest.read(dir.resolve(Manifest.FILE_NAME));
    List<ShardReader> readers = new ArrayList<>();
    try {
      for (ShardInfo info : manifest.shards()) {
        readers.add(ShardReader.open(dir.resolve(info.file()), info, manifest.dtype(),
            verifyChecksums));
      }
    } catch (IOException | RuntimeException e) {
      readers.forEach(ShardReader::close);
      throw e;
    }
    return new Dataset(dir, manifest, readers);
  }

  public Path directory() {
    return directory;
  }

  public Manifest manifest() {
    return manifest;
  }

  public String tokenizerName() {
    return manifest.tokenizer();
  }

  public int vocabSize() {
    return manifest.vocabSize();
  }

  public int eotId() {
    return manifest.eotId();
  }

  public TokenDtype dtype() {
    return manifest.dtype();
  }

  public long totalTokens() {
    return manifest.totalTokens();
  }

  public long totalDocuments() {
    return manifest.totalDocuments();
  }

  public int shardCount() {
    return shards.size();
  }

  /** The shard at {@code index} in manifest order. */
  public ShardReader shard(int index) {
    if (index < 0 || index >= shards.size()) {
      throw new IndexOutOfBoundsException(
          "shard index " + index + " outside [0, " + shards.size() + ") of " + directory);
    }
    return shards.get(index);
  }

  /** Makes every shard refuse further reads. */
  @Override
  public void close() {
    shards.forEach(ShardReader::close);
  }

  @Override
  public String toString() {
    return "Dataset[" + directory + ", " + shards.size() + " shards, " + totalTokens() + " "
        + tokenizerName() + " tokens]";
  }
}
