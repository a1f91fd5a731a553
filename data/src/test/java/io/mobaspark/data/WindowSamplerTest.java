package io.mobaspark.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

class WindowSamplerTest {
  /** Uneven shard sizes: windows straddle shard and record-batch edges. */
  private static final int[] SHARD_SIZES = {1000, 777, 1500, 333, 1203, 900};
  private static final int TOTAL = Arrays.stream(SHARD_SIZES).sum();
  private static final int WINDOW = 65;
  private static final int BATCH = 4;

  @TempDir static Path dir;
  private static Dataset dataset;

  @BeforeAll
  static void writeDataset() throws IOException {
    dataset = Dataset.open(TestDatasets.positions(dir, SHARD_SIZES));
  }

  @AfterAll
  static void closeDataset() {
    dataset.close();
  }

  private static WindowSampler sampler(long seed, int rank, int worldSize) {
    return new WindowSampler(dataset, WINDOW, BATCH, seed, rank, worldSize);
  }

  @Test
  void windowsAreContiguousRunsOfTheStream() {
    WindowSampler s = sampler(1, 0, 1);
    assertEquals(BATCH, s.batchSize());
    assertEquals(WINDOW, s.windowTokens());
    int[] batch = s.next();
    assertEquals(BATCH * WINDOW, batch.length);
    for (int b = 0; b < BATCH; b++) {
      for (int t = 1; t < WINDOW; t++) {
        assertEquals(batch[b * WINDOW] + t, batch[b * WINDOW + t], "window " + b);
      }
    }
    assertEquals(BATCH, s.cursor());
  }

  @Test
  void sameArgumentsSameStreamOtherSeedOtherStream() {
    WindowSampler a = sampler(7, 0, 1);
    WindowSampler b = sampler(7, 0, 1);
    WindowSampler c = sampler(8, 0, 1);
    boolean anyDifference = false;
    for (int step = 0; step < 200; step++) {
      int[] x = a.next();
      assertArrayEquals(x, b.next(), "step " + step);
      anyDifference |= !Arrays.equals(x, c.next());
    }
    assertTrue(anyDifference, "seed 8 gave the same 200 batches as seed 7");
  }

  @Test
  void anEpochCoversDisjointWindowsThenReshuffles() {
    WindowSampler s = sampler(3, 0, 1);
    long perEpoch = s.windowsPerEpoch();
    assertEquals(TOTAL / WINDOW, perEpoch);
    List<Integer> epoch0 = windowStarts(3, 0, perEpoch);
    List<Integer> epoch1 = windowStarts(3, perEpoch, perEpoch);
    assertDisjointWindows(epoch0);
    assertDisjointWindows(epoch1);
    assertFalse(epoch0.equals(epoch1), "epoch 1 repeated epoch 0's order");
  }

  /** Starts of rank 0 of 1's windows {@code [from, from+count)}, read one at a time by seek. */
  private static List<Integer> windowStarts(long seed, long from, long count) {
    WindowSampler one = new WindowSampler(dataset, WINDOW, 1, seed, 0, 1);
    List<Integer> starts = new ArrayList<>();
    for (long c = from; c < from + count; c++) {
      one.seek(c);
      starts.add(one.next()[0]);
    }
    return starts;
  }

  private static void assertDisjointWindows(List<Integer> starts) {
    BitSet covered = new BitSet();
    for (int start : starts) {
      assertTrue(start >= 0 && start + WINDOW <= TOTAL, "window at " + start);
      for (int t = start; t < start + WINDOW; t++) {
        assertFalse(covered.get(t), "token " + t + " in two windows of one epoch");
        covered.set(t);
      }
    }
  }

