package io.mobaspark.trainer.config;

import java.io.Serializable;
import java.nio.file.Path;

/**
 * The {@code run} section.
 *
 * @param dir     the run folder: checkpoints, metrics.jsonl; a run resumes from it. A local or
 *                POSIX-mounted path (a {@code file:} URI is accepted and stored as its path)
 * @param backend {@code auto | cpu | cuda}
 * @param threads CPU backend worker threads, 0 = all cores (a Spark task: its task cpus)
 * @param ranks   data-parallel ranks, one training task each
 */
public record RunSettings(String dir, String backend, int threads, int ranks)
    implements Serializable {

  /** {@link #dir} as a path. */
  public Path dirPath() {
    return Path.of(dir);
  }
}
