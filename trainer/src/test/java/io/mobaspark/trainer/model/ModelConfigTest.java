package io.mobaspark.trainer.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import io.mobaspark.kernels.AttentionKind;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ModelConfigTest {

  private static ModelConfig parse(String hocon) {
    return ModelConfig.fromConfig(ConfigFactory.parseString(hocon));
  }

  @Test
  void defaultsDescribeATinyHybrid() {
    ModelConfig c = ModelConfig.defaults();
    assertEquals(List.of(AttentionKind.SLIDING, AttentionKind.MOBA), c.attention());
    assertEquals(Set.of(AttentionKind.DENSE, AttentionKind.SLIDING), c.rope());
    assertTrue(c.tieEmbeddings());
    assertTrue(c.parameterCount() > 100_000 && c.parameterCount() < 5_000_000,
        "default parameter count " + c.parameterCount());
  }

  @Test
  void overridesKeepTheOtherDefaults() {
    ModelConfig c = parse("layers = 5, attention = \"swa,moba\", kconv = 0, d_model = 48");
    assertEquals(5, c.layers());
    assertEquals(48, c.dModel());
    assertEquals(ModelConfig.defaults().heads(), c.heads());
  }

  @Test
  void attentionPatternRepeatsOverLayers() {
    ModelConfig c = parse("layers = 5, attention = \"swa, moba\", kconv = 3");
    assertEquals(AttentionKind.SLIDING, c.attentionKind(0));
    assertEquals(AttentionKind.MOBA, c.attentionKind(1));
    assertEquals(AttentionKind.SLIDING, c.attentionKind(4));
    assertTrue(c.usesRope(0));
    assertFalse(c.usesRope(1), "the paper's MoBA layers have no positional encoding");
    assertTrue(c.usesKeyConv(1));
    assertFalse(c.usesKeyConv(2), "kconv applies to MoBA layers only");
    assertEquals(AttentionKind.MOBA, c.attentionConfig(3).kind());
    assertEquals(c.blockSize(), c.attentionConfig(3).blockSize());
  }

  @Test
  void theCudaProblemNamesTheFirstLayerTheKernelsRefuse() {
    ModelConfig small = parse("layers = 2, attention = \"swa, moba\", heads = 4, kv_heads = 2,"
        + " head_dim = 32, d_model = 128");
    assertTrue(small.cudaProblem().orElseThrow().startsWith("layer 0 (sliding): head_dim 32"),
        small.cudaProblem().toString());
    ModelConfig oddBlock = parse("layers = 2, attention = \"swa, moba\", heads = 2, kv_heads = 2,"
        + " head_dim = 64, d_model = 128, block_size = 40");
    assertTrue(oddBlock.cudaProblem().orElseThrow().startsWith("layer 1 (moba): block_size 40"),
        oddBlock.cudaProblem().toString());
    ModelConfig runnable = parse("layers = 2, attention = \"swa, moba\", heads = 2, kv_heads = 2,"
        + " head_dim = 64, d_model = 128, block_size = 64");
    assertTrue(runnable.cudaProblem().isEmpty(), runnable.cudaProblem().toString());
  }

  @Test
  void ropeCanBeOff() {
    ModelConfig c = parse("rope = none, head_dim = 5, d_model = 20");
    assertTrue(c.rope().isEmpty());
    assertFalse(c.usesRope(0));
  }

  @Test
  void modelWidthMayDifferFromHeadsTimesHeadDim() {
    ModelConfig c = parse("d_model = 40, heads = 4, kv_heads = 2, head_dim = 16");
    assertEquals(64, c.queryDim());
    assertEquals(32, c.keyValueDim());
  }

  @Test
  void mapRoundTrips() {
    ModelConfig c = parse("layers = 3, attention = \"swa,moba,dense\", tie_embeddings = false");
    assertEquals(c, ModelConfig.fromConfig(ConfigFactory.parseMap(c.toMap())));
  }

  @Test
  void unknownKeyIsNamed() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> parse("blok_size = 64"));
    assertTrue(e.getMessage().contains("unknown key model.blok_size"), e.getMessage());
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "block_size = 0                     | model.block_size | 0",
      "topk = 0                           | model.topk       | 0",
      "kconv = 4                          | model.kconv      | 4",
      "heads = 4, kv_heads = 3            | model.kv_heads   | 3",
      "layers = -2                        | model.layers     | -2",
      "window = 0                         | model.window     | 0",
      "norm_eps = 0                       | model.norm_eps   | 0",
      "init_std = -0.1                    | model.init_std   | -0.1",
      "layers = abc                       | model.layers     | abc",
      "tie_embeddings = maybe             | model.tie_embeddings | maybe",
      "attention = \"swa,flash\"          | model.attention  | flash",
      "layers = 1, attention = \"swa,moba\" | model.attention | 2",
      "rope = \"swa,swa\"                 | model.rope       | swa",
      "head_dim = 7                       | model.head_dim   | 7",
  })
  void badValuesNameTheKeyAndValue(String hocon, String key, String value) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> parse(hocon));
    assertTrue(e.getMessage().contains(key), e.getMessage());
    assertTrue(e.getMessage().contains(value), e.getMessage());
  }

  @Test
  void parameterCountAddsKeyConvAndUntiedHead() {
    ModelConfig tied = parse("layers = 4, attention = \"swa,moba\", kconv = 0");
    ModelConfig conv = parse("layers = 4, attention = \"swa,moba\", kconv = 5");
    ModelConfig untied = parse("layers = 4, attention = \"swa,moba\", kconv = 0, "
        + "tie_embeddings = false");
    assertEquals(2L * tied.kvHeads() * 5 * tied.headDim(),
        conv.parameterCount() - tied.parameterCount());
    assertEquals((long) tied.vocabSize() * tied.dModel(),
        untied.parameterCount() - tied.parameterCount());
  }
}
