package io.mobaspark.kernels.cuda;

import io.mobaspark.kernels.OpChecks;
import io.mobaspark.kernels.Shape;

/**
 * Launcher of {@code gemm.cu} (docs/gemm-cuda.md): {@code out[M, N] (=|+=) op(a)[M, K] @ op(b)[K, N]}
 * with a {@code [K, M]} when transA and b {@code [N, K]} when transB, as {@code Backend.matmul}.
 * a and b are bf16 (the trainer multiplies bf16 compute copies of the fp32 weights); out is bf16
 * or fp32; the products add up in fp32.
 *
 * <p>Kernel choice ({@link #plan}): where the sm_90a image is loaded and every operand row starts on
 * 16 bytes, the warp-specialized wgmma kernel (persistent: one block per SM walks the output tiles,
 * {@link #persistentBlocks}; on request, {@link HopperKernel}, the pipelined one or the TMA-fed one,
 * whose operands go in as tensor maps, {@link GemmTensorMap}); else the mma.sync kernel (any shape,
 * any GPU from sm_80 on).
 * When the output has too few tiles to fill the GPU and K is long (the weight gradients, K = T),
 * K is split: each split writes fp32 partials and a second kernel adds them into out in a fixed
 * order, so a shape always sums the same way (bitwise reproducible). Large products with
 * misaligned rows (an odd vocabulary) are padded onto the wgmma kernel by {@link GemmAlignment}.
 */
public final class GemmCuda implements AutoCloseable {
  /** One 64-deep stage of the 128 x 256 wgmma kernels: 16 KiB of A and 32 KiB of B. */
  private static final int STAGE_BYTES = 128 * 64 * 2 + 256 * 64 * 2;

  /**
   * The main-loop kernels of gemm.cu and their block tiles (WG_*, WS_* and MMA_* there); shared
   * bytes: the stages of 48 KiB, the epilogue buffers, 1 KiB of alignment slack.
   */
  public enum Family {
    /** Pipelined: both warpgroups copy and compute, one block barrier per K step. */
    WGMMA("gemm_wgmma_", 128, 256, 256, 4 * STAGE_BYTES + 1024, Maps.NONE),
    /** Warp-specialized: a copying warpgroup, mbarriers per stage, two 16 KiB epilogue buffers. */
    WS("gemm_ws_", 128, 256, 384, 4 * STAGE_BYTES + 2 * 16384 + 1024, Maps.NONE),
    /** WS fed by the copy engine from tensor maps: one producer thread, the same frame and epilogue. */
    TMA("gemm_tma_", 128, 256, 384, 4 * STAGE_BYTES + 2 * 16384 + 1024, Maps.OPERANDS),
    /** TMA with 3 stages, two 32 KiB epilogue buffers and a plain bf16 out stored by the copy engine. */
    TMA3ST("gemm_tma3st_", 128, 256, 384, 3 * STAGE_BYTES + 2 * 32768 + 1024, Maps.OPERANDS_AND_OUT),
    MMA("gemm_mma_", 128, 128, 256, 0, Maps.NONE);

    /**
     * Which tensor maps a kernel takes, as its first four parameters when any (map_a, map_b,
     * map_out, map_add; OPERANDS kernels never read the last two).
     */
    enum Maps { NONE, OPERANDS, OPERANDS_AND_OUT }

    final String prefix;
    final int tileM;
    final int tileN;
    final int threads;
    final int sharedBytes;
    final Maps maps;

    Family(String prefix, int tileM, int tileN, int threads, int sharedBytes, Maps maps) {
      this.prefix = prefix;
      this.tileM = tileM;
      this.tileN = tileN;
      this.threads = threads;
      this.sharedBytes = sharedBytes;
      this.maps = maps;
    }

    long tiles(int m, int n) {
      return (long) ceilDiv(m, tileM) * ceilDiv(n, tileN);
    }
  }

