package io.mobaspark.kernels.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mobaspark.kernels.Shape;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * The pointwise ops' launchers check shapes, dtypes and values before any device call, so these run
 * without a GPU; so does the check that the build exported every kernel the launchers name.
 */
class PointwiseValidationTest {
  private static final DType BF16 = DType.BF16;
  private static final DType F32 = DType.F32;

  private static String failure(Executable check) {
    return assertThrows(IllegalArgumentException.class, check).getMessage();
  }

  private static void assertMentions(String message, String... parts) {
    for (String part : parts) {
      assertTrue(message.contains(part), "'" + part + "' missing from: " + message);
    }
  }

  @Test
  void embeddingChecksRowsAndTheGradientDtype() {
    Shape table = new Shape("table", 97, 64);
    assertEquals(3, EmbeddingCuda.check(new Shape("out", 3, 64), new Shape("tokens", 3), table));
    assertMentions(failure(() -> EmbeddingCuda.check(new Shape("out", 3, 32), new Shape("tokens", 3),
        table)), "tensor out has shape [3, 32], expected [3, 64]");
    assertMentions(failure(() -> EmbeddingCuda.check(new Shape("out", 3, 64), new Shape("tokens", 3),
        new Shape("table", 97, 64, 1))), "table[97, 64, 1]", "rank 2");
    assertMentions(failure(() -> EmbeddingCuda.checkBackward(new Shape("dTable", 97, 64), BF16,
        new Shape("dOut", 3, 64), new Shape("tokens", 3))),
        "tensor dTable[97, 64] (embedding dTable, accumulated) must be f32", "got bf16");
  }

  @Test
  void rmsNormChecksShapesDtypesAndEps() {
    Shape x = new Shape("x", 5, 768);
    assertArrayEquals(new int[] {5, 768}, RmsNormCuda.checkForward(new Shape("out", 5, 768), BF16,
        new Shape("rstd", 5), F32, x, BF16, new Shape("w", 768), 1e-5));
    assertMentions(failure(() -> RmsNormCuda.checkForward(new Shape("out", 5, 768), BF16,
        new Shape("rstd", 5), F32, x, BF16, new Shape("w", 768), 0)), "eps must be positive, got 0");
    assertMentions(failure(() -> RmsNormCuda.checkForward(new Shape("out", 5, 768), BF16,
        new Shape("rstd", 5), BF16, x, BF16, new Shape("w", 768), 1e-5)), "rstd[5] (RMSNorm rstd) must be f32");
    assertMentions(failure(() -> RmsNormCuda.checkForward(new Shape("out", 5, 768), F32,
        new Shape("rstd", 5), F32, x, BF16, new Shape("w", 768), 1e-5)),
        "out[5, 768] (RMSNorm output) must have the dtype of x[5, 768] (bf16)", "got f32");
    assertMentions(failure(() -> RmsNormCuda.checkForward(new Shape("out", 5, 768), BF16,
        new Shape("rstd", 4), F32, x, BF16, new Shape("w", 768), 1e-5)), "rstd has shape [4], expected [5]");
    Shape wide = new Shape("x", 2, RmsNormCuda.MAX_CHANNELS + 1);
    assertMentions(failure(() -> RmsNormCuda.checkForward(wide, BF16, new Shape("rstd", 2), F32, wide,
        BF16, new Shape("w", RmsNormCuda.MAX_CHANNELS + 1), 1e-5)), "at most " + RmsNormCuda.MAX_CHANNELS);
    assertMentions(failure(() -> RmsNormCuda.checkBackward(new Shape("dx", 5, 768), BF16,
        new Shape("dWeight", 768), BF16, new Shape("dOut", 5, 768), BF16, x, BF16, new Shape("w", 768),
        new Shape("rstd", 5), F32)), "dWeight[768] (RMSNorm dWeight, accumulated) must be f32");
    assertMentions(failure(() -> RmsNormCuda.checkBackward(new Shape("dx", 5, 768), F32,
        new Shape("dWeight", 768), F32, new Shape("dOut", 5, 768), BF16, x, BF16, new Shape("w", 768),
        new Shape("rstd", 5), F32)), "dx[5, 768] (RMSNorm dx, accumulated) must have the dtype of x");
  }

