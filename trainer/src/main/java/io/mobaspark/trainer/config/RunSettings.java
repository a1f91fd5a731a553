package io.mobaspark.trainer.config;

import java.io.Serializable;
import java.nio.file.Path;
import java.util.regex.Pattern;

/**
 * The {@code run} section.
 *
 * @param dir     the run folder: checkpoints, metrics.jsonl; a run resumes from it. A local or
 *                POSIX-mounted path (a {@code file:} URI is accepted and stored as its path), or a
 *                Hadoop FileSystem URI such as {@code hdfs://nn/runs/a}, which only the Spark job
 *                can use (it stages the folder locally, docs/distributed.md)
 * @param backend {@code auto | cpu | cuda}
 * @param threads CPU backend worker threads, 0 = all cores (a Spark task: its task cpus)
 * @param ranks   data-parallel ranks, one training task each
 */
public record RunSettings(String dir, String backend, int threads, int ranks)
    implements Serializable {
  /** A URI scheme (two or more characters, so that a Windows drive letter is not one). */
  static final Pattern URI_SCHEME = Pattern.compile("^([A-Za-z][A-Za-z0-9+.-]+):");

  /**
   * Whether {@link #dir} is a Hadoop FileSystem URI ({@code hdfs:}, {@code s3a:}, ...) rather than
   * a local path; {@code file:} URIs were turned into paths when the config loaded.
   */
  public boolean remoteDir() {
    return URI_SCHEME.matcher(dir).find();
  }

  /**
   * {@link #dir} as a local path.
   *
   * @throws IllegalStateException when it is a Hadoop FileSystem URI, which java.nio cannot write
   */
  public Path dirPath() {
    if (remoteDir()) {
      throw new IllegalStateException("run.dir = " + dir + " is a Hadoop FileSystem URI: only the "
          + "Spark pretrain job can train there (it stages the run folder locally); give a local "
          + "or mounted path to train without Spark");
    }
    return Path.of(dir);
  }
}