  /**
   * Which persistent kernel runs the aligned products on sm_90a. TMA3ST for every shape: the
   * warp-specialized kernel fed by bulk tensor copies, with 3 stages and bulk tensor stores of a
   * plain bf16 output. Through Java on the H200 (2026-12-02, tools/device/tma-check.sh) it passed
   * MatmulParity (74 products, every kernel) and the GPU JUnit parity classes (37/37, whole model
   * included), ran GemmLab's 13 training shapes at 0.85-1.19 of cuBLAS in the same command (TMA
   * 0.83-1.06) and the 125M trainer's step in 153.1 ms (TMA 155.5, WS 175.3). The others stay for
   * comparisons in one build: WS (warp-specialized, copies by cp.async), WGMMA (pipelined), TMA
   * (bulk loads, 4 stages, plain epilogue): system property {@value GemmCuda#HOPPER_PROPERTY} = ws,
   * wgmma, tma or tma3st, read when the backend starts, or {@code CudaBackend.setGemmKernel}.
   */
  public enum HopperKernel {
    WS(Family.WS), WGMMA(Family.WGMMA), TMA(Family.TMA), TMA3ST(Family.TMA3ST);

    /** The kernel when nothing is asked for. */
    public static final HopperKernel DEFAULT = TMA3ST;

    private final Family family;

    HopperKernel(Family family) {
      this.family = family;
    }

    /** The kernel family this choice launches for an aligned product on sm_90a. */
    public Family family() {
      return family;
    }

    /** The choice system property {@value GemmCuda#HOPPER_PROPERTY} names ({@link #DEFAULT} if unset). */
    public static HopperKernel fromProperty() {
      String value = System.getProperty(HOPPER_PROPERTY);
      if (value == null) {
        return DEFAULT;
      }
      try {
        return valueOf(value.toUpperCase(java.util.Locale.ROOT));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(HOPPER_PROPERTY + " = " + value
            + ": expected ws, wgmma, tma or tma3st", e);
      }
    }
  }

  public static final String HOPPER_PROPERTY = "mobaspark.gemm.hopper";

  /** One product's launch: kernel family, number of K splits and the K depth of each (a multiple of 64). */
  public record Plan(Family family, int splits, int splitDepth) {
    public String label() {
      return family.name().toLowerCase(java.util.Locale.ROOT) + (splits > 1 ? " split " + splits : "");
    }
  }

  /** Split depths are whole K steps of both kernels (64 and 32). */
  static final int SPLIT_GRANULE = 64;
  /** A split keeps at least this much K, so that its pipeline runs long enough to pay off. */
  static final int MIN_SPLIT_DEPTH = 512;
  /** Caps the fp32 partials at 8 copies of out. */
  static final int MAX_SPLITS = 8;
  /** Splitting is considered only below this many waves of output tiles (more waves fill well). */
  static final int MAX_WAVES_TO_SPLIT = 2;
  /** A further split must fill the last wave this much better (fraction of the GPU) to be taken. */
  static final double MIN_FILL_GAIN = 0.02;
  static final int REDUCE_THREADS = 256;

  private final CudaContext context;
  private final GemmAlignment alignment;
  private final ScratchBuffer partials; // [splits, M, N] fp32
  private HopperKernel hopper;
  private TensorMapEncoder tensorMaps; // made at the first TMA launch (loads JNA)

  GemmCuda(CudaContext context) {
    this.context = context;
    this.hopper = HopperKernel.fromProperty();
    this.alignment = new GemmAlignment(context);
    this.partials = new ScratchBuffer(context);
  }

  /**
   * Checks ranks, inner dimensions and dtypes before any launch; returns {@code [M, N, K]}.
   * Operands must be bf16 (fp32 weights go through their bf16 compute copy), out bf16 or fp32.
   */
  static int[] check(Shape out, DType outType, Shape a, DType aType, Shape b, DType bType,
      boolean transA, boolean transB) {
    int[] mnk = OpChecks.matmul(out, a, b, transA, transB);
    requireBf16Operand(a, aType, "a");
    requireBf16Operand(b, bType, "b");
    if (outType != DType.BF16 && outType != DType.F32) {
      throw new IllegalArgumentException("matmul output " + out + " has unsupported dtype " + outType);
    }
    return mnk;
  }

