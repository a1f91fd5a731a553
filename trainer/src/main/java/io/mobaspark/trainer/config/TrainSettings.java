package io.mobaspark.trainer.config;

import java.io.Serializable;

/**
 * The validated {@code train} section of a run's config (defaults and meanings:
 * {@code mobaspark-defaults.conf}, docs/training.md).
 *
 * @param batchSize       sequences per micro-batch on each rank
 * @param seqLen          tokens per sequence; a sampled window holds {@code seqLen + 1} tokens
 * @param gradAccum       micro-batches averaged into one optimizer step
 * @param maxMinutes      training wall time after which the run stops early (evaluating and
 *                        checkpointing at that step), summed over resumed segments; 0 = no bound
 * @param docMasking      split attention after each end-of-text token inside a window
 * @param activationCheckpointing recompute each block in the backward instead of keeping its
 *                        activations (Model's activation checkpointing)
 * @param keepCheckpoints how many of the newest checkpoints to keep
 */
public record TrainSettings(
    int batchSize,
    int seqLen,
    int gradAccum,
    double lr,
    double minLr,
    int warmupSteps,
    int maxSteps,
    double maxMinutes,
    double weightDecay,
    double beta1,
    double beta2,
    double eps,
    double gradClip,
    long seed,
    boolean docMasking,
    boolean activationCheckpointing,
    int evalEvery,
    int evalBatches,
    int checkpointEvery,
    int keepCheckpoints,
    int logEvery)
    implements Serializable {

  /** Tokens one sampled window holds: the inputs plus the one extra target at the end. */
  public int windowTokens() {
    return seqLen + 1;
  }

  /** Target tokens one optimizer step trains on, per rank. */
  public long tokensPerStep() {
    return (long) batchSize * seqLen * gradAccum;
  }
}
