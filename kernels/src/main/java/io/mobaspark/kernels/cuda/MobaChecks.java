package io.mobaspark.kernels.cuda;

import io.mobaspark.kernels.AttentionConfig;
import io.mobaspark.kernels.AttentionKind;
import io.mobaspark.kernels.OpChecks;
import io.mobaspark.kernels.SeqLayout;
import io.mobaspark.kernels.Shape;

/**
 * Operand checks of the MoBA router and attention launchers, run before any device call and
 * written on shapes and dtypes alone, so that they are tested without a GPU. Each failure is an
 * {@link IllegalArgumentException} naming the tensor (or config key), its value and the rule; the
 * rules are those of the kernels (docs/moba-cuda.md, "Layouts and entry points").
 */
final class MobaChecks {
  /** List entries pack {@code (t << 6) | slot}: topk at most 64, T below 2^25. */
  static final int MAX_TOPK = 64;
  static final int MAX_TOKENS = 1 << 25;
  /** The kernels step through blocks in 16-row mma tiles. */
  static final int BLOCK_MULTIPLE = 16;

  /** A tensor as the checks see it. */
  record Operand(Shape shape, DType dtype) {
    static Operand of(CudaTensor t) {
      return new Operand(t.shape(), t.dtype());
    }
  }

  private MobaChecks() {}

  /** {@code mobaRoute}: routing {@code [H, T, topk]} int, q {@code [T, H, D]}, k {@code [T, Hkv, D]} bf16. */
  static MobaGeometry route(Shape routing, Operand q, Operand k, AttentionConfig c, SeqLayout layout,
      int maxSharedBytes) {
    if (c.kind() != AttentionKind.MOBA) {
      throw new IllegalArgumentException("mobaRoute needs MOBA attention, got " + c.kind());
    }
    int tokens = OpChecks.attentionTokens(q.shape(), k.shape(), k.shape(), c, layout);
    OpChecks.routing(routing, c, tokens);
    bf16(q, "queries");
    bf16(k, "keys");
    return geometry(c, layout, maxSharedBytes);
  }

  /** {@code attentionForward}: out bf16 {@code [T, H, D]}, lse f32 {@code [H, T]}, q, k, v bf16. */
  static MobaGeometry forward(Operand out, Operand lse, Operand q, Operand k, Operand v,
      Shape routing, AttentionConfig c, SeqLayout layout, int maxSharedBytes) {
    MobaGeometry g = inputs(q, k, v, routing, c, layout, maxSharedBytes);
    out.shape().require(q.shape().dims());
    lse.shape().require(c.heads(), g.tokens());
    bf16(out, "attention output");
    KernelChecks.requireDType(lse.shape(), lse.dtype(), DType.F32, "attention LSE, kept for the"
        + " backward; allocate it with tensor(name, DType.F32, dims)");
    return g;
  }

  /** {@code attentionBackward}: dq, dk, dv, dOut, out bf16; lse f32 as the forward wrote it. */
  static MobaGeometry backward(Operand dq, Operand dk, Operand dv, Operand dOut, Operand q,
      Operand k, Operand v, Operand out, Operand lse, Shape routing, AttentionConfig c,
      SeqLayout layout, int maxSharedBytes) {
    MobaGeometry g = forward(out, lse, q, k, v, routing, c, layout, maxSharedBytes);
    dOut.shape().require(q.shape().dims());
    dq.shape().require(q.shape().dims());
    dk.shape().require(k.shape().dims());
    dv.shape().require(v.shape().dims());
    bf16(dOut, "output gradient");
    bf16(dq, "query gradient");
    bf16(dk, "key gradient");
    bf16(dv, "value gradient");
    return g;
  }

  private static MobaGeometry inputs(Operand q, Operand k, Operand v, Shape routing,
      AttentionConfig c, SeqLayout layout, int maxSharedBytes) {
    int tokens = OpChecks.attentionTokens(q.shape(), k.shape(), v.shape(), c, layout);
    OpChecks.routing(routing, c, tokens);
    bf16(q, "queries");
    bf16(k, "keys");
    bf16(v, "values");
    return geometry(c, layout, maxSharedBytes);
  }

  /** What in {@code c} the kernels cannot run, or null when they can run it. */
  static String configProblem(AttentionConfig c) {
    if (c.headDim() != 64 && c.headDim() != 128) {
      return "head_dim " + c.headDim()
          + " is not supported by the CUDA MoBA kernels: it must be 64 or 128";
    }
    if (c.kind() == AttentionKind.MOBA) {
      if (c.blockSize() % BLOCK_MULTIPLE != 0) {
        return "block_size " + c.blockSize()
            + " is not supported by the CUDA MoBA kernels: it must be a multiple of " + BLOCK_MULTIPLE;
      }
      if (c.topk() > MAX_TOPK) {
        return "topk " + c.topk() + " is not supported by the CUDA MoBA kernels: it must be at most "
            + MAX_TOPK + " (a topk at or above the block count is dense attention either way)";
      }
    }
    return null;
  }

  /** The kernels' limits on the config and the batch, then the launch sizes. */
  static MobaGeometry geometry(AttentionConfig c, SeqLayout layout, int maxSharedBytes) {
    String problem = configProblem(c);
    if (problem != null) {
      throw new IllegalArgumentException(problem);
    }
    if (layout.totalTokens() >= MAX_TOKENS) {
      throw new IllegalArgumentException("a packed batch of " + layout.totalTokens()
          + " tokens is too long for the CUDA MoBA kernels: T must be below " + MAX_TOKENS);
    }
    if (layout.sequences() > LaunchShape.MAX_GRID_YZ || c.heads() > LaunchShape.MAX_GRID_YZ) {
      throw new IllegalArgumentException("the CUDA MoBA kernels take at most "
          + LaunchShape.MAX_GRID_YZ + " sequences and heads, got " + layout.sequences()
          + " sequences and " + c.heads() + " heads");
    }
    MobaGeometry g = MobaGeometry.of(c, layout);
    if (g.histogramCells() + 1 > Integer.MAX_VALUE || g.routingEntries() > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("H * T * topk = " + g.routingEntries() + " and H * blocks * "
          + MobaKernelShapes.LIST_TILES + " = " + g.histogramCells() + " must fit in int32");
    }
    long listShared = MobaKernelShapes.listShared(g.maxBlocks(), g.topk());
    if (listShared > maxSharedBytes) {
      throw new IllegalArgumentException("a sequence of " + layout.maxLength() + " tokens has "
          + g.maxBlocks() + " key blocks of " + g.blockSize() + ": the list kernels need "
          + listShared + " bytes of shared memory, more than the device's " + maxSharedBytes
          + "; use a larger block_size or shorter sequences");
    }
    return g;
  }

  private static void bf16(Operand t, String role) {
    KernelChecks.requireDType(t.shape(), t.dtype(), DType.BF16, role);
  }
}
