package io.mobaspark.kernels.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mobaspark.kernels.AttentionConfig;
import io.mobaspark.kernels.SeqLayout;
import io.mobaspark.kernels.Shape;
import io.mobaspark.kernels.cuda.MobaChecks.Operand;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/** The MoBA launchers' operand checks and launch sizes, which need no GPU. */
class MobaChecksTest {
  /** Sequences of 100 and 200 tokens. */
  private static final SeqLayout LAYOUT = SeqLayout.of(0, 100, 300);
  private static final int SHARED = 227 * 1024;
  private static final AttentionConfig MOBA = AttentionConfig.moba(4, 2, 64, 64, 3);

  private static Operand bf16(String name, int... dims) {
    return new Operand(new Shape(name, dims), DType.BF16);
  }

  private static Operand q() {
    return bf16("q", 300, 4, 64);
  }

  private static Operand kv(String name) {
    return bf16(name, 300, 2, 64);
  }

  private static Operand lse() {
    return new Operand(new Shape("lse", 4, 300), DType.F32);
  }

  private static Shape routing() {
    return new Shape("routing", 4, 300, 3);
  }

  private static MobaGeometry forward(AttentionConfig c, Operand q, Operand lse, Shape routing) {
    return MobaChecks.forward(bf16("out", q.shape().dims()), lse, q, kv("k"), kv("v"), routing, c,
        LAYOUT, SHARED);
  }

  private static String failure(Executable call) {
    return assertThrows(IllegalArgumentException.class, call).getMessage();
  }

  @Test
  void mobaGeometryCountsBlocksAndTilesPerSequence() {
    MobaGeometry g = forward(MOBA, q(), lse(), routing());
    assertEquals(300, g.tokens());
    assertEquals(2 + 4, g.totalBlocks()); // ceil(100/64) + ceil(200/64)
    assertEquals(4, g.maxBlocks());
    assertEquals(2 + 4, g.queryTiles()); // 64-row tiles
    assertEquals(64, g.blockSize());
    assertEquals(3, g.topk());
    assertEquals(4L * 6 * MobaKernelShapes.LIST_TILES, g.histogramCells());
  }

  @Test
  void denseIsOneBlockPerSequenceAndTopkOne() {
    MobaGeometry g = forward(AttentionConfig.dense(4, 2, 64), q(), lse(), null);
    assertEquals(256, g.blockSize()); // the longest sequence (200) rounded up to 128-key tiles
    assertEquals(1, g.topk());
    assertEquals(2, g.totalBlocks());
    assertEquals(MobaKernelShapes.WIDE_KEY_TILE, MobaKernelShapes.keyTile(g.blockSize()));
  }

  @Test
  void headDimBlockSizeAndTopkFollowTheKernels() {
    String dim = failure(() -> MobaChecks.geometry(AttentionConfig.moba(4, 2, 96, 64, 3), LAYOUT,
        SHARED));
    assertTrue(dim.contains("head_dim 96") && dim.contains("64 or 128"), dim);
    String block = failure(() -> forward(AttentionConfig.moba(4, 2, 64, 24, 3), q(), lse(),
        routing()));
    assertTrue(block.contains("block_size 24") && block.contains("multiple of 16"), block);
    String topk = failure(() -> forward(AttentionConfig.moba(4, 2, 64, 64, 65), q(), lse(),
        new Shape("routing", 4, 300, 65)));
    assertTrue(topk.contains("topk 65") && topk.contains("at most 64"), topk);
  }

  @Test
  void topkAboveTheBlockCountIsAllowedAsOnTheCpu() {
    AttentionConfig wide = AttentionConfig.moba(4, 2, 64, 64, 64); // 4 blocks at most
    assertEquals(64, forward(wide, q(), lse(), new Shape("routing", 4, 300, 64)).topk());
  }

