package io.mobaspark.kernels.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mobaspark.kernels.AttentionConfig;
import io.mobaspark.kernels.SeqLayout;
import org.junit.jupiter.api.Test;

/**
 * The slices of the MoBA forward and backward, which need no GPU: every (head, query tile) and every
 * (KV head, sequence) exactly once, rows and blocks consistent with the layout, each slice within
 * the budget, and the policy's slice counts equal to the kernel lab's at the paper's shape.
 */
class MobaSlicingTest {
  /** Sequences of 300, 1, 517 and 64 tokens (query tiles 5, 1, 9, 1). */
  private static final SeqLayout VARLEN = SeqLayout.of(0, 300, 301, 818, 882);
  private static final AttentionConfig GQA = AttentionConfig.moba(4, 2, 64, 32, 5);

  private static MobaSlicing slices(AttentionConfig config, SeqLayout layout, long budget) {
    MobaSlicing slicing = MobaSlicing.of(config, layout, budget);
    assertCoversOnce(MobaGeometry.of(config, layout), layout, slicing);
    return slicing;
  }

  /** Each (head, query tile) and (KV head, sequence) in exactly one slice, with matching rows. */
  private static void assertCoversOnce(MobaGeometry g, SeqLayout layout, MobaSlicing slicing) {
    int[] cu = layout.cuSeqlens();
    int[] tiles = DeviceLayout.blockOffsets(layout, MobaKernelShapes.TILE);
    int[] blocks = DeviceLayout.blockOffsets(layout, g.blockSize());
    int[][] forward = new int[g.heads()][g.queryTiles()];
    for (MobaSlicing.Forward f : slicing.forward()) {
      assertTrue(f.hn() >= 1 && f.q1() > f.q0(), f.toString());
      assertEquals(tileStart(f.q0(), cu, tiles), f.ta(), "first row of " + f);
      assertEquals(tileStart(f.q1(), cu, tiles), f.tb(), "row after " + f);
      for (int h = f.h0(); h < f.h0() + f.hn(); h++) {
        for (int q = f.q0(); q < f.q1(); q++) {
          forward[h][q]++;
        }
      }
    }
    assertAllOnce(forward, "forward slices per (head, query tile)");
    int[][] backward = new int[g.kvHeads()][layout.sequences()];
    for (MobaSlicing.Backward b : slicing.backward()) {
      assertTrue(b.gn() >= 1 && b.s1() > b.s0(), b.toString());
      assertEquals(cu[b.s0()], b.ta(), "first row of " + b);
      assertEquals(cu[b.s1()], b.tb(), "row after " + b);
      assertEquals(blocks[b.s0()], b.b0(), "first block of " + b);
      assertEquals(blocks[b.s1()], b.b1(), "block after " + b);
      for (int kv = b.g0(); kv < b.g0() + b.gn(); kv++) {
        for (int s = b.s0(); s < b.s1(); s++) {
          backward[kv][s]++;
        }
      }
    }
    assertAllOnce(backward, "backward slices per (KV head, sequence)");
  }

  private static void assertAllOnce(int[][] counts, String what) {
    for (int[] row : counts) {
      for (int count : row) {
        assertEquals(1, count, what);
      }
    }
  }

  /** First row of global query tile {@code q}; the token count for {@code q} = all tiles. */
  private static int tileStart(int q, int[] cu, int[] tiles) {
    int s = 0;
    while (s < cu.length - 1 && tiles[s + 1] <= q) {
      s++;
    }
    return s == cu.length - 1 ? cu[s] : cu[s] + (q - tiles[s]) * MobaKernelShapes.TILE;
  }

  @Test
  void policyBudgetIsFourPercentOfQkvAtLeast512MiB() {
    AttentionConfig paper = AttentionConfig.moba(16, 16, 128, 128, 8);
    // 64K x 2: q, k, v 1.5 GiB, 4% is 61 MiB, so the floor holds.
    assertEquals(512L << 20, MobaSlicing.budget(paper, SeqLayout.uniform(2, 65536)));
    // 512K x 2: q, k, v 12 GiB, 4% is 491.5 MiB < 512; at 1M x 2, 983 MiB.
    assertEquals(512L << 20, MobaSlicing.budget(paper, SeqLayout.uniform(2, 524288)));
    long qkv = 2L * 2 * 1048576 * 48 * 128;
    assertEquals(qkv / 25, MobaSlicing.budget(paper, SeqLayout.uniform(2, 1048576)));
  }

