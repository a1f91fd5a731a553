package io.mobaspark.jobs.pretrain;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.UUID;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.UnsupportedFileSystemException;

/**
 * A run folder given as a Hadoop FileSystem URI ({@code run.dir = hdfs://nn/runs/a},
 * {@code s3a://bucket/runs/a}): its checkpoints ({@link RemoteCheckpoints}), its
 * {@code metrics.jsonl} and {@code config.json}, replaced whole by rank 0, and the checks that make
 * a wrong URI fail on the driver, naming the key and value, before any task starts.
 *
 * <p>The FileSystem instance is Hadoop's cached one for the URI, shared within the JVM, so it is
 * never closed here.
 */
final class RemoteRunDir {
  private static final String TEMP_PREFIX = ".tmp-";

  private final String uri;
  private final FileSystem fs;
  private final Path root;

  private RemoteRunDir(String uri, FileSystem fs, Path root) {
    this.uri = uri;
    this.fs = fs;
    this.root = root;
  }

  /**
   * Finds the FileSystem of {@code run.dir}.
   *
   * @param uri  {@code run.dir}, a URI with a scheme other than {@code file:}
   * @param conf the Hadoop configuration: the driver's, or a copy of it on an executor
   * @throws IllegalArgumentException naming {@code run.dir} when no FileSystem serves the scheme
   *     or the file system cannot be reached
   */
  static RemoteRunDir open(String uri, Configuration conf) {
    Path root = new Path(uri);
    String scheme = root.toUri().getScheme();
    try {
      return new RemoteRunDir(uri, root.getFileSystem(conf), root);
    } catch (UnsupportedFileSystemException e) {
      throw new IllegalArgumentException("run.dir = " + uri + ": no Hadoop FileSystem for the "
          + "scheme '" + scheme + ":' (" + e.getMessage() + "); put its connector on the "
          + "classpath (e.g. hadoop-aws for s3a:) or name its class in spark.hadoop.fs." + scheme
          + ".impl", e);
    } catch (IOException | IllegalArgumentException e) {
      // Hadoop reports an unknown host as an IllegalArgumentException around the network error.
      throw new IllegalArgumentException("run.dir = " + uri + ": cannot reach its file system: "
          + e, e);
    }
  }

  /** {@code run.dir} as configured. */
  String uri() {
    return uri;
  }

  RemoteCheckpoints checkpoints() {
    return new RemoteCheckpoints(fs, new Path(root, "checkpoints"));
  }

  /**
   * Creates the run folder and writes and deletes a file in it, so that an unreachable file system
   * or a missing permission is reported on the driver, naming {@code run.dir}, rather than by a
   * training task at its first checkpoint.
   */
  void checkWritable() {
    Path probe = new Path(root, TEMP_PREFIX + "write-probe-" + UUID.randomUUID());
    try {
      if (!fs.mkdirs(root)) {
        throw new IOException("mkdirs returned false");
      }
      fs.create(probe, false).close();
      fs.delete(probe, false);
    } catch (IOException e) {
      throw new IllegalArgumentException("run.dir = " + uri + ": cannot create or write the run "
          + "folder: " + e, e);
    }
  }

  /**
   * Replaces {@code <run.dir>/name} with the local file {@code from}: uploaded under a temp name,
   * then the old file deleted and the new one renamed into place, so that a reader sees the old
   * file, none (briefly), or the new one, never a partial one.
   */
  void replace(String name, java.nio.file.Path from) {
    Path target = new Path(root, name);
    Path temp = new Path(root, TEMP_PREFIX + name + "-" + UUID.randomUUID());
    try {
      HadoopCopies.upload(from, fs, temp);
      fs.delete(target, false);
      if (!fs.rename(temp, target)) {
        throw new IOException("cannot rename " + temp + " to " + target);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot upload " + from + " to " + target, e);
    }
  }

  /** Removes the temp files that crashed {@link #replace} calls left (one writer per run). */
  void removeLeftoverTemps() {
    try {
      for (var child : fs.listStatus(root)) {
        if (child.isFile() && child.getPath().getName().startsWith(TEMP_PREFIX)) {
          fs.delete(child.getPath(), false);
        }
      }
    } catch (FileNotFoundException none) {
      // No run folder yet: nothing to clean.
    } catch (IOException e) {
      throw new UncheckedIOException("cannot clean up " + root, e);
    }
  }

  /** {@code <run.dir>/<name>}, for {@link DriverProgress}. */
  MetricsTail tail(String name) {
    Path file = new Path(root, name);
    return new MetricsTail() {
      @Override
      public long length() throws IOException {
        try {
          return fs.getFileStatus(file).getLen();
        } catch (FileNotFoundException none) {
          return -1;
        }
      }

      @Override
      public byte[] read(long offset, int count) throws IOException {
        byte[] bytes = new byte[count];
        try (FSDataInputStream in = fs.open(file)) {
          in.readFully(offset, bytes);
        }
        return bytes;
      }

      @Override
      public String describe() {
        return file.toString();
      }
    };
  }
}