  @Test
  void dtypesAreNamed() {
    String lse = failure(() -> forward(MOBA, q(), new Operand(new Shape("lse", 4, 300), DType.BF16),
        routing()));
    assertTrue(lse.contains("tensor lse[4, 300] (attention LSE") && lse.contains("must be f32")
        && lse.contains("got bf16"), lse);
    String q = failure(() -> forward(MOBA, new Operand(new Shape("q", 300, 4, 64), DType.F32),
        lse(), routing()));
    assertTrue(q.contains("tensor q[300, 4, 64] (queries) must be bf16"), q);
    String dv = failure(() -> MobaChecks.backward(bf16("dq", 300, 4, 64), kv("dk"),
        new Operand(new Shape("dv", 300, 2, 64), DType.F32), bf16("dOut", 300, 4, 64), q(), kv("k"),
        kv("v"), bf16("out", 300, 4, 64), lse(), routing(), MOBA, LAYOUT, SHARED));
    assertTrue(dv.contains("tensor dv[300, 2, 64] (value gradient) must be bf16"), dv);
  }

  @Test
  void shapesAreNamed() {
    String gqa = failure(() -> MobaChecks.forward(bf16("out", 300, 4, 64), lse(), q(),
        bf16("k", 300, 3, 64), kv("v"), routing(), MOBA, LAYOUT, SHARED));
    assertTrue(gqa.contains("tensor k has shape [300, 3, 64], expected [300, 2, 64]"), gqa);
    String route = failure(() -> forward(MOBA, q(), lse(), new Shape("routing", 4, 300, 2)));
    assertTrue(route.contains("routing") && route.contains("expected [4, 300, 3]"), route);
    String missing = failure(() -> forward(MOBA, q(), lse(), null));
    assertTrue(missing.contains("needs a routing tensor"), missing);
    String tokens = failure(() -> MobaChecks.forward(bf16("out", 299, 4, 64),
        new Operand(new Shape("lse", 4, 299), DType.F32), bf16("q", 299, 4, 64),
        bf16("k", 299, 2, 64), bf16("v", 299, 2, 64), new Shape("routing", 4, 299, 3), MOBA,
        LAYOUT, SHARED));
    assertTrue(tokens.contains("299 tokens") && tokens.contains("300"), tokens);
  }

  @Test
  void routeNeedsMoba() {
    String route = failure(() -> MobaChecks.route(routing(), q(), kv("k"),
        AttentionConfig.dense(4, 2, 64), LAYOUT, SHARED));
    assertTrue(route.contains("mobaRoute needs MOBA attention, got DENSE"), route);
    String sliding = failure(() -> MobaChecks.route(routing(), q(), kv("k"),
        AttentionConfig.sliding(4, 2, 64, 16), LAYOUT, SHARED));
    assertTrue(sliding.contains("got SLIDING"), sliding);
  }

  @Test
  void slidingWindowHasDenseLayoutAndItsWindowClampedToTheLongestSequence() {
    MobaGeometry g = forward(AttentionConfig.sliding(4, 2, 64, 16), q(), lse(), null);
    assertTrue(g.sliding());
    assertEquals(16, g.window());
    assertEquals(256, g.blockSize()); // the longest sequence, 200, rounded up to the 128-key tile
    assertEquals(1, g.topk());
    assertEquals(2, g.totalBlocks()); // one block per sequence
    assertEquals(2 + 4, g.queryTiles());
    assertEquals(1, MobaSlicing.of(g, LAYOUT, 1).forward().size()); // no partials to bound
    assertEquals(200, forward(AttentionConfig.sliding(4, 2, 64, Integer.MAX_VALUE), q(), lse(), null)
        .window());
    assertEquals(0, forward(AttentionConfig.dense(4, 2, 64), q(), lse(), null).window());
    String routed = failure(() -> forward(AttentionConfig.sliding(4, 2, 64, 16), q(), lse(),
        routing()));
    assertTrue(routed.contains("SLIDING attention takes no routing tensor"), routed);
  }

  @Test
  void listSharedMemoryAndTokenLimitsAreNamed() {
    // 1,000,000 tokens in blocks of 16: 62,500 counters do not fit 227 KiB of shared memory.
    SeqLayout longSeq = SeqLayout.uniform(1, 1_000_000);
    String shared = failure(() -> MobaChecks.geometry(AttentionConfig.moba(1, 1, 64, 16, 4), longSeq,
        SHARED));
    assertTrue(shared.contains("62500 key blocks of 16") && shared.contains("larger block_size"),
        shared);
    String tokens = failure(() -> MobaChecks.geometry(AttentionConfig.moba(1, 1, 64, 512, 4),
        SeqLayout.uniform(1, MobaChecks.MAX_TOKENS), SHARED));
    assertTrue(tokens.contains("T must be below 33554432"), tokens);
  }

