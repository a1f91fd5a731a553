package io.mobaspark.jobs.pretrain;

import io.mobaspark.kernels.Backend;
import io.mobaspark.trainer.config.PretrainConfig;
import io.mobaspark.trainer.exchange.ExchangeSpec;
import io.mobaspark.trainer.exchange.GradientExchange;
import io.mobaspark.trainer.exchange.GradientExchanges;
import io.mobaspark.trainer.loop.PretrainRun;
import io.mobaspark.trainer.loop.RunFolder;
import io.mobaspark.trainer.loop.TrainSummary;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.util.SerializableConfiguration;

/**
 * What each task of the training stage runs: build the backend on the task's GPU, join the
 * exchange with it (the ring's rendezvous is the stage's one all-gather; GPU ranks of kind {@code
 * shared} average in device memory, docs/exchange.md), and train this rank to
 * {@code train.max_steps}, resuming from the run folder's latest checkpoint. The console is the
 * executor's standard output; rank 0's progress reaches the driver through metrics.jsonl.
 *
 * <p>Where {@code run.dir} is a Hadoop FileSystem URI, the rank trains in a local staging copy of
 * it ({@link StagedRunDir}), made before the backend and the exchange, so that a slow download
 * holds neither a GPU nor a peer's connection.
 *
 * @param hadoopConf the driver's Hadoop configuration where {@code run.dir} is a Hadoop FileSystem
 *                   URI, else null
 */
record RankTraining(PretrainConfig config, ExchangeSpec spec, int threads,
    Broadcast<SerializableConfiguration> hadoopConf)
    implements BarrierStage.RankBody<TrainSummary> {

  /**
   * @param threads the CPU backend's threads per rank; 0: the task's cores ({@code spark.task.cpus})
   */
  RankTraining {
    if (threads < 0) {
      throw new IllegalArgumentException("threads must be >= 0, got " + threads);
    }
    if (config.run().remoteDir() && hadoopConf == null) {
      throw new IllegalArgumentException("run.dir = " + config.run().dir() + " is a Hadoop "
          + "FileSystem URI: the tasks need the driver's Hadoop configuration");
    }
  }

  @Override
  public TrainSummary run(RankContext rank) {
    if (rank.worldSize() != spec.worldSize()) {
      throw new IllegalStateException("the training stage has " + rank.worldSize()
          + " tasks but the exchange expects " + spec.worldSize() + " ranks");
    }
    if (!config.run().remoteDir()) {
      return train(rank, RunFolder.of(config.run()));
    }
    RemoteRunDir remote = RemoteRunDir.open(config.run().dir(), hadoopConf.value().value());
    try (StagedRunDir staged = StagedRunDir.stage(remote, rank.rank(),
        config.train().keepCheckpoints(), System.out)) {
      return staged.train(folder -> train(rank, folder));
    }
  }

  private TrainSummary train(RankContext rank, RunFolder folder) {
    int workers = threads > 0 ? threads : Math.max(1, rank.cpus());
    try (Backend backend = RankBackends.create(config.run().backend(), rank.gpu(), workers,
            config.model().cudaProblem());
        GradientExchange exchange = GradientExchanges.open(spec, rank.rank(), rank.host(),
            rank::allGather, backend)) {
      return PretrainRun.run(config, backend, System.out, config.train().maxSteps(), exchange,
          folder);
    }
  }
}