  @Test
  void paperShapeSlicesAsTheKernelLab() {
    // docs/perf/moba.md: 8/2 slices at 64K, 64/16 at 512K (batch 2, H 16, D 128, B 128, k 8).
    AttentionConfig paper = AttentionConfig.moba(16, 16, 128, 128, 8);
    SeqLayout n64k = SeqLayout.uniform(2, 65536);
    MobaSlicing at64k = slices(paper, n64k, MobaSlicing.budget(paper, n64k));
    assertEquals(8, at64k.forward().size());
    assertEquals(2, at64k.backward().size());
    SeqLayout n512k = SeqLayout.uniform(2, 524288);
    MobaSlicing at512k = slices(paper, n512k, MobaSlicing.budget(paper, n512k));
    assertEquals(64, at512k.forward().size());
    assertEquals(16, at512k.backward().size());
    long budget = 512L << 20;
    assertTrue(at512k.forwardBytes() <= budget && at512k.backwardBytes() <= budget);
  }

  @Test
  void everySliceFitsTheBudget() {
    MobaGeometry g = MobaGeometry.of(GQA, VARLEN);
    long perRow = MobaSlicing.partialBytesPerRow(g);
    // Everything, two heads, 3 query tiles of one head, one tile of one head.
    for (long units : new long[] {882L * 4, 882L * 2, 3 * 64, 64}) {
      long budget = units * perRow;
      MobaSlicing slicing = slices(GQA, VARLEN, budget);
      assertTrue(slicing.forwardBytes() <= budget, slicing.forwardBytes() + " > " + budget);
      for (MobaSlicing.Backward b : slicing.backward()) {
        long bytes = (long) (b.tb() - b.ta()) * b.gn() * 2 * 4 * 64;
        boolean oneSequence = b.gn() == 1 && b.s1() == b.s0() + 1;
        assertTrue(bytes <= budget || oneSequence, b + " needs " + bytes + " > " + budget);
      }
    }
  }

  @Test
  void cutsHeadsThenTilesThenSequences() {
    MobaGeometry g = MobaGeometry.of(GQA, VARLEN);
    long perRow = MobaSlicing.partialBytesPerRow(g);
    MobaSlicing all = slices(GQA, VARLEN, 882L * 4 * perRow);
    assertEquals(1, all.forward().size());
    assertEquals(1, all.backward().size());
    assertEquals(2, slices(GQA, VARLEN, 882L * 2 * perRow).forward().size());
    // One head at a time, 3 tiles per slice over 16 tiles: 6 slices per head.
    assertEquals(4 * 6, slices(GQA, VARLEN, 3L * 64 * perRow).forward().size());
    // dq_acc per row of one KV head's group: 2 heads x 64 x 4 bytes = 512. With room for 520 rows
    // the sequences {300, 1}, {517}, {64} make a slice each per KV head (517 + 64 rows do not fit).
    MobaSlicing bySequence = slices(GQA, VARLEN, 520L * 512);
    assertEquals(2 * 3, bySequence.backward().size());
    assertEquals(882 * 512, slices(GQA, VARLEN, 882L * 512).backwardBytes());
    assertEquals(2, slices(GQA, VARLEN, 882L * 512).backward().size());
  }

  @Test
  void degenerateSizes() {
    // N = 1, one head: a 1-row tile, one slice each way whatever the budget.
    AttentionConfig oneHead = AttentionConfig.moba(1, 1, 64, 64, 4);
    MobaSlicing n1 = slices(oneHead, SeqLayout.of(0, 1), 1);
    assertEquals(1, n1.forward().size());
    assertEquals(new MobaSlicing.Forward(0, 1, 0, 1, 0, 1), n1.forward().get(0));
    assertEquals(1, n1.backward().size());
    // topk = 1 has no partials: one forward slice, no arena for it, the backward still cut.
    AttentionConfig own = AttentionConfig.moba(2, 1, 64, 64, 1);
    MobaSlicing k1 = slices(own, SeqLayout.of(0, 500), 1);
    assertEquals(1, k1.forward().size());
    assertEquals(0, k1.forwardBytes());
    assertEquals(1, k1.backward().size()); // one KV head, one sequence: cannot be cut further
    // DENSE: one block per sequence, topk = 1.
    AttentionConfig dense = AttentionConfig.dense(2, 1, 128);
    MobaSlicing d = slices(dense, SeqLayout.of(0, 1, 200, 977), 1000);
    assertEquals(1, d.forward().size());
    assertEquals(3, d.backward().size());
  }

  @Test
  void rejectsANonPositiveBudget() {
    assertThrows(IllegalArgumentException.class, () -> MobaSlicing.of(GQA, VARLEN, 0));
  }
}
