package io.mobaspark.data.shard;

import java.io.IOException;
import java.nio.file.Path;

/** A shard file that exists but is not what the manifest or the format promises. */
public final class ShardFormatException extends IOException {
  private static final long serialVersionUID = 1L;

  private final Path file;

  public ShardFormatException(Path file, String problem) {
    super("shard " + file + ": " + problem);
    this.file = file;
  }

  public ShardFormatException(Path file, String problem, Throwable cause) {
    super("shard " + file + ": " + problem, cause);
    this.file = file;
  }

  /** The offending shard file. */
  public Path file() {
    return file;
  }
}