  private static void requireBf16Operand(Shape t, DType type, String role) {
    if (type != DType.BF16) {
      throw new IllegalArgumentException("matmul operand " + role + " " + t + " has dtype "
          + type.name().toLowerCase(java.util.Locale.ROOT) + "; the CUDA matmul takes bf16 operands"
          + " (multiply the bf16 compute copy of fp32 weights)");
    }
  }

  /**
   * Whether wgmma's 16-byte row rule holds: the contiguous dimension of each operand (K for
   * a as stored and for b transposed, M for a transposed, N for b as stored) is a multiple of 8.
   */
  public static boolean rowsAligned(int m, int n, int k, boolean transA, boolean transB) {
    boolean aRows = (transA ? m : k) % 8 == 0;
    boolean bRows = (transB ? k : n) % 8 == 0;
    return aRows && bRows;
  }

  /** The launch for an {@code M x N x K} product on a GPU of {@code multiprocessors} SMs. */
  public static Plan plan(int m, int n, int k, boolean transA, boolean transB, boolean wgmmaLoaded,
      int multiprocessors) {
    return plan(m, n, k, transA, transB, wgmmaLoaded, HopperKernel.DEFAULT, multiprocessors);
  }

  /** {@link #plan}, with the persistent kernel of aligned sm_90a products chosen by {@code hopper}. */
  public static Plan plan(int m, int n, int k, boolean transA, boolean transB, boolean wgmmaLoaded,
      HopperKernel hopper, int multiprocessors) {
    Family family = Family.MMA;
    if (wgmmaLoaded && rowsAligned(m, n, k, transA, transB)) {
      family = hopper.family();
    }
    int splits = splits(family.tiles(m, n), k, multiprocessors);
    int depth = ceilDiv(ceilDiv(k, splits), SPLIT_GRANULE) * SPLIT_GRANULE;
    return new Plan(family, ceilDiv(k, depth), depth);
  }

  /**
   * K splits for {@code tiles} output tiles: the count (at most {@link #MAX_SPLITS}, each at least
   * {@link #MIN_SPLIT_DEPTH} deep) whose blocks fill their last wave of {@code multiprocessors}
   * best, one block per SM; 1 when the tiles alone make {@link #MAX_WAVES_TO_SPLIT} waves.
   */
  static int splits(long tiles, int k, int multiprocessors) {
    if (tiles >= (long) MAX_WAVES_TO_SPLIT * multiprocessors) {
      return 1;
    }
    int best = 1;
    double bestFill = fill(tiles, multiprocessors);
    for (int s = 2; s <= MAX_SPLITS && k / s >= MIN_SPLIT_DEPTH; s++) {
      double f = fill(tiles * s, multiprocessors);
      if (f > bestFill + MIN_FILL_GAIN) {
        best = s;
        bestFill = f;
      }
    }
    return best;
  }

  /**
   * Blocks of a persistent wgmma kernel for {@code items} work items (output tiles times splits):
   * one per SM (its shared memory allows no second), each walking items {@code b, b + blocks, ...}.
   */
  static int persistentBlocks(long items, int multiprocessors) {
    return (int) Math.min(items, multiprocessors);
  }

  /** Busy fraction of the SMs over the waves that {@code blocks} blocks take. */
  private static double fill(long blocks, int multiprocessors) {
    long waves = (blocks + multiprocessors - 1) / multiprocessors;
    return (double) blocks / (waves * multiprocessors);
  }

  /** Whether the gemm module loaded is the sm_90a image, the one whose wgmma and ws kernels work. */
  public static boolean wgmmaLoaded(CudaContext context) {
    return context.module("gemm").file().endsWith(".sm_90a.cubin");
  }