  @Test
  void rmsNormBackwardGridDependsOnTheShapeAlone() {
    assertEquals(RmsNormCuda.WARPS, RmsNormCuda.backwardWarps(768));
    assertEquals(3, RmsNormCuda.backwardWarps(4096));
    assertEquals(1, RmsNormCuda.backwardWarps(RmsNormCuda.MAX_CHANNELS));
    assertEquals(1, RmsNormCuda.backwardBlocks(1, 768));
    assertEquals(15, RmsNormCuda.backwardBlocks(113, 768));
    assertEquals(RmsNormCuda.MAX_BLOCKS, RmsNormCuda.backwardBlocks(65536, 768));
  }

  @Test
  void ropeChecksHeadDimThetaAndDtypes() {
    Shape q = new Shape("q", 4, 2, 64);
    assertArrayEquals(new int[] {4, 64}, RopeCuda.check(q, BF16, q, BF16, new Shape("pos", 4), 2, 1e4));
    Shape odd = new Shape("q", 4, 2, 63);
    assertMentions(failure(() -> RopeCuda.check(odd, BF16, odd, BF16, new Shape("pos", 4), 2, 1e4)),
        "even head dim", "q[4, 2, 63]");
    assertMentions(failure(() -> RopeCuda.check(q, BF16, q, BF16, new Shape("pos", 4), 2, 0)),
        "theta must be positive and finite, got 0");
    assertMentions(failure(() -> RopeCuda.check(q, BF16, q, BF16, new Shape("pos", 4), 3, 1e4)),
        "tensor q has shape [4, 2, 64], expected [4, 3, 64]");
    assertMentions(failure(() -> RopeCuda.check(new Shape("out", 4, 2, 64), F32, q, BF16,
        new Shape("pos", 4), 2, 1e4)), "out[4, 2, 64] (RoPE output) must have the dtype of q[4, 2, 64]");
    assertMentions(failure(() -> RopeCuda.check(q, BF16, q, BF16, new Shape("pos", 5), 2, 1e4)),
        "tensor pos has shape [5], expected [4]");
  }

  @Test
  void swigluOperandsShareShapeAndDtype() {
    Shape gate = new Shape("gate", 3, 77);
    SwigluCuda.checkLike(new Shape("up", 3, 77), BF16, gate, BF16, "SwiGLU up");
    assertMentions(failure(() -> SwigluCuda.checkLike(new Shape("up", 3, 76), BF16, gate, BF16,
        "SwiGLU up")), "tensor up has shape [3, 76], expected [3, 77]");
    assertMentions(failure(() -> SwigluCuda.checkLike(new Shape("dUp", 3, 77), F32, gate, BF16,
        "SwiGLU dUp")), "dUp[3, 77] (SwiGLU dUp) must have the dtype of gate[3, 77] (bf16)");
  }

  @Test
  void crossEntropyChecksShapesAndTheLossDtype() {
    Shape logits = new Shape("logits", 4, 97);
    assertArrayEquals(new int[] {4, 97}, CrossEntropyCuda.check(new Shape("losses", 4), F32, null,
        logits, new Shape("targets", 4)));
    assertMentions(failure(() -> CrossEntropyCuda.check(new Shape("losses", 4), BF16, null, logits,
        new Shape("targets", 4))), "losses[4] (cross-entropy losses) must be f32");
    assertMentions(failure(() -> CrossEntropyCuda.check(new Shape("losses", 4), F32,
        new Shape("dLogits", 4, 96), logits, new Shape("targets", 4))),
        "tensor dLogits has shape [4, 96], expected [4, 97]");
    assertMentions(failure(() -> CrossEntropyCuda.check(new Shape("losses", 4), F32, null, logits,
        new Shape("targets", 3))), "tensor targets has shape [3], expected [4]");
  }

  @Test
  void crossEntropyStagesRowsOfWholeChunksThatFitInSharedMemory() {
    int h200 = 232448; // sharedPerBlockOptIn of an H100/H200: 227 KiB
    assertEquals(100608, CrossEntropyCuda.stagedBytes(50304, BF16, h200));
    assertEquals(201216, CrossEntropyCuda.stagedBytes(50304, F32, h200));
    assertEquals(0, CrossEntropyCuda.stagedBytes(50257, BF16, h200), "V % 8 != 0");
    assertEquals(0, CrossEntropyCuda.stagedBytes(1, BF16, h200), "V % 8 != 0");
    assertEquals(0, CrossEntropyCuda.stagedBytes(131072, BF16, h200), "262 KB > 227 KiB");
    assertEquals(0, CrossEntropyCuda.stagedBytes(50304, F32, 166912), "A100: 163 KiB");
  }

