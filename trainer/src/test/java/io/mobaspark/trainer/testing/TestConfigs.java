package io.mobaspark.trainer.testing;

import io.mobaspark.trainer.config.PretrainConfig;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/** Small run configs for tests. */
public final class TestConfigs {
  private TestConfigs() {}

  /**
   * A tiny run in {@code runDir}: batch 2 of 8 tokens, 12 steps, eval every 4, checkpoint every 3;
   * {@code extra} overrides any of it.
   */
  public static PretrainConfig tiny(Path runDir, Map<String, String> extra) {
    Map<String, String> overrides = new HashMap<>();
    overrides.put("train.batch_size", "2");
    overrides.put("train.seq_len", "8");
    overrides.put("train.max_steps", "12");
    overrides.put("train.warmup_steps", "2");
    overrides.put("train.lr", "0.05");
    overrides.put("train.min_lr", "0.005");
    overrides.put("train.eval_every", "4");
    overrides.put("train.eval_batches", "2");
    overrides.put("train.checkpoint_every", "3");
    overrides.put("train.log_every", "2");
    overrides.put("run.dir", runDir.toString());
    overrides.putAll(extra);
    return PretrainConfig.load(null, overrides);
  }
}