  void matmul(CudaTensor out, CudaTensor a, CudaTensor b, boolean transA, boolean transB,
      boolean accumulate) {
    int[] mnk = check(out.shape(), out.dtype(), a.shape(), a.dtype(), b.shape(), b.dtype(), transA,
        transB);
    if (out.buffer() == a.buffer() || out.buffer() == b.buffer()) {
      throw new IllegalArgumentException("matmul output " + out.shape()
          + " must not be an operand: the kernel reads a and b while it writes out");
    }
    int m = mnk[0];
    int n = mnk[1];
    int k = mnk[2];
    if (m == 0 || n == 0) {
      return;
    }
    if (k == 0) {
      if (!accumulate) {
        out.buffer().zero();
      }
      return;
    }
    GemmAlignment.Case padding = alignment.plan(m, n, k, transA, transB, wgmmaLoaded(context));
    if (padding != GemmAlignment.Case.NONE) {
      alignment.run(padding, this::launch, out, a, b, m, n, k, transA, transB, accumulate);
      return;
    }
    launch(out.buffer(), 0, out.dtype(), a.buffer(), 0, b.buffer(), 0, m, n, k, transA, transB,
        accumulate);
  }

  /** Whether {@link #swigluProjections} can run: the sm_90a image and 16-byte rows (C, F % 8 == 0). */
  boolean swigluFusable(int c, int f) {
    return wgmmaLoaded(context) && c % 8 == 0 && f % 8 == 0;
  }

  /**
   * The MLP's input half in one launch, gemm_tma3st_swiglu_nt (docs/gemm-cuda.md "SwiGLU in the
   * epilogue"): {@code act = silu(x wGate^T) * (x wUp^T)} and, when
   * saveGateUp, {@code gate = x wGate^T} and {@code up = x wUp^T}, the same bits as two matmuls and
   * swigluForward. x {@code [T, C]}, wGate and wUp {@code [F, C]}, act, gate, up {@code [T, F]}, all
   * bf16; gate and up are not touched (may be null) without saveGateUp. Needs {@link #swigluFusable}.
   */
  void swigluProjections(CudaTensor act, CudaTensor gate, CudaTensor up, CudaTensor x,
      CudaTensor wGate, CudaTensor wUp, boolean saveGateUp) {
    if (x.shape().rank() != 2 || wGate.shape().rank() != 2) {
      throw new IllegalArgumentException("swiglu projections: x " + x.shape() + " and w_gate "
          + wGate.shape() + " must be matrices [T, C] and [F, C]");
    }
    int t = x.shape().dim(0);
    int c = x.shape().dim(1);
    int f = wGate.shape().dim(0);
    wGate.shape().require(f, c);
    wUp.shape().require(f, c);
    act.shape().require(t, f);
    CudaTensor[] written = saveGateUp ? new CudaTensor[] {act, gate, up} : new CudaTensor[] {act};
    for (CudaTensor out : written) {
      out.shape().require(t, f);
      for (CudaTensor in : new CudaTensor[] {x, wGate, wUp}) {
        if (out.buffer() == in.buffer()) {
          throw new IllegalArgumentException("swiglu projections: output " + out.shape()
              + " must not be an input: the kernel reads them while it writes");
        }
      }
    }
    for (CudaTensor tensor : new CudaTensor[] {x, wGate, wUp}) {
      requireBf16Operand(tensor.shape(), tensor.dtype(), tensor.shape().name());
    }
    for (CudaTensor out : written) {
      if (out.dtype() != DType.BF16) {
        throw new IllegalArgumentException("swiglu projections: output " + out.shape() + " has dtype "
            + out.dtype() + "; the fused kernel writes bf16");
      }
    }
    if (!swigluFusable(c, f)) {
      throw new IllegalStateException("swiglu projections need the sm_90a image and C, F multiples"
          + " of 8 (C " + c + ", F " + f + "): run two matmuls and swigluForward");
    }
    if (t == 0 || f == 0) {
      return;
    }
    if (tensorMaps == null) {
      tensorMaps = new TensorMapEncoder(context);
    }
    // (map_x, map_w_gate, map_w_up, map_gate, map_up, map_act, t, f, c, save_gate_up); without
    // saveGateUp act's map stands in for gate's and up's, which the kernel then never stores through.
    byte[] actMap = tensorMaps.encode(GemmTensorMap.out(t, f), act.buffer(), 0);
    KernelArgs args = new KernelArgs()
        .struct(tensorMaps.encode(GemmTensorMap.a(t, c, false), x.buffer(), 0))
        .struct(tensorMaps.encode(GemmTensorMap.bHalf(f, c), wGate.buffer(), 0))
        .struct(tensorMaps.encode(GemmTensorMap.bHalf(f, c), wUp.buffer(), 0))
        .struct(saveGateUp ? tensorMaps.encode(GemmTensorMap.out(t, f), gate.buffer(), 0) : actMap)
        .struct(saveGateUp ? tensorMaps.encode(GemmTensorMap.out(t, f), up.buffer(), 0) : actMap)
        .struct(actMap).i32(t).i32(f).i32(c).i32(saveGateUp ? 1 : 0);
    Family family = Family.TMA3ST;
    LaunchShape shape = new LaunchShape(persistentBlocks(family.tiles(t, 2 * f),
        context.device().multiprocessors()), 1, 1, family.threads, 1, 1, family.sharedBytes);
    context.kernel("gemm", "gemm_tma3st_swiglu_nt").launch(shape, args);
  }

