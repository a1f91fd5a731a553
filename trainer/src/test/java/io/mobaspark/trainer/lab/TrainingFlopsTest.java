package io.mobaspark.trainer.lab;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.typesafe.config.ConfigFactory;
import io.mobaspark.kernels.AttentionKind;
import io.mobaspark.kernels.SeqLayout;
import io.mobaspark.trainer.model.ModelConfig;
import org.junit.jupiter.api.Test;

class TrainingFlopsTest {

  @Test
  void matmulFlopsAreSixPerWeightWithTheLmHead() {
    ModelConfig c = ModelConfig.fromConfig(ConfigFactory.parseString(
        "vocab_size = 10, d_model = 4, layers = 2, heads = 3, kv_heads = 1, head_dim = 2, ffn = 5"));
    // per layer: wq, wo 4x6; wk, wv 4x2; gate, up, down 4x5 -> 48 + 16 + 60 = 124; lm_head 40.
    assertEquals(6 * (2 * 124 + 40), TrainingFlops.matmulFlopsPerToken(c));
  }

  @Test
  void denseAndSlidingPairsAreCausalPerSequence() {
    SeqLayout layout = SeqLayout.of(0, 5, 6); // sequences of 5 and 1 tokens
    assertEquals(15 + 1, TrainingFlops.densePairs(AttentionKind.DENSE, 0, layout));
    assertEquals((1 + 2 + 2 + 2 + 2) + 1, TrainingFlops.densePairs(AttentionKind.SLIDING, 2, layout));
    assertThrows(IllegalArgumentException.class,
        () -> TrainingFlops.densePairs(AttentionKind.MOBA, 0, layout));
  }

  @Test
  void mobaPairsCountTheCausalKeysOfTheSelectedBlocks() {
    // One sequence of 5 tokens, blocks of 2 (0-1, 2-3, 4), one head, top-2.
    SeqLayout layout = SeqLayout.of(0, 5);
    int[] routing = {
        0, -1, // t0: own block 0 -> key 0
        0, -1, // t1: keys 0, 1
        0, 1, // t2: block 0 (2 keys) + own block up to t2 (1 key)
        1, -1, // t3: own block keys 2, 3
        0, 2}; // t4: block 0 (2) + own block (1)
    assertEquals(1 + 2 + 3 + 2 + 3, TrainingFlops.mobaPairs(routing, 1, 2, 2, layout));
    assertThrows(IllegalArgumentException.class,
        () -> TrainingFlops.mobaPairs(new int[3], 1, 2, 2, layout));
  }
}