  @Test
  void crossEntropyBlocksAreWholeWarpsUpToTheCap() {
    assertEquals(32, CrossEntropyCuda.threads(1, 1));
    assertEquals(128, CrossEntropyCuda.threads(97, 1));
    assertEquals(CrossEntropyCuda.MAX_THREADS, CrossEntropyCuda.threads(50304, 8));
    assertEquals(CrossEntropyCuda.MAX_THREADS, CrossEntropyCuda.threads(50257, 1));
  }

  @Test
  void adamwChecksDtypesStepAndBetas() {
    Shape p = new Shape("param", 10);
    AdamWCuda.check(p, F32, new Shape("grad", 10), F32, new Shape("m", 10), F32, new Shape("v", 10), F32,
        0.9, 0.95, 1);
    assertMentions(failure(() -> AdamWCuda.check(p, F32, new Shape("grad", 10), BF16, new Shape("m", 10),
        F32, new Shape("v", 10), F32, 0.9, 0.95, 1)), "grad[10] (AdamW gradient) must be f32");
    assertMentions(failure(() -> AdamWCuda.check(p, F32, new Shape("grad", 10), F32, new Shape("m", 10),
        F32, new Shape("v", 10), F32, 0.9, 0.95, 0)), "step is 1-based, got 0");
    assertMentions(failure(() -> AdamWCuda.check(p, F32, new Shape("grad", 10), F32, new Shape("m", 10),
        F32, new Shape("v", 10), F32, 0.9, 1.0, 1)), "beta2 must lie in [0, 1), got 1.0");
    assertMentions(failure(() -> AdamWCuda.check(p, F32, new Shape("grad", 10), F32, new Shape("m", 9),
        F32, new Shape("v", 10), F32, 0.9, 0.95, 1)), "tensor m has shape [9], expected [10]");
  }

  @Test
  void packsOfEightOnlyForRowsThatKeepThemAligned() {
    assertEquals(8, PointwiseLaunch.pack(768));
    assertEquals(8, PointwiseLaunch.pack(50304));
    assertEquals(1, PointwiseLaunch.pack(50257));
    assertEquals(1, PointwiseLaunch.pack(70));
    assertEquals(1, PointwiseLaunch.grid(0).gridX());
    assertEquals(PointwiseLaunch.MAX_BLOCKS, PointwiseLaunch.grid(1L << 40).gridX());
  }

  @Test
  void everyKernelTheLaunchersNameIsExported() throws IOException {
    Map<String, List<String>> kernels = Map.of(
        "embedding", List.of("embedding_forward_bf16_f32_x8", "embedding_backward_bf16_x1"),
        "rmsnorm", List.of("rmsnorm_forward_f32_bf16_x1", "rmsnorm_backward_bf16_bf16_x8",
            "rmsnorm_dweight"),
        "rope", List.of("rope_bf16_x8", "rope_f32_x1"),
        "swiglu", List.of("swiglu_forward_bf16", "swiglu_backward_f32"),
        "cross_entropy", List.of("cross_entropy_bf16_f32_x8", "cross_entropy_f32_f32_x1"),
        "adamw", List.of("adamw_f32"));
    for (Map.Entry<String, List<String>> module : kernels.entrySet()) {
      String file = ModuleImages.RESOURCE_DIR + module.getKey() + ".compute_80.ptx";
      try (InputStream in = getClass().getClassLoader().getResourceAsStream(file)) {
        assertTrue(in != null, file + " is missing: the nvcc step did not run");
        String ptx = new String(in.readAllBytes(), StandardCharsets.US_ASCII);
        for (String kernel : module.getValue()) {
          assertTrue(ptx.contains(".entry " + kernel + "("), kernel + " in " + file);
        }
      }
    }
  }

  @Test
  void rmsNormBackwardHoldsOnlyBf16RowsOfWholeWarpPacksUpTo1024Channels() {
    assertEquals(3, RmsNormCuda.heldPacks(BF16, 768));
    assertEquals(1, RmsNormCuda.heldPacks(BF16, 256));
    assertEquals(4, RmsNormCuda.heldPacks(BF16, 1024));
    assertEquals(0, RmsNormCuda.heldPacks(F32, 768));
    assertEquals(0, RmsNormCuda.heldPacks(BF16, 200));
    assertEquals(0, RmsNormCuda.heldPacks(BF16, 1280));
    assertEquals(0, RmsNormCuda.heldPacks(BF16, 64));
  }
}