  /**
   * {@code out = addend + op(a) @ op(b)} in one launch where the plan is gemm_tma3st's staged output
   * (its epilogue reads the old tile through map_add: the addend's map instead of out's), so that a
   * residual add needs no copy of the addend into out first. Returns false, having done nothing,
   * where that launch does not apply (another kernel, split K, fp32 out, N % 8 != 0, padding, an
   * addend in out's buffer): the caller then copies and accumulates.
   */
  boolean matmulAdd(CudaTensor out, CudaTensor addend, CudaTensor a, CudaTensor b, boolean transA,
      boolean transB) {
    int[] mnk = check(out.shape(), out.dtype(), a.shape(), a.dtype(), b.shape(), b.dtype(), transA,
        transB);
    if (!java.util.Arrays.equals(addend.shape().dims(), out.shape().dims())
        || addend.dtype() != out.dtype()) {
      throw new IllegalArgumentException("matmul addend " + addend.shape() + " " + addend.dtype()
          + " must have out's shape and dtype, " + out.shape() + " " + out.dtype());
    }
    int m = mnk[0];
    int n = mnk[1];
    int k = mnk[2];
    if (m == 0 || n == 0 || k == 0 || out.buffer() == addend.buffer() || out.buffer() == a.buffer()
        || out.buffer() == b.buffer()) {
      return false;
    }
    boolean sm90a = wgmmaLoaded(context);
    Plan plan = plan(m, n, k, transA, transB, sm90a, hopper, context.device().multiprocessors());
    if (alignment.plan(m, n, k, transA, transB, sm90a) != GemmAlignment.Case.NONE
        || !storesThroughOutMap(plan.family(), plan.splits(), out.dtype(), n)) {
      return false;
    }
    launch(out.buffer(), 0, out.dtype(), a.buffer(), 0, b.buffer(), 0, m, n, k, transA, transB,
        true, addend.buffer());
    return true;
  }

  /**
   * Whether a launch of {@code family} stores out through its map_out: the gemm_tma3st kernels do
   * for the output gemm_ws.cuh's consumers stage (ws_consume's `staged` with STAGED_ACCUMULATE: one
   * split, bf16, N % 8 == 0, overwritten or accumulated; an accumulated tile is also read back
   * through the map). Elsewhere map_out is a stand-in the kernel never reads, so this rule must hold
   * wherever the kernel's does: a stand-in stored through would write into an operand.
   */
  static boolean storesThroughOutMap(Family family, int splits, DType outType, int n) {
    return family.maps == Family.Maps.OPERANDS_AND_OUT && splits == 1 && outType == DType.BF16
        && n % 8 == 0;
  }

  /** Which persistent kernel later aligned products on sm_90a run (labs: both at one shape). */
  void hopperKernel(HopperKernel choice) {
    this.hopper = choice;
  }

