package io.mobaspark.trainer.loop;

import io.mobaspark.trainer.checkpoint.CheckpointListener;
import io.mobaspark.trainer.config.RunSettings;
import java.nio.file.Path;

/**
 * The local folder a run writes (config.json, metrics.jsonl, checkpoints) and who hears of each
 * checkpoint. Usually {@code run.dir} itself; where {@code run.dir} is a Hadoop FileSystem URI, the
 * Spark job gives each rank a local staging copy of it and a listener that uploads.
 *
 * @param dir      the folder, local to this process
 * @param listener told of every checkpoint rank 0 publishes in it
 */
public record RunFolder(Path dir, CheckpointListener listener) {
  public RunFolder {
    if (dir == null || listener == null) {
      throw new IllegalArgumentException("a run folder needs a path and a listener");
    }
  }

  /** {@code run.dir} as it is, for a run whose {@code run.dir} is a local path. */
  public static RunFolder of(RunSettings run) {
    return new RunFolder(run.dirPath(), CheckpointListener.NONE);
  }
}
