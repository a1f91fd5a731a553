package io.mobaspark.trainer.checkpoint;

/**
 * Told of each checkpoint the training loop has published (rank 0 only, after the newest
 * {@code train.keep_checkpoints} were kept): the Spark job mirrors a local staging folder to a
 * Hadoop FileSystem run folder this way, without the trainer knowing Hadoop. It runs on the training
 * thread while the other ranks wait in the next step's exchange, so {@code exchange.timeout} must
 * cover it; an exception ends the run as a failed checkpoint write would.
 */
@FunctionalInterface
public interface CheckpointListener {
  /** Does nothing: the run folder is the place the checkpoints belong. */
  CheckpointListener NONE = checkpoint -> { };

  void saved(CheckpointStore.Checkpoint checkpoint);
}
