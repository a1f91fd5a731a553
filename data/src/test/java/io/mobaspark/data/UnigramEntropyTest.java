package io.mobaspark.data;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.mobaspark.data.tokenizer.Tokenizers;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class UnigramEntropyTest {

  @Test
  void uniformOverFourSymbolsIsLnFour() {
    assertEquals(Math.log(4), UnigramEntropy.entropy(new long[] {5, 5, 0, 5, 5}), 1e-12);
  }

  @Test
  void singleSymbolHasNoEntropyAndNoCountsGiveZero() {
    assertEquals(0, UnigramEntropy.entropy(new long[] {0, 9, 0}), 0);
    assertEquals(0, UnigramEntropy.entropy(new long[3]), 0);
  }

  @Test
  void countsEveryTokenOfEveryShard(@TempDir Path dir) throws Exception {
    // Bytes "aab" and "b" with EOT after each: a=2, b=2, EOT=2 over two one-token-limit shards.
    CorpusPacker.pack(List.of("aab", "b").iterator(), Tokenizers.byName(Tokenizers.BYTES), dir, 4);
    try (Dataset data = Dataset.open(dir)) {
      assertEquals(2, data.shardCount());
      assertEquals(Math.log(3), UnigramEntropy.nats(data), 1e-12);
    }
  }
}
