package io.mobaspark.kernels.lab;

import io.mobaspark.kernels.AttentionConfig;
import io.mobaspark.kernels.AttentionKind;
import io.mobaspark.kernels.IntTensor;
import io.mobaspark.kernels.SeqLayout;
import io.mobaspark.kernels.Tensor;
import io.mobaspark.kernels.cpu.CpuBackend;
import io.mobaspark.kernels.cuda.CudaBackend;
import io.mobaspark.kernels.cuda.DType;
import io.mobaspark.kernels.cuda.MobaSlicing;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/**
 * MoBA routing and MOBA / DENSE / SLIDING attention of {@link CudaBackend} against the float64 CPU backend,
 * with MOBA.md's tolerance policy, at its awkward sizes. Per case: fresh random inputs; every output
 * poisoned first (NaN, or an out-of-range block id for the routing); the routing compared as sets
 * (near-ties allowed, {@link RoutingParity}); O and LSE against the CPU on the GPU's own routing
 * (so a near-tie cannot move the attention checks) and against {@link MobaNaive}; the forward run
 * twice (must repeat bitwise) and the backward twice (dK, dV bitwise, dQ up to its fp32 atomics'
 * order, {@link #sameUpToAtomicOrder}); then both once more under a tiny slice budget ({@link
 * MobaSlicing}), whose rows ({@code .sliced}) must pass the same bounds and equal the one-slice run
 * (column repro: bitwise, dQ up to atomic order). When topk covers every block, O is also checked
 * against the CPU's DENSE attention (MOBA.md rule 5), and so is a sliding window as long as the
 * longest sequence.
 *
 * <p>The routing row of the table reads: kernel = wrong rows, naive = rows that differ only at
 * near-ties, bound = 0.
 *
 * <p>Usage on the GPU machine: {@code .device/java io.mobaspark.kernels.lab.MobaParity [--small]
 * [--time] [--time-swa]}; {@code --small} runs three small cases (for compute-sanitizer),
 * {@code --time} adds device times of route, forward and backward at the paper's shape,
 * {@code --time-swa} those of SLIDING at 8K ({@link MobaTiming#printSliding}). Exits 1 when a check
 * fails.
 */
public final class MobaParity {
  /** One problem; {@code window > 0} means SLIDING attention, else {@code topk = 0} DENSE. */
  public record Case(String name, int[] cuSeqlens, int heads, int kvHeads, int dim, int blockSize,
      int topk, int window) {
    /** MOBA, or DENSE for {@code topk = 0}. */
    public Case(String name, int[] cuSeqlens, int heads, int kvHeads, int dim, int blockSize,
        int topk) {
      this(name, cuSeqlens, heads, kvHeads, dim, blockSize, topk, 0);
    }

    static Case sliding(String name, int[] cuSeqlens, int heads, int kvHeads, int dim, int window) {
      return new Case(name, cuSeqlens, heads, kvHeads, dim, 0, 0, window);
    }

    public AttentionConfig config() {
      if (window > 0) {
        return AttentionConfig.sliding(heads, kvHeads, dim, window);
      }
      return topk == 0 ? AttentionConfig.dense(heads, kvHeads, dim)
          : AttentionConfig.moba(heads, kvHeads, dim, blockSize, topk);
    }

    public String label() {
      int[] cu = cuSeqlens;
      String attention = window > 0 ? "W=" + window
          : topk == 0 ? "dense" : "B=" + blockSize + " k=" + topk;
      return String.format(Locale.ROOT, "%s T=%d S=%d H=%d:%d D=%d %s", name, cu[cu.length - 1],
          cu.length - 1, heads, kvHeads, dim, attention);
    }
  }