  @Test
  void pastKernelKeepsBlocksUpTo128KeysResidentAndFitsTwoCtasPerHopperSm() {
    assertEquals("moba_fwd_past", MobaKernelShapes.pastKernel(128));
    assertEquals("moba_fwd_past_wide", MobaKernelShapes.pastKernel(256));
    assertEquals(1024, MobaKernelShapes.pastItemRows(80));
    assertEquals(MobaKernelShapes.TILE, MobaKernelShapes.pastItemRows(512));
    // PastSmem<128>::bytes: 64 KiB of K and V, 32 KiB of q tiles, 8 KiB of rows and slots; two
    // CTAs (and their 1 KiB reserves) share a Hopper SM's 228 KiB.
    assertEquals(106496, MobaKernelShapes.pastShared(128, 128));
    assertEquals(57344, MobaKernelShapes.pastShared(64, 64));
    assertTrue(2 * (MobaKernelShapes.pastShared(128, 128) + 1024) <= 228 * 1024);
    assertEquals(MobaKernelShapes.forwardShared(64), MobaKernelShapes.pastShared(64, 256));
  }

  @Test
  void routerSharedMemoryFitsAHopperAtTheLargestTopk() {
    assertTrue(MobaKernelShapes.routeShared(128, MobaChecks.MAX_TOPK) <= SHARED);
    assertTrue(MobaKernelShapes.backwardShared(128, MobaKernelShapes.WIDE_KEY_TILE, true) <= SHARED);
  }

  @Test
  void deltaCtasCoverRowsOfD8ThreadsEach() {
    // moba_bwd_delta: grid ceil(T * H * D / 1024) x 128.
    assertEquals(8, MobaKernelShapes.deltaRowsPerCta(128));
    assertEquals(16, MobaKernelShapes.deltaRowsPerCta(64));
    for (int dim : new int[] {64, 128}) {
      assertEquals(MobaKernelShapes.DELTA_THREADS, MobaKernelShapes.deltaRowsPerCta(dim) * dim / 8);
    }
  }

  @Test
  void backwardStagesDqOnlyOnTheWgmmaImageAtTheWideTile() {
    // BwdSmem<128, 128>::bytes and ::bytes_staged_dq (moba_bwd_tile.cuh).
    assertEquals(133376, MobaKernelShapes.backwardShared(128, 128, false));
    assertEquals(167424, MobaKernelShapes.backwardShared(128, 128, true));
    assertEquals(MobaKernelShapes.backwardShared(64, 128, false),
        MobaKernelShapes.backwardShared(64, 128, true));
    assertEquals(MobaKernelShapes.backwardShared(128, 64, false),
        MobaKernelShapes.backwardShared(128, 64, true));
  }

  @Test
  void slidingShapesAtDim64AreTheLabsFastestAndFitThreeCtasPerSm() {
    // moba_window.cu: FwdSmem<64, 64>::bytes (q tile, two stages of 64 keys of K and V, three int
    // rows) and the 64-key backward tile; D = 128 keeps MoBA's 32-key step and 128-key tile.
    assertEquals(64, MobaKernelShapes.windowForwardKeys(64));
    assertEquals(41728, MobaKernelShapes.windowForwardShared(64));
    assertEquals(MobaKernelShapes.forwardShared(128), MobaKernelShapes.windowForwardShared(128));
    assertEquals(MobaKernelShapes.NARROW_KEY_TILE, MobaKernelShapes.windowKeyTile(64));
    assertEquals(MobaKernelShapes.WIDE_KEY_TILE, MobaKernelShapes.windowKeyTile(128));
    assertTrue(3 * (MobaKernelShapes.backwardShared(64, 64, true) + 1024) <= 228 * 1024);
    assertTrue(4 * (MobaKernelShapes.windowForwardShared(64) + 1024) <= 228 * 1024);
  }
}
