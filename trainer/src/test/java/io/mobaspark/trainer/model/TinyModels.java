package io.mobaspark.trainer.model;

import com.typesafe.config.ConfigFactory;
import io.mobaspark.kernels.SeqLayout;

/** Small configurations and batches shared by the model tests. */
final class TinyModels {
  private TinyModels() {}

  /**
   * Every feature at once, tiny: three layers (swa, moba, dense), GQA (4 query heads on 2 KV heads),
   * H*D = 16 != C = 12, kconv 3 on the MoBA layer, blocks of 2 with top-2 so routing really chooses.
   */
  static ModelConfig everyFeature(boolean tied) {
    return ModelConfig.fromConfig(ConfigFactory.parseString(
        "vocab_size = 11, d_model = 12, layers = 3, heads = 4, kv_heads = 2, head_dim = 4, "
            + "ffn = 20, attention = \"swa,moba,dense\", window = 3, block_size = 2, topk = 2, "
            + "kconv = 3, rope = \"dense,swa\", tie_embeddings = " + tied));
  }

  /** Three documents of 7, 1 and 9 tokens packed into one micro-batch. */
  static SeqLayout varlenLayout() {
    return SeqLayout.of(0, 7, 8, 17);
  }

  static int[] inputs(int tokens, int vocab, long seed) {
    java.util.SplittableRandom r = new java.util.SplittableRandom(seed);
    int[] out = new int[tokens];
    for (int t = 0; t < tokens; t++) {
      out[t] = r.nextInt(vocab);
    }
    return out;
  }

  /** Next-token targets inside each document; the last token of a document is not counted. */
  static int[] nextTokenTargets(int[] inputs, SeqLayout layout) {
    int[] targets = new int[inputs.length];
    for (int s = 0; s < layout.sequences(); s++) {
      for (int t = layout.start(s); t < layout.end(s); t++) {
        targets[t] = t + 1 < layout.end(s) ? inputs[t + 1] : -1;
      }
    }
    return targets;
  }
}