  /**
   * MOBA.md's sizes: N = 1, 113, 1023, partial last blocks, varlen with a 1-token document, GQA,
   * k = 1, k at or above the block count, B = 16, 64, 128, 256, 512 (and 80, a multiple of 16 that
   * is not of 64), D = 64 and 128, batch 1, one head; DENSE through the same kernels; SLIDING with
   * windows of 1, 7, 64, 200, the whole sequence and more, across sequence starts and tile edges.
   */
  public static final List<Case> CASES = List.of(
      new Case("varlen", new int[] {0, 300, 301, 818, 882}, 4, 1, 64, 32, 5),
      new Case("N=1", new int[] {0, 1}, 2, 1, 64, 64, 4),
      new Case("N=113", new int[] {0, 113}, 2, 2, 128, 16, 3),
      new Case("N=1023", new int[] {0, 1023}, 1, 1, 64, 64, 8),
      new Case("partial GQA", new int[] {0, 1023}, 4, 2, 128, 128, 2),
      new Case("k=1", new int[] {0, 500}, 2, 1, 64, 64, 1),
      new Case("k>=blocks", new int[] {0, 700}, 2, 2, 128, 128, 8),
      new Case("B=256", new int[] {0, 1500}, 2, 1, 128, 256, 4),
      new Case("B=512", new int[] {0, 1300, 2077}, 2, 2, 64, 512, 2),
      new Case("B=80", new int[] {0, 400}, 2, 1, 64, 80, 3),
      new Case("k=64 B=16", new int[] {0, 2000}, 1, 1, 64, 16, 64),
      new Case("paper", new int[] {0, 2048}, 2, 2, 128, 128, 8),
      new Case("dense varlen", new int[] {0, 1, 200, 977}, 4, 2, 64, 0, 0),
      new Case("dense N=1023", new int[] {0, 1023}, 2, 1, 128, 0, 0),
      Case.sliding("swa N=1", new int[] {0, 1}, 2, 1, 64, 7),
      Case.sliding("swa N=113", new int[] {0, 113}, 2, 2, 128, 1),
      Case.sliding("swa W>N", new int[] {0, 113}, 2, 1, 64, 500),
      Case.sliding("swa GQA", new int[] {0, 1023}, 4, 2, 128, 64),
      Case.sliding("swa N=1023", new int[] {0, 1023}, 1, 1, 64, 200),
      Case.sliding("swa W=N", new int[] {0, 1023}, 2, 2, 64, 1023),
      Case.sliding("swa varlen", new int[] {0, 300, 301, 818, 882}, 4, 1, 64, 7),
      Case.sliding("swa varlen GQA", new int[] {0, 1, 200, 977}, 4, 2, 128, 200),
      Case.sliding("swa varlen W=1", new int[] {0, 1, 130, 131, 400}, 2, 1, 64, 1),
      Case.sliding("swa varlen W>N", new int[] {0, 1, 200, 977}, 2, 1, 64, 100_000));

  /** Small cases for compute-sanitizer: varlen GQA MoBA with a 1-token document, dense, sliding. */
  public static final List<Case> SMALL = List.of(
      new Case("varlen", new int[] {0, 130, 131, 300}, 4, 2, 64, 32, 3),
      new Case("dense varlen", new int[] {0, 1, 70, 150}, 2, 1, 128, 0, 0),
      Case.sliding("swa varlen", new int[] {0, 1, 70, 200}, 4, 2, 64, 33));

  /** (row, head) partials the sliced run's budget holds: several slices even at small sizes. */
  static final long SLICED_ROWS = 150;

  private MobaParity() {}

  public static void main(String[] args) {
    List<String> flags = Arrays.asList(args);
    List<ParityCheck> checks = new ArrayList<>();
    try (CudaBackend gpu = new CudaBackend(0); CpuBackend cpu = CpuBackend.float64()) {
      System.out.println(gpu.description());
      for (String module : List.of("moba_router", "moba_fwd", "moba_bwd", "moba_window")) {
        System.out.println("  module " + module + ": " + gpu.context().module(module).file());
      }
      long seed = 100;
      for (Case c : flags.contains("--small") ? SMALL : CASES) {
        checks.addAll(run(gpu, cpu, c, seed++));
      }
      System.out.println();
      System.out.println(ParityCheck.header());
      checks.forEach(c -> System.out.println(c.row()));
      long failed = checks.stream().filter(c -> !c.passed()).count();
      System.out.println((checks.size() - failed) + " passed, " + failed + " failed");
      if (flags.contains("--time") && failed == 0) {
        MobaTiming.print(gpu);
      }
      if (flags.contains("--time-swa") && failed == 0) {
        MobaTiming.printSliding(gpu);
      }
      if (failed > 0) {
        System.exit(1);
      }
    }
  }

