package io.mobaspark.data.shard;

import java.io.IOException;
import java.nio.file.Path;

/** A manifest file that is not valid JSON or lacks or misstates a field. */
public final class ManifestException extends IOException {
  private static final long serialVersionUID = 1L;

  public ManifestException(Path file, String problem, Throwable cause) {
    super("manifest " + file + ": " + problem, cause);
  }
}
