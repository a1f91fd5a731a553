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

  /**
   * The overrides of a tiny hybrid model (sliding window + MoBA with kconv) on byte tokens: batch 4
   * of 32 tokens, 8 steps, eval and checkpoint every 4, on {@code data}/train and {@code data}/val.
   * Mutable, for a test to add its own.
   */
  public static Map<String, String> hybridOnBytes(Path data, Path runDir) {
    Map<String, String> o = new HashMap<>();
    o.put("model.vocab_size", "257");
    o.put("model.d_model", "32");
    o.put("model.layers", "2");
    o.put("model.heads", "2");
    o.put("model.kv_heads", "1");
    o.put("model.head_dim", "16");
    o.put("model.ffn", "64");
    o.put("model.window", "8");
    o.put("model.block_size", "8");
    o.put("model.topk", "2");
    o.put("train.batch_size", "4");
    o.put("train.seq_len", "32");
    o.put("train.lr", "1e-2");
    o.put("train.min_lr", "1e-3");
    o.put("train.warmup_steps", "2");
    o.put("train.max_steps", "8");
    o.put("train.eval_every", "4");
    o.put("train.eval_batches", "2");
    o.put("train.checkpoint_every", "4");
    o.put("data.train", data.resolve("train").toString());
    o.put("data.val", data.resolve("val").toString());
    o.put("run.dir", runDir.toString());
    return o;
  }
}
