package io.mobaspark.trainer.config;

import java.io.Serializable;

/**
 * The {@code run} section.
 *
 * @param dir     the run folder: checkpoints, metrics.jsonl; a run resumes from it
 * @param backend {@code auto | cpu | cuda}
 * @param threads CPU backend worker threads, 0 = all cores
 */
public record RunSettings(String dir, String backend, int threads) implements Serializable {}