  /** The checks of one case: routing (MOBA), O, LSE, dQ, dK, dV; O against dense when k or W sees all. */
  public static List<ParityCheck> run(CudaBackend gpu, CpuBackend cpu, Case c, long seed) {
    SeqLayout layout = SeqLayout.of(c.cuSeqlens());
    AttentionConfig config = c.config();
    boolean moba = config.kind() == AttentionKind.MOBA;
    int tokens = layout.totalTokens();
    int[] qShape = {tokens, c.heads(), c.dim()};
    int[] kShape = {tokens, c.kvHeads(), c.dim()};
    Random random = new Random(seed);
    String label = c.label();
    List<ParityCheck> checks = new ArrayList<>();

    try (Tensor q = gpu.tensor("q", qShape); Tensor k = gpu.tensor("k", kShape);
        Tensor v = gpu.tensor("v", kShape); Tensor dOut = gpu.tensor("dOut", qShape);
        Tensor out = gpu.tensor("out", qShape);
        Tensor lse = gpu.tensor("lse", DType.F32, c.heads(), tokens);
        Tensor dq = gpu.tensor("dq", qShape); Tensor dk = gpu.tensor("dk", kShape);
        Tensor dv = gpu.tensor("dv", kShape);
        IntTensor routing = moba ? gpu.intTensor("routing", c.heads(), tokens, c.topk()) : null) {
      double[] qv = KeyConvParity.stored(gpu, q, KeyConvParity.gaussian(random, (int) q.numel(), 1));
      double[] kv = KeyConvParity.stored(gpu, k, KeyConvParity.gaussian(random, (int) k.numel(), 1));
      double[] vv = KeyConvParity.stored(gpu, v, KeyConvParity.gaussian(random, (int) v.numel(), 1));
      double[] dOutv = KeyConvParity.stored(gpu, dOut,
          KeyConvParity.gaussian(random, (int) dOut.numel(), 1));

      int[] route = null;
      if (moba) {
        int[] poison = new int[(int) routing.numel()];
        Arrays.fill(poison, Integer.MAX_VALUE);
        gpu.write(routing, poison);
        gpu.mobaRoute(routing, q, k, config, layout);
        route = gpu.read(routing);
        int[] ref = CpuAttention.route(cpu, qv, kv, config, layout);
        double[] centroids = CentroidParity.reference(kv, c.kvHeads() * c.dim(), c.blockSize(), layout);
        RoutingParity.Result r = RoutingParity.compare(route, ref, qv, centroids, c.heads(),
            c.kvHeads(), c.dim(), c.blockSize(), c.topk(), layout);
        checks.add(new ParityCheck("moba.route", label, "sets", r.wrong(), r.differing(), 0, true));
        if (!r.passed()) {
          return checks; // attention on malformed routing would not be meaningful
        }
      }

      double[][] fwd = new double[2][];
      double[][] lses = new double[2][];
      for (int rep = 0; rep < 2; rep++) {
        KeyConvParity.poison(gpu, out);
        KeyConvParity.poison(gpu, lse);
        gpu.attentionForward(out, lse, q, k, v, routing, config, layout);
        fwd[rep] = gpu.read(out);
        lses[rep] = gpu.read(lse);
      }
      boolean forwardRepeats = Arrays.equals(fwd[0], fwd[1]) && Arrays.equals(lses[0], lses[1]);
      double[][] grads = new double[6][];
      for (int rep = 0; rep < 2; rep++) {
        KeyConvParity.poison(gpu, dq);
        KeyConvParity.poison(gpu, dk);
        KeyConvParity.poison(gpu, dv);
        gpu.attentionBackward(dq, dk, dv, dOut, q, k, v, out, lse, routing, config, layout);
        grads[3 * rep] = gpu.read(dq);
        grads[3 * rep + 1] = gpu.read(dk);
        grads[3 * rep + 2] = gpu.read(dv);
      }
      boolean dkdvRepeat = Arrays.equals(grads[1], grads[4]) && Arrays.equals(grads[2], grads[5]);
      boolean dqRepeats = sameUpToAtomicOrder(grads[0], grads[3]);

      // Again in many slices: a budget of SLICED_ROWS (row, head) partials, as moba_harness.cu's
      // check, cuts heads, query tiles and (for dQ) sequences. The runs above took the policy's
      // budget, one slice at these sizes; O, LSE, dK, dV must not change by a bit.
      long budget = SLICED_ROWS * Math.max(c.topk() - 1, 1) * (2L * c.dim() + 4);
      MobaSlicing slicing = MobaSlicing.of(config, layout, budget);
      System.out.printf(Locale.ROOT, "%s: sliced run in %d forward, %d backward slices%n", label,
          slicing.forward().size(), slicing.backward().size());
      double[][] sliced = new double[5][];
      gpu.setMobaSliceBudget(budget);
      try {
        KeyConvParity.poison(gpu, out);
        KeyConvParity.poison(gpu, lse);
        gpu.attentionForward(out, lse, q, k, v, routing, config, layout);
        KeyConvParity.poison(gpu, dq);
        KeyConvParity.poison(gpu, dk);
        KeyConvParity.poison(gpu, dv);
        gpu.attentionBackward(dq, dk, dv, dOut, q, k, v, out, lse, routing, config, layout);
      } finally {
        gpu.setMobaSliceBudget(0);
      }
      Tensor[] results = {out, lse, dq, dk, dv};
      for (int i = 0; i < results.length; i++) {
        sliced[i] = gpu.read(results[i]);
      }

      AttentionOutputs ref64 = CpuAttention.run(cpu, qv, kv, vv, dOutv, route, config, layout);
      AttentionOutputs naive = MobaNaive.run(qv, kv, vv, dOutv, route, c.heads(), c.kvHeads(),
          c.dim(), c.blockSize(), c.topk(), c.window(), layout);
      String op = moba ? "moba" : c.window() > 0 ? "swa" : "dense";
      checks.add(ParityCheck.of(op + ".fwd", label, "O", fwd[0], naive.out(), ref64.out(),
          ParityCheck.FORWARD_FACTOR, forwardRepeats));
      checks.add(ParityCheck.of(op + ".fwd", label, "LSE", lses[0], naive.lse(), ref64.lse(),
          ParityCheck.FORWARD_FACTOR, forwardRepeats));
      checks.add(ParityCheck.of(op + ".bwd", label, "dQ", grads[0], naive.dq(), ref64.dq(),
          ParityCheck.GRADIENT_FACTOR, dqRepeats));
      checks.add(ParityCheck.of(op + ".bwd", label, "dK", grads[1], naive.dk(), ref64.dk(),
          ParityCheck.GRADIENT_FACTOR, dkdvRepeat));
      checks.add(ParityCheck.of(op + ".bwd", label, "dV", grads[2], naive.dv(), ref64.dv(),
          ParityCheck.GRADIENT_FACTOR, dkdvRepeat));
      String slicedOp = op + ".sliced";
      checks.add(ParityCheck.of(slicedOp, label, "O", sliced[0], naive.out(), ref64.out(),
          ParityCheck.FORWARD_FACTOR, Arrays.equals(sliced[0], fwd[0])));
      checks.add(ParityCheck.of(slicedOp, label, "LSE", sliced[1], naive.lse(), ref64.lse(),
          ParityCheck.FORWARD_FACTOR, Arrays.equals(sliced[1], lses[0])));
      checks.add(ParityCheck.of(slicedOp, label, "dQ", sliced[2], naive.dq(), ref64.dq(),
          ParityCheck.GRADIENT_FACTOR, sameUpToAtomicOrder(sliced[2], grads[0])));
      checks.add(ParityCheck.of(slicedOp, label, "dK", sliced[3], naive.dk(), ref64.dk(),
          ParityCheck.GRADIENT_FACTOR, Arrays.equals(sliced[3], grads[1])));
      checks.add(ParityCheck.of(slicedOp, label, "dV", sliced[4], naive.dv(), ref64.dv(),
          ParityCheck.GRADIENT_FACTOR, Arrays.equals(sliced[4], grads[2])));
      boolean seesAll = moba ? c.topk() >= maxBlocks(layout, c.blockSize())
          : c.window() >= layout.maxLength(); // DENSE: trivially, and not checked against itself
      if (c.window() + c.topk() > 0 && seesAll) {
        AttentionConfig dense = AttentionConfig.dense(c.heads(), c.kvHeads(), c.dim());
        AttentionOutputs den = CpuAttention.run(cpu, qv, kv, vv, dOutv, null, dense, layout);
        AttentionOutputs denNaive = MobaNaive.run(qv, kv, vv, dOutv, null, c.heads(), c.kvHeads(),
            c.dim(), 0, 0, 0, layout);
        checks.add(ParityCheck.of(op + "=dense", label, "O", fwd[0], denNaive.out(), den.out(),
            ParityCheck.FORWARD_FACTOR, forwardRepeats));
      }
    }
    return checks;
  }

  /**
   * Equal up to what a different fp32 atomic order can change: one bf16 ulp of the element, plus
   * 2^-16 of the tensor's largest magnitude for elements whose summands cancel (there the fp32 sums
   * of two orders differ by a few fp32 ulps of the summands, which can exceed a bf16 ulp of the small
   * result; seen with top-64 of 16-key blocks). Both bounds are far below the tolerance policy's.
   */
  static boolean sameUpToAtomicOrder(double[] a, double[] b) {
    if (a.length != b.length) {
      return false;
    }
    double largest = 0;
    for (double v : a) {
      largest = Math.max(largest, Math.abs(v));
    }
    double cancellation = largest * 0x1p-16;
    for (int i = 0; i < a.length; i++) {
      double ulp = Math.max(Math.abs(a[i]), Math.abs(b[i])) * 0x1p-7;
      if (!(Math.abs(a[i] - b[i]) <= ulp + cancellation)) {
        return false;
      }
    }
    return true;
  }

  private static int maxBlocks(SeqLayout layout, int blockSize) {
    return (layout.maxLength() + blockSize - 1) / blockSize;
  }
}