  /** {@link GemmAlignment#configure}: for the labs, to pad small products in many chunks. */
  void padding(long chunkElements, double minFlops) {
    alignment.configure(chunkElements, minFlops);
  }

  /** One product on raw buffers at byte offsets, with the kernel {@link #plan} picks for its shape. */
  private void launch(DeviceBuffer out, long outOffset, DType outType, DeviceBuffer a, long aOffset,
      DeviceBuffer b, long bOffset, int m, int n, int k, boolean transA, boolean transB,
      boolean accumulate) {
    launch(out, outOffset, outType, a, aOffset, b, bOffset, m, n, k, transA, transB, accumulate,
        null);
  }

  /**
   * {@link #launch} whose accumulated output starts from {@code addend} (the whole {@code [M, N]}
   * buffer, out's dtype) instead of out's own values: only where out is stored through its map.
   */
  private void launch(DeviceBuffer out, long outOffset, DType outType, DeviceBuffer a, long aOffset,
      DeviceBuffer b, long bOffset, int m, int n, int k, boolean transA, boolean transB,
      boolean accumulate, DeviceBuffer addend) {
    CudaDevice device = context.device();
    Plan plan = plan(m, n, k, transA, transB, wgmmaLoaded(context), hopper,
        device.multiprocessors());
    long total = (long) m * n;
    boolean split = plan.splits() > 1;
    DeviceBuffer work = split ? partials.atLeast(4L * plan.splits() * total) : out;
    int outF32 = outType == DType.F32 ? 1 : 0;
    Family f = plan.family();
    LaunchShape shape = f != Family.MMA
        ? new LaunchShape(persistentBlocks(f.tiles(m, n) * plan.splits(), device.multiprocessors()), 1,
            1, f.threads, 1, 1, f.sharedBytes)
        : new LaunchShape(ceilDiv(n, f.tileN), ceilDiv(m, f.tileM), plan.splits(), f.threads, 1, 1,
            f.sharedBytes);
    KernelArgs args = new KernelArgs();
    if (f.maps != Family.Maps.NONE) {
      // gemm_tma*: (map_a, map_b, map_out, map_add, out, partials, ...): the operands only through
      // their maps; map_add is out's own map unless an addend is given.
      if (tensorMaps == null) {
        tensorMaps = new TensorMapEncoder(context);
      }
      byte[] mapA = tensorMaps.encode(GemmTensorMap.a(m, k, transA), a, aOffset);
      byte[] mapOut = storesThroughOutMap(f, plan.splits(), outType, n)
          ? tensorMaps.encode(GemmTensorMap.out(m, n), out, outOffset) : mapA;
      byte[] mapAdd = addend != null ? tensorMaps.encode(GemmTensorMap.out(m, n), addend, 0) : mapOut;
      args.struct(mapA).struct(tensorMaps.encode(GemmTensorMap.b(n, k, transB), b, bOffset))
          .struct(mapOut).struct(mapAdd).ptr(out, outOffset).ptr(work, split ? 0 : outOffset);
    } else {
      args.ptr(out, outOffset).ptr(work, split ? 0 : outOffset).ptr(a, aOffset).ptr(b, bOffset);
    }
    args.i32(m).i32(n).i32(k).i32(plan.splitDepth()).i32(outF32).i32(accumulate ? 1 : 0);
    context.kernel("gemm", f.prefix + (transA ? "t" : "n") + (transB ? "t" : "n")).launch(shape, args);
    if (split) {
      long blocks = Math.min(ceilDiv(total, REDUCE_THREADS), 8L * device.multiprocessors());
      context.kernel("gemm", "gemm_reduce_splits").launch(LaunchShape.of(blocks, REDUCE_THREADS),
          new KernelArgs().ptr(out, outOffset).ptr(work).i32(plan.splits()).i64(total).i32(outF32)
              .i32(accumulate ? 1 : 0));
    }
  }

  private static int ceilDiv(int x, int y) {
    return (x + y - 1) / y;
  }

  private static long ceilDiv(long x, long y) {
    return (x + y - 1) / y;
  }

  @Override
  public void close() {
    alignment.close();
    partials.close();
  }
}
