package io.mobaspark.jobs;

import java.net.URI;
import org.apache.hadoop.fs.RawLocalFileSystem;

/**
 * A Hadoop FileSystem for tests of code that must work on any Hadoop FileSystem URI: the local disk
 * under the scheme {@value #SCHEME} ({@code mobatest:///tmp/x} is {@code /tmp/x}), so that such
 * code cannot take a shortcut through java.nio. Register it with
 * {@code spark.hadoop.fs.mobatest.impl} (a Spark session) or {@code fs.mobatest.impl} (a Hadoop
 * Configuration).
 */
public class TestSchemeFileSystem extends RawLocalFileSystem {
  public static final String SCHEME = "mobatest";

  /** The Hadoop configuration key that maps the scheme to this class. */
  public static final String IMPL_KEY = "fs." + SCHEME + ".impl";

  /** {@code mobatest://} + the absolute path of {@code path}. */
  public static String uri(java.nio.file.Path path) {
    return SCHEME + "://" + path.toAbsolutePath();
  }

  /** The root of {@link #getScheme()}: subclasses for other schemes override only that. */
  @Override
  public URI getUri() {
    return URI.create(getScheme() + ":///");
  }

  @Override
  public String getScheme() {
    return SCHEME;
  }
}
