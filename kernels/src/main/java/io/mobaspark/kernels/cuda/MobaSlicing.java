package io.mobaspark.kernels.cuda;

import io.mobaspark.kernels.AttentionConfig;
import io.mobaspark.kernels.SeqLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * The slices {@link MobaAttentionCuda} launches the MoBA forward and backward in (docs/moba-cuda.md,
 * "Slices"). The only workspace that grows with heads x tokens is the forward's past-block partials
 * and the backward's fp32 dQ accumulator; they never live at the same time and share one buffer, and
 * slicing keeps that buffer within a byte budget: the partials of one forward slice, or the dQ
 * accumulator of one backward slice, must fit it. Results do not depend on the slicing (each row's
 * and key's sums run in a fixed order), so the budget trades workspace against launches only.
 *
 * <p>The policy is moba_harness.cu's {@code make_slices} and {@code slice_budget}, so the lab's
 * measurements of slice counts and their cost hold for this path. Forward: one slice if every
 * head's partials fit; else as many whole heads as fit; else one head and as many whole 64-row query
 * tiles as fit. Backward: one slice if {@code dq_acc [T, H, D]} fits; else as many whole KV heads (a
 * GQA group's query heads share a KV head's key tiles) as fit; else one KV head and as many whole
 * sequences as fit, since a row only selects blocks of its own sequence and so a slice of whole
 * sequences adds into no row outside it. A single sequence larger than the budget still makes one
 * backward slice: that bound is per sequence, not per token.
 */
public final class MobaSlicing {
  /**
   * Budget floor. Smaller slices launch more, smaller grids: at 64K tokens 16 forward slices (256
   * MiB) cost 7% over one, 8 slices (512 MiB) 3% (docs/perf/moba.md, "Slicing costs").
   */
  static final long MIN_BUDGET = 512L << 20;
  /** The budget's share of the q, k, v bytes, 1/25 = 4%: long sequences keep the buffer near it. */
  static final int QKV_SHARE = 25;

  /** Heads {@code [h0, h0 + hn)} by whole query tiles {@code [q0, q1)}, which are rows {@code [ta, tb)}. */
  public record Forward(int h0, int hn, int q0, int q1, int ta, int tb) {}

  /**
   * KV heads {@code [g0, g0 + gn)} by whole sequences {@code [s0, s1)}, which are rows
   * {@code [ta, tb)} and key blocks {@code [b0, b1)}.
   */
  public record Backward(int g0, int gn, int s0, int s1, int ta, int tb, int b0, int b1) {}

  private final List<Forward> forward;
  private final List<Backward> backward;
  private final long forwardBytes;
  private final long backwardBytes;

  private MobaSlicing(List<Forward> forward, List<Backward> backward, long forwardBytes,
      long backwardBytes) {
    this.forward = List.copyOf(forward);
    this.backward = List.copyOf(backward);
    this.forwardBytes = forwardBytes;
    this.backwardBytes = backwardBytes;
  }

  /** The policy's budget: 4% of the q, k, v bytes (bf16), at least {@link #MIN_BUDGET}. */
  public static long budget(AttentionConfig config, SeqLayout layout) {
    return budget(MobaGeometry.of(config, layout));
  }

  static long budget(MobaGeometry g) {
    long qkv = 2L * g.tokens() * (g.heads() + 2L * g.kvHeads()) * g.dim();
    return Math.max(qkv / QKV_SHARE, MIN_BUDGET);
  }

  /** The slices of this problem under {@code budget} bytes. */
  public static MobaSlicing of(AttentionConfig config, SeqLayout layout, long budget) {
    return of(MobaGeometry.of(config, layout), layout, budget);
  }

  static MobaSlicing of(MobaGeometry g, SeqLayout layout, long budget) {
    if (budget <= 0) {
      throw new IllegalArgumentException("slice budget must be positive, got " + budget + " bytes");
    }
    List<Forward> fwd = forwardSlices(g, layout, budget);
    long fwdBytes = 0;
    for (Forward f : fwd) {
      fwdBytes = Math.max(fwdBytes, (long) f.hn() * (f.tb() - f.ta()) * partialBytesPerRow(g));
    }
    List<Backward> bwd = backwardSlices(g, layout, budget);
    long bwdBytes = 0;
    for (Backward b : bwd) {
      bwdBytes = Math.max(bwdBytes, (long) (b.tb() - b.ta()) * b.gn() * group(g) * dqBytesPerRow(g));
    }
    return new MobaSlicing(fwd, bwd, fwdBytes, bwdBytes);
  }

  public List<Forward> forward() {
    return forward;
  }

  public List<Backward> backward() {
    return backward;
  }

  /** The largest forward slice's partials: {@code part_o} bf16 then {@code part_lse} fp32. */
  public long forwardBytes() {
    return forwardBytes;
  }

  /** The largest backward slice's {@code dq_acc [tb - ta, gn * G, D]} fp32. */
  public long backwardBytes() {
    return backwardBytes;
  }

  /** Partial bytes of one (row, head): topk - 1 past slots of D bf16 values and one fp32 LSE. */
  static long partialBytesPerRow(MobaGeometry g) {
    return (long) (g.topk() - 1) * (2L * g.dim() + 4);
  }

  /** dq_acc bytes of one (row, query head). */
  private static long dqBytesPerRow(MobaGeometry g) {
    return 4L * g.dim();
  }

  private static int group(MobaGeometry g) {
    return g.heads() / g.kvHeads();
  }

  private static List<Forward> forwardSlices(MobaGeometry g, SeqLayout layout, long budget) {
    int tokens = g.tokens();
    int heads = g.heads();
    List<Forward> slices = new ArrayList<>();
    // (row, head) pairs whose partials fit; topk = 1 has none, so any budget holds everything.
    long units = g.topk() == 1 ? Long.MAX_VALUE : Math.max(1, budget / partialBytesPerRow(g));
    if (units >= (long) tokens * heads) {
      slices.add(new Forward(0, heads, 0, g.queryTiles(), 0, tokens));
    } else if (units >= tokens) {
      int hn = (int) (units / tokens);
      for (int h0 = 0; h0 < heads; h0 += hn) {
        slices.add(new Forward(h0, Math.min(hn, heads - h0), 0, g.queryTiles(), 0, tokens));
      }
    } else {
      // Query tiles restart at each sequence start, so a tile may hold fewer than 64 rows.
      int[] tileStart = new int[g.queryTiles()];
      int[] tileEnd = new int[g.queryTiles()];
      int[] cu = layout.cuSeqlens();
      int tile = 0;
      for (int s = 0; s < layout.sequences(); s++) {
        for (int t = cu[s]; t < cu[s + 1]; t += MobaKernelShapes.TILE) {
          tileStart[tile] = t;
          tileEnd[tile++] = Math.min(t + MobaKernelShapes.TILE, cu[s + 1]);
        }
      }
      int per = (int) Math.max(1, units / MobaKernelShapes.TILE);
      for (int h = 0; h < heads; h++) {
        for (int q0 = 0; q0 < g.queryTiles(); q0 += per) {
          int q1 = Math.min(g.queryTiles(), q0 + per);
          slices.add(new Forward(h, 1, q0, q1, tileStart[q0], tileEnd[q1 - 1]));
        }
      }
    }
    return slices;
  }

  private static List<Backward> backwardSlices(MobaGeometry g, SeqLayout layout, long budget) {
    int[] cu = layout.cuSeqlens();
    int[] blocks = DeviceLayout.blockOffsets(layout, g.blockSize());
    int seqs = layout.sequences();
    long groupRow = group(g) * dqBytesPerRow(g); // dq_acc bytes of one row of one KV head's group
    List<Backward> slices = new ArrayList<>();
    if ((long) g.tokens() * g.kvHeads() * groupRow <= budget) {
      slices.add(new Backward(0, g.kvHeads(), 0, seqs, 0, g.tokens(), 0, g.totalBlocks()));
    } else if (g.tokens() * groupRow <= budget) {
      int gn = (int) (budget / (g.tokens() * groupRow));
      for (int g0 = 0; g0 < g.kvHeads(); g0 += gn) {
        slices.add(new Backward(g0, Math.min(gn, g.kvHeads() - g0), 0, seqs, 0, g.tokens(), 0,
            g.totalBlocks()));
      }
    } else {
      for (int kv = 0; kv < g.kvHeads(); kv++) {
        for (int s0 = 0, s1; s0 < seqs; s0 = s1) {
          s1 = s0 + 1;
          while (s1 < seqs && (long) (cu[s1 + 1] - cu[s0]) * groupRow <= budget) {
            s1++;
          }
          slices.add(new Backward(kv, 1, s0, s1, cu[s0], cu[s1], blocks[s0], blocks[s1]));
        }
      }
    }
    return slices;
  }
}
