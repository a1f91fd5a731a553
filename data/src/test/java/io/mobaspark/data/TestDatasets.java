package io.mobaspark.data;

import io.mobaspark.data.shard.Manifest;
import io.mobaspark.data.shard.ShardInfo;
import io.mobaspark.data.shard.ShardWriter;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Synthetic datasets whose every token is its own position, so a test can tell where it came from. */
final class TestDatasets {
  /** Large enough that positions never repeat in a test; int32 shards. */
  static final int POSITION_VOCAB = 1 << 24;

  private TestDatasets() {}

  /** Shards of the given sizes holding tokens 0, 1, 2, ... across the whole dataset. */
  static Path positions(Path dir, int... shardSizes) throws IOException {
    List<ShardInfo> shards = new ArrayList<>();
    int next = 0;
    for (int s = 0; s < shardSizes.length; s++) {
      int[] tokens = new int[shardSizes[s]];
      for (int i = 0; i < tokens.length; i++) {
        tokens[i] = next++;
      }
      // Batches of 64 so that windows cross batch edges as well as shard edges.
      try (ShardWriter w = ShardWriter.create(dir, CorpusPacker.shardFileName("shard", s),
          POSITION_VOCAB, POSITION_VOCAB - 1, 64)) {
        w.write(tokens);
        shards.add(w.finish());
      }
    }
    Manifest.of("positions", POSITION_VOCAB, POSITION_VOCAB - 1, shards)
        .write(dir.resolve(Manifest.FILE_NAME));
    return dir;
  }
}