  @Test
  void batchesRunOnAcrossEpochEnds() {
    WindowSampler s = sampler(5, 0, 1);
    long perEpoch = s.windowsPerEpoch();
    assertTrue(perEpoch % BATCH != 0, "the test needs a batch that straddles two epochs");
    long steps = perEpoch * 3 / BATCH + 1;
    for (long i = 0; i < steps; i++) {
      s.next();
    }
    assertEquals(steps * BATCH, s.cursor());
    assertEquals(3, s.epoch());
    // The straddling batch: its windows are windows perEpoch-1 .. perEpoch+1 of the stream.
    long straddle = perEpoch - 1;
    s.seek(straddle);
    int[] batch = s.next();
    List<Integer> expected = windowStarts(5, straddle, BATCH);
    for (int b = 0; b < BATCH; b++) {
      assertEquals(expected.get(b), batch[b * WINDOW]);
    }
  }

  @Test
  void seekResumesExactly() {
    WindowSampler original = sampler(11, 1, 2);
    List<int[]> batches = new ArrayList<>();
    List<Long> cursors = new ArrayList<>();
    for (int step = 0; step < 40; step++) {
      cursors.add(original.cursor());
      batches.add(original.next());
    }
    WindowSampler resumed = sampler(11, 1, 2);
    for (int step : new int[] {17, 3, 39, 0, 25}) {
      resumed.seek(cursors.get(step));
      for (int k = step; k < Math.min(step + 5, batches.size()); k++) {
        assertArrayEquals(batches.get(k), resumed.next(), "resumed at step " + step + ", step " + k);
      }
    }
    assertThrows(IllegalArgumentException.class, () -> resumed.seek(-1));
  }

  @Test
  void ranksReadDisjointShards() {
    int worldSize = 3;
    int[] shardOfToken = new int[TOTAL];
    for (int s = 0, pos = 0; s < SHARD_SIZES.length; pos += SHARD_SIZES[s++]) {
      Arrays.fill(shardOfToken, pos, pos + SHARD_SIZES[s], s);
    }
    BitSet[] seen = new BitSet[worldSize];
    for (int rank = 0; rank < worldSize; rank++) {
      seen[rank] = new BitSet();
      WindowSampler s = sampler(9, rank, worldSize);
      for (long step = 0; step < 2 * s.windowsPerEpoch() / BATCH; step++) {
        for (int token : s.next()) {
          assertEquals(rank, shardOfToken[token] % worldSize,
              "rank " + rank + " read token " + token + " of shard " + shardOfToken[token]);
          seen[rank].set(token);
        }
      }
    }
    for (int a = 0; a < worldSize; a++) {
      for (int b = a + 1; b < worldSize; b++) {
        assertFalse(seen[a].intersects(seen[b]), "ranks " + a + " and " + b + " share tokens");
      }
    }
  }

  @Test
  void tooFewShardsForTheRanks() {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> sampler(1, 0, 7));
    assertTrue(e.getMessage().contains("6 shards") && e.getMessage().contains("worldSize 7"),
        e.getMessage());
  }

  @Test
  void datasetSmallerThanOneWindow() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new WindowSampler(dataset, TOTAL + 1, 1, 1, 0, 1));
    assertTrue(e.getMessage().contains("windowTokens " + (TOTAL + 1)), e.getMessage());
    // A window exactly the size of the rank's stream works, with one window per epoch.
    WindowSampler exact = new WindowSampler(dataset, TOTAL, 1, 1, 0, 1);
    assertEquals(1, exact.windowsPerEpoch());
    assertEquals(0, exact.next()[0]);
  }

  @Test
  void rejectsBadArgumentsNamingThem() {
    assertMessage("windowTokens", () -> new WindowSampler(dataset, 1, 1, 1, 0, 1));
    assertMessage("batchSize", () -> new WindowSampler(dataset, WINDOW, 0, 1, 0, 1));
    assertMessage("rank", () -> new WindowSampler(dataset, WINDOW, 1, 1, 2, 2));
    assertMessage("worldSize", () -> new WindowSampler(dataset, WINDOW, 1, 1, 0, 0));
    assertMessage("dataset", () -> new WindowSampler(null, WINDOW, 1, 1, 0, 1));
  }

  private static void assertMessage(String name, Executable call) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
    assertTrue(e.getMessage().contains(name), e.getMessage());
  }
}
