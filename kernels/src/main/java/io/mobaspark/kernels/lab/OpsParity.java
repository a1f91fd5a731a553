package io.mobaspark.kernels.lab;

import io.mobaspark.kernels.Backend;
import io.mobaspark.kernels.IntTensor;
import io.mobaspark.kernels.Tensor;
import io.mobaspark.kernels.cpu.CpuBackend;
import io.mobaspark.kernels.cuda.CudaBackend;
import io.mobaspark.kernels.cuda.DType;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/**
 * The CUDA backend's pointwise and reduction ops (embedding, RMSNorm, RoPE, SwiGLU, cross-entropy,
 * AdamW) against the float64 CPU backend through the {@link Backend} interface, under MOBA.md's
 * tolerance policy ({@link ParityCheck}, naive = {@link OpsNaive}), at awkward sizes (T = 1, 113,
 * 1023; C = 64, 200, 768 and a width that is no multiple of 8, for the scalar path; V = 1, 97,
 * 50257; 50304 and 131072 for cross-entropy's staged and too-long rows), with ignored targets, in-place RoPE and cross-entropy, and bf16 and fp32 operands. Outputs
 * are poisoned with NaN first; every backward (and the AdamW step) runs twice from the same state and
 * must repeat bit for bit, except embedding's dTable (fp32 atomics), whose two runs must agree
 * within the bound.
 *
 * <p>Usage on a GPU machine: {@code .device/java io.mobaspark.kernels.lab.OpsParity [--small]}
 * prints the table and exits 1 when a check fails; {@code --small} runs the smallest case of each
 * family (for compute-sanitizer).
 */
public final class OpsParity {
  private static final DType BF16 = DType.BF16;
  private static final DType F32 = DType.F32;

  private OpsParity() {}

  public static void main(String[] args) {
    boolean small = args.length > 0 && args[0].equals("--small");
    try (CudaBackend gpu = new CudaBackend(0); CpuBackend cpu = CpuBackend.float64()) {
      System.out.println(gpu.description());
      List<ParityCheck> checks = all(gpu, cpu, small);
      System.out.println(ParityCheck.header());
      checks.forEach(c -> System.out.println(c.row()));
      long failed = checks.stream().filter(c -> !c.passed()).count();
      System.out.println((checks.size() - failed) + " passed, " + failed + " failed");
      if (failed > 0) {
        System.exit(1);
      }
    }
  }

  /** Every case of every family ({@code small}: the first case of each). */
  public static List<ParityCheck> all(CudaBackend gpu, CpuBackend cpu, boolean small) {
    List<ParityCheck> checks = new ArrayList<>();
    checks.addAll(embeddingCases(gpu, cpu, small));
    checks.addAll(rmsNormCases(gpu, cpu, small));
    checks.addAll(ropeCases(gpu, cpu, small));
    checks.addAll(swigluCases(gpu, cpu, small));
    checks.addAll(crossEntropyCases(gpu, cpu, small));
    checks.addAll(adamwCases(gpu, small));
    return checks;
  }

  public static List<ParityCheck> embeddingCases(CudaBackend gpu, CpuBackend cpu, boolean small) {
    List<ParityCheck> checks = new ArrayList<>(embedding(gpu, cpu, 1, 64, 1, BF16, BF16, 101));
    if (!small) {
      checks.addAll(embedding(gpu, cpu, 113, 200, 97, BF16, F32, 102));
      checks.addAll(embedding(gpu, cpu, 113, 70, 97, F32, BF16, 103));
      checks.addAll(embedding(gpu, cpu, 1023, 768, 50257, BF16, BF16, 104));
      checks.addAll(embedding(gpu, cpu, 1023, 64, 3, F32, F32, 105)); // many repeats
    }
    return checks;
  }

  public static List<ParityCheck> rmsNormCases(CudaBackend gpu, CpuBackend cpu, boolean small) {
    List<ParityCheck> checks = new ArrayList<>(rmsNorm(gpu, cpu, 1, 64, BF16, BF16, 201));
    if (!small) {
      checks.addAll(rmsNorm(gpu, cpu, 113, 200, BF16, F32, 202));
      checks.addAll(rmsNorm(gpu, cpu, 1023, 768, BF16, BF16, 203));
      checks.addAll(rmsNorm(gpu, cpu, 1023, 768, F32, F32, 204));
      checks.addAll(rmsNorm(gpu, cpu, 113, 70, F32, BF16, 205));
      checks.addAll(rmsNorm(gpu, cpu, 5000, 1024, BF16, F32, 206)); // several rows per warp
      // The held backward's other widths (C = 256 P): P = 1 and 2.
      checks.addAll(rmsNorm(gpu, cpu, 257, 256, BF16, BF16, 207));
      checks.addAll(rmsNorm(gpu, cpu, 130, 512, BF16, F32, 208));
    }
    return checks;
  }

  public static List<ParityCheck> ropeCases(CudaBackend gpu, CpuBackend cpu, boolean small) {
    List<ParityCheck> checks = new ArrayList<>(rope(gpu, cpu, 1, 1, 64, BF16, false, 1, 301));
    if (!small) {
      checks.addAll(rope(gpu, cpu, 113, 12, 64, BF16, true, 113, 302));
      checks.addAll(rope(gpu, cpu, 1023, 3, 128, F32, false, 65536, 303));
      checks.addAll(rope(gpu, cpu, 1023, 4, 10, BF16, true, 65536, 304));
      checks.addAll(rope(gpu, cpu, 1023, 12, 64, F32, true, 300, 305));
    }
    return checks;
  }

  public static List<ParityCheck> swigluCases(CudaBackend gpu, CpuBackend cpu, boolean small) {
    List<ParityCheck> checks = new ArrayList<>(swiglu(gpu, cpu, 1, 64, BF16, 401));
    if (!small) {
      checks.addAll(swiglu(gpu, cpu, 113, 200, F32, 402));
      checks.addAll(swiglu(gpu, cpu, 113, 77, BF16, 403));
      checks.addAll(swiglu(gpu, cpu, 1023, 3072, BF16, 404));
    }
    return checks;
  }

  public static List<ParityCheck> crossEntropyCases(CudaBackend gpu, CpuBackend cpu, boolean small) {
    List<ParityCheck> checks = new ArrayList<>(crossEntropy(gpu, cpu, 1, 1, BF16, BF16, 501));
    if (!small) {
      checks.addAll(crossEntropy(gpu, cpu, 113, 97, F32, F32, 502));
      checks.addAll(crossEntropy(gpu, cpu, 113, 97, BF16, null, 503));
      checks.addAll(crossEntropy(gpu, cpu, 1023, 96, BF16, F32, 504));
      checks.addAll(crossEntropy(gpu, cpu, 113, 50257, BF16, BF16, 505));
      checks.addAll(crossEntropy(gpu, cpu, 1023, 50304, BF16, BF16, 506));
      checks.addAll(crossEntropyInPlace(gpu, cpu, 113, 50257, 507));
      // The staged kernel (rows in shared memory) in place and on fp32 logits; the unstaged one
      // for losses alone at that V; and a bf16 row too long to stage (256 KiB).
      checks.addAll(crossEntropyInPlace(gpu, cpu, 113, 50304, 508));
      checks.addAll(crossEntropy(gpu, cpu, 61, 50304, F32, BF16, 510));
      checks.addAll(crossEntropy(gpu, cpu, 257, 50304, BF16, null, 509));
      checks.addAll(crossEntropy(gpu, cpu, 17, 131072, BF16, BF16, 511));
    }
    return checks;
  }

  public static List<ParityCheck> adamwCases(CudaBackend gpu, boolean small) {
    List<ParityCheck> checks = new ArrayList<>(adamw(gpu, 1, 1, 601));
    if (!small) {
      checks.addAll(adamw(gpu, 113, 10, 602));
      checks.addAll(adamw(gpu, 1023 * 7 + 3, 1000, 603));
      checks.addAll(adamw(gpu, 1_000_003, 2, 604));
    }
    return checks;
  }

  // ---- one case per family ----------------------------------------------------------------------

  static List<ParityCheck> embedding(CudaBackend gpu, CpuBackend cpu, int tokens, int channels,
      int vocab, DType outType, DType tableType, long seed) {
    Random random = new Random(seed);
    String label = String.format(Locale.ROOT, "T=%d C=%d V=%d out:%s table:%s", tokens, channels,
        vocab, name(outType), name(tableType));
    int[] ids = random.ints(tokens, 0, vocab).toArray();
    try (Owned g = new Owned();
        IntTensor idsGpu = gpu.intTensor("tokens", tokens)) {
      Tensor out = g.add(gpu.tensor("emb_out", outType, tokens, channels));
      Tensor table = g.add(gpu.tensor("table", tableType, vocab, channels));
      Tensor dOut = g.add(gpu.tensor("dOut", outType, tokens, channels));
      Tensor dTable = g.add(gpu.tensor("dTable", F32, vocab, channels));
      gpu.write(idsGpu, ids);
      double[] tableQ = KeyConvParity.stored(gpu, table, gaussian(random, vocab * channels, 1));
      double[] dOutQ = KeyConvParity.stored(gpu, dOut, gaussian(random, tokens * channels, 1));
      double[] dTableQ = KeyConvParity.stored(gpu, dTable, gaussian(random, vocab * channels, 0.1));
      KeyConvParity.poison(gpu, out);
      gpu.embeddingForward(out, idsGpu, table);
      double[] outGpu = gpu.read(out);
      double[][] grads = twice(gpu, dTable, dTableQ, () -> gpu.embeddingBackward(dTable, dOut, idsGpu));

      double[] outRef;
      double[] dTableRef;
      try (Tensor o = cpu.tensor("o", tokens, channels); Tensor tb = tensor(cpu, tableQ, vocab, channels);
          Tensor dO = tensor(cpu, dOutQ, tokens, channels); Tensor dT = tensor(cpu, dTableQ, vocab, channels);
          IntTensor id = cpu.intTensor("tokens", tokens)) {
        cpu.write(id, ids);
        cpu.embeddingForward(o, id, tb);
        cpu.embeddingBackward(dT, dO, id);
        outRef = cpu.read(o);
        dTableRef = cpu.read(dT);
      }
      double[] dTableNaive = OpsNaive.embeddingBackward(dTableQ, dOutQ, ids, channels);
      // fp32 atomics: the two runs may differ in the order of the adds, not beyond the bound.
      double bound = ParityCheck.GRADIENT_FACTOR * ParityCheck.maxAbsDiff(dTableNaive, dTableRef)
          + ParityCheck.ABSOLUTE_SLACK;
      boolean agree = ParityCheck.maxAbsDiff(grads[0], grads[1]) <= bound;
      return List.of(
          ParityCheck.of("emb.fwd", label, "out", outGpu,
              OpsNaive.embeddingForward(ids, tableQ, channels, outType), outRef,
              ParityCheck.FORWARD_FACTOR, true),
          ParityCheck.of("emb.bwd", label, "dTable", grads[0], dTableNaive, dTableRef,
              ParityCheck.GRADIENT_FACTOR, agree));
    }
  }

  static List<ParityCheck> rmsNorm(CudaBackend gpu, CpuBackend cpu, int rows, int cols, DType act,
      DType weightType, long seed) {
    Random random = new Random(seed);
    String label = String.format(Locale.ROOT, "T=%d C=%d act:%s w:%s", rows, cols, name(act),
        name(weightType));
    double eps = 1e-5;
    try (Owned g = new Owned()) {
      Tensor x = g.add(gpu.tensor("x", act, rows, cols));
      Tensor out = g.add(gpu.tensor("norm_out", act, rows, cols));
      Tensor rstd = g.add(gpu.tensor("rstd", F32, rows));
      Tensor weight = g.add(gpu.tensor("norm_weight", weightType, cols));
      Tensor dOut = g.add(gpu.tensor("dOut", act, rows, cols));
      Tensor dx = g.add(gpu.tensor("dx", act, rows, cols));
      Tensor dWeight = g.add(gpu.tensor("dWeight", F32, cols));
      double[] xQ = KeyConvParity.stored(gpu, x, gaussian(random, rows * cols, 2));
      double[] wQ = KeyConvParity.stored(gpu, weight, shifted(random, cols, 1, 0.2));
      double[] dOutQ = KeyConvParity.stored(gpu, dOut, gaussian(random, rows * cols, 1));
      double[] dxQ = KeyConvParity.stored(gpu, dx, gaussian(random, rows * cols, 0.5));
      double[] dwQ = KeyConvParity.stored(gpu, dWeight, gaussian(random, cols, 0.5));
      KeyConvParity.poison(gpu, out);
      KeyConvParity.poison(gpu, rstd);
      gpu.rmsNormForward(out, rstd, x, weight, eps);
      double[] outGpu = gpu.read(out);
      double[] rstdGpu = gpu.read(rstd);
      double[][] first = new double[2][];
      double[][] second = new double[2][];
      for (double[][] run : new double[][][] {first, second}) {
        gpu.write(dx, dxQ);
        gpu.write(dWeight, dwQ);
        gpu.rmsNormBackward(dx, dWeight, dOut, x, weight, rstd);
        run[0] = gpu.read(dx);
        run[1] = gpu.read(dWeight);
      }
      boolean repeats = Arrays.equals(first[0], second[0]) && Arrays.equals(first[1], second[1]);

      double[][] ref;
      try (Tensor xc = tensor(cpu, xQ, rows, cols); Tensor wc = tensor(cpu, wQ, cols);
          Tensor oc = cpu.tensor("o", rows, cols); Tensor rc = cpu.tensor("rstd", rows);
          Tensor rGpu = tensor(cpu, rstdGpu, rows); Tensor dOc = tensor(cpu, dOutQ, rows, cols);
          Tensor dxc = tensor(cpu, dxQ, rows, cols); Tensor dwc = tensor(cpu, dwQ, cols)) {
        cpu.rmsNormForward(oc, rc, xc, wc, eps);
        cpu.rmsNormBackward(dxc, dwc, dOc, xc, wc, rGpu); // the backward's inputs are the GPU's rstd
        ref = new double[][] {cpu.read(oc), cpu.read(rc), cpu.read(dxc), cpu.read(dwc)};
      }
      double[][] fwdNaive = OpsNaive.rmsNormForward(xQ, wQ, rows, cols, (float) eps, act);
      double[][] bwdNaive = OpsNaive.rmsNormBackward(dxQ, dwQ, dOutQ, xQ, wQ, rstdGpu, rows, cols, act);
      return List.of(
          ParityCheck.of("rms.fwd", label, "out", outGpu, fwdNaive[0], ref[0], ParityCheck.FORWARD_FACTOR, true),
          ParityCheck.of("rms.fwd", label, "rstd", rstdGpu, fwdNaive[1], ref[1], ParityCheck.FORWARD_FACTOR, true),
          ParityCheck.of("rms.bwd", label, "dx", first[0], bwdNaive[0], ref[2], ParityCheck.GRADIENT_FACTOR, repeats),
          ParityCheck.of("rms.bwd", label, "dWeight", first[1], bwdNaive[1], ref[3], ParityCheck.GRADIENT_FACTOR, repeats));
    }
  }

  /** Positions restart every {@code seqLen} tokens (packed sequences); in place when asked. */
  static List<ParityCheck> rope(CudaBackend gpu, CpuBackend cpu, int tokens, int heads, int dim,
      DType act, boolean inPlace, int seqLen, long seed) {
    Random random = new Random(seed);
    double theta = 10000;
    String label = String.format(Locale.ROOT, "T=%d H=%d D=%d pos<%d %s%s", tokens, heads, dim, seqLen,
        name(act), inPlace ? " in-place" : "");
    int[] positions = new int[tokens];
    int offset = random.nextInt(seqLen); // a late start reaches large angles at few tokens
    for (int t = 0; t < tokens; t++) {
      positions[t] = (offset + t) % seqLen;
    }
    int n = tokens * heads * dim;
    try (Owned g = new Owned(); IntTensor pos = gpu.intTensor("positions", tokens)) {
      gpu.write(pos, positions);
      Tensor x = g.add(gpu.tensor("q", act, tokens, heads, dim));
      Tensor out = inPlace ? x : g.add(gpu.tensor("q_rot", act, tokens, heads, dim));
      Tensor dOut = g.add(gpu.tensor("dOut", act, tokens, heads, dim));
      Tensor dx = inPlace ? dOut : g.add(gpu.tensor("dq", act, tokens, heads, dim));
      double[] xQ = KeyConvParity.stored(gpu, x, gaussian(random, n, 1));
      double[] dOutQ = KeyConvParity.stored(gpu, dOut, gaussian(random, n, 1));
      if (!inPlace) {
        KeyConvParity.poison(gpu, out);
      }
      gpu.ropeForward(out, x, pos, heads, theta);
      double[] outGpu = gpu.read(out);
      double[][] runs = new double[2][];
      for (int r = 0; r < 2; r++) {
        gpu.write(dOut, dOutQ);
        if (!inPlace) {
          KeyConvParity.poison(gpu, dx);
        }
        gpu.ropeBackward(dx, dOut, pos, heads, theta);
        runs[r] = gpu.read(dx);
      }
      double[] outRef;
      double[] dxRef;
      try (Tensor xc = tensor(cpu, xQ, tokens, heads, dim); Tensor dOc = tensor(cpu, dOutQ, tokens, heads, dim);
          Tensor oc = cpu.tensor("o", tokens, heads, dim); Tensor dxc = cpu.tensor("dx", tokens, heads, dim);
          IntTensor pc = cpu.intTensor("positions", tokens)) {
        cpu.write(pc, positions);
        cpu.ropeForward(oc, xc, pc, heads, theta);
        cpu.ropeBackward(dxc, dOc, pc, heads, theta);
        outRef = cpu.read(oc);
        dxRef = cpu.read(dxc);
      }
      return List.of(
          ParityCheck.of("rope.fwd", label, "out", outGpu,
              OpsNaive.rope(xQ, positions, heads, dim, theta, 1, act), outRef, ParityCheck.FORWARD_FACTOR, true),
          ParityCheck.of("rope.bwd", label, "dx", runs[0],
              OpsNaive.rope(dOutQ, positions, heads, dim, theta, -1, act), dxRef,
              ParityCheck.GRADIENT_FACTOR, Arrays.equals(runs[0], runs[1])));
    }
  }

  static List<ParityCheck> swiglu(CudaBackend gpu, CpuBackend cpu, int rows, int width, DType act,
      long seed) {
    Random random = new Random(seed);
    String label = String.format(Locale.ROOT, "T=%d F=%d %s", rows, width, name(act));
    int n = rows * width;
    try (Owned g = new Owned()) {
      Tensor gate = g.add(gpu.tensor("gate", act, rows, width));
      Tensor up = g.add(gpu.tensor("up", act, rows, width));
      Tensor out = g.add(gpu.tensor("swiglu_out", act, rows, width));
      Tensor dOut = g.add(gpu.tensor("dOut", act, rows, width));
      Tensor dGate = g.add(gpu.tensor("dGate", act, rows, width));
      Tensor dUp = g.add(gpu.tensor("dUp", act, rows, width));
      double[] gateQ = KeyConvParity.stored(gpu, gate, gaussian(random, n, 4)); // deep in both tails
      double[] upQ = KeyConvParity.stored(gpu, up, gaussian(random, n, 1));
      double[] dOutQ = KeyConvParity.stored(gpu, dOut, gaussian(random, n, 1));
      KeyConvParity.poison(gpu, out);
      gpu.swigluForward(out, gate, up);
      double[] outGpu = gpu.read(out);
      double[][] first = new double[2][];
      double[][] second = new double[2][];
      for (double[][] run : new double[][][] {first, second}) {
        KeyConvParity.poison(gpu, dGate);
        KeyConvParity.poison(gpu, dUp);
        gpu.swigluBackward(dGate, dUp, dOut, gate, up);
        run[0] = gpu.read(dGate);
        run[1] = gpu.read(dUp);
      }
      boolean repeats = Arrays.equals(first[0], second[0]) && Arrays.equals(first[1], second[1]);
      double[][] ref;
      try (Tensor gc = tensor(cpu, gateQ, rows, width); Tensor uc = tensor(cpu, upQ, rows, width);
          Tensor dOc = tensor(cpu, dOutQ, rows, width); Tensor oc = cpu.tensor("o", rows, width);
          Tensor dgc = cpu.tensor("dg", rows, width); Tensor duc = cpu.tensor("du", rows, width)) {
        cpu.swigluForward(oc, gc, uc);
        cpu.swigluBackward(dgc, duc, dOc, gc, uc);
        ref = new double[][] {cpu.read(oc), cpu.read(dgc), cpu.read(duc)};
      }
      double[][] naive = OpsNaive.swigluBackward(dOutQ, gateQ, upQ, act);
      return List.of(
          ParityCheck.of("swiglu.fwd", label, "out", outGpu, OpsNaive.swigluForward(gateQ, upQ, act),
              ref[0], ParityCheck.FORWARD_FACTOR, true),
          ParityCheck.of("swiglu.bwd", label, "dGate", first[0], naive[0], ref[1],
              ParityCheck.GRADIENT_FACTOR, repeats),
          ParityCheck.of("swiglu.bwd", label, "dUp", first[1], naive[1], ref[2],
              ParityCheck.GRADIENT_FACTOR, repeats));
    }
  }

  /** gradType null: losses only (dLogits = null). About one target in ten is ignored. */
  static List<ParityCheck> crossEntropy(CudaBackend gpu, CpuBackend cpu, int rows, int vocab,
      DType logitsType, DType gradType, long seed) {
    Random random = new Random(seed);
    String label = String.format(Locale.ROOT, "T=%d V=%d logits:%s d:%s", rows, vocab,
        name(logitsType), gradType == null ? "none" : name(gradType));
    int[] targets = targets(random, rows, vocab);
    try (Owned g = new Owned(); IntTensor tg = gpu.intTensor("targets", rows)) {
      gpu.write(tg, targets);
      Tensor logits = g.add(gpu.tensor("logits", logitsType, rows, vocab));
      Tensor losses = g.add(gpu.tensor("losses", F32, rows));
      Tensor dLogits = gradType == null ? null : g.add(gpu.tensor("dLogits", gradType, rows, vocab));
      double[] logitsQ = KeyConvParity.stored(gpu, logits, gaussian(random, rows * vocab, 3));
      float scale = gradScale(targets);
      double[][] runs = new double[4][];
      for (int r = 0; r < 2; r++) {
        KeyConvParity.poison(gpu, losses);
        if (dLogits != null) {
          KeyConvParity.poison(gpu, dLogits);
        }
        gpu.crossEntropy(losses, dLogits, logits, tg, scale);
        runs[2 * r] = gpu.read(losses);
        runs[2 * r + 1] = dLogits == null ? new double[0] : gpu.read(dLogits);
      }
      boolean repeats = Arrays.equals(runs[0], runs[2]) && Arrays.equals(runs[1], runs[3]);
      double[][] ref = crossEntropyReference(cpu, logitsQ, targets, rows, vocab, scale, gradType != null);
      double[][] naive = OpsNaive.crossEntropy(logitsQ, targets, vocab, scale,
          gradType == null ? F32 : gradType);
      List<ParityCheck> checks = new ArrayList<>();
      checks.add(ParityCheck.of("xent", label, "losses", runs[0], naive[0], ref[0],
          ParityCheck.FORWARD_FACTOR, repeats));
      if (gradType != null) {
        checks.add(ParityCheck.of("xent", label, "dLogits", runs[1], naive[1], ref[1],
            ParityCheck.GRADIENT_FACTOR, repeats));
      }
      return checks;
    }
  }

  /** dLogits written over the bf16 logits themselves (the kernel reads a row before writing it). */
  static List<ParityCheck> crossEntropyInPlace(CudaBackend gpu, CpuBackend cpu, int rows, int vocab,
      long seed) {
    Random random = new Random(seed);
    String label = String.format(Locale.ROOT, "T=%d V=%d bf16 in-place", rows, vocab);
    int[] targets = targets(random, rows, vocab);
    try (Owned g = new Owned(); IntTensor tg = gpu.intTensor("targets", rows)) {
      gpu.write(tg, targets);
      Tensor logits = g.add(gpu.tensor("logits", BF16, rows, vocab));
      Tensor losses = g.add(gpu.tensor("losses", F32, rows));
      double[] logitsQ = KeyConvParity.stored(gpu, logits, gaussian(random, rows * vocab, 3));
      float scale = 1.0f;
      KeyConvParity.poison(gpu, losses);
      gpu.crossEntropy(losses, logits, logits, tg, scale);
      double[][] ref = crossEntropyReference(cpu, logitsQ, targets, rows, vocab, scale, true);
      double[][] naive = OpsNaive.crossEntropy(logitsQ, targets, vocab, scale, BF16);
      return List.of(
          ParityCheck.of("xent", label, "losses", gpu.read(losses), naive[0], ref[0],
              ParityCheck.FORWARD_FACTOR, true),
          ParityCheck.of("xent", label, "dLogits", gpu.read(logits), naive[1], ref[1],
              ParityCheck.GRADIENT_FACTOR, true));
    }
  }

  private static double[][] crossEntropyReference(CpuBackend cpu, double[] logits, int[] targets,
      int rows, int vocab, float scale, boolean withGrad) {
    try (Tensor lc = tensor(cpu, logits, rows, vocab); Tensor loss = cpu.tensor("losses", rows);
        Tensor dc = cpu.tensor("dLogits", rows, vocab); IntTensor tc = cpu.intTensor("targets", rows)) {
      cpu.write(tc, targets);
      cpu.crossEntropy(loss, withGrad ? dc : null, lc, tc, scale);
      return new double[][] {cpu.read(loss), cpu.read(dc)};
    }
  }

  static List<ParityCheck> adamw(CudaBackend gpu, int n, int step, long seed) {
    Random random = new Random(seed);
    String label = String.format(Locale.ROOT, "n=%d step=%d", n, step);
    float lr = 3e-3f;
    float beta1 = 0.9f;
    float beta2 = 0.95f;
    float eps = 1e-8f;
    float decay = 0.1f;
    try (Owned g = new Owned(); CpuBackend cpu = CpuBackend.float64()) {
      Tensor p = g.add(gpu.tensor("param", F32, n));
      Tensor grad = g.add(gpu.tensor("grad", F32, n));
      Tensor m = g.add(gpu.tensor("m", F32, n));
      Tensor v = g.add(gpu.tensor("v", F32, n));
      double[] pQ = KeyConvParity.stored(gpu, p, gaussian(random, n, 0.5));
      double[] gQ = KeyConvParity.stored(gpu, grad, gaussian(random, n, 1));
      double[] mQ = KeyConvParity.stored(gpu, m, gaussian(random, n, 0.1));
      double[] vQ = KeyConvParity.stored(gpu, v, Arrays.stream(gaussian(random, n, 0.1)).map(x -> x * x).toArray());
      // A second parameter of other values, for the grouped call (adamwAll) of run 2.
      Tensor p2 = g.add(gpu.tensor("param2", F32, n + 5));
      Tensor grad2 = g.add(gpu.tensor("grad2", F32, n + 5));
      Tensor m2 = g.add(gpu.tensor("m2", F32, n + 5));
      Tensor v2 = g.add(gpu.tensor("v2", F32, n + 5));
      for (Tensor t : List.of(p2, grad2, m2, v2)) {
        gpu.write(t, gaussian(random, n + 5, 0.3));
      }
      // Clipped gradients: run 1 scales them (scale) before adamw, run 2 inside adamwAll.
      double clip = 0.37;
      double[] gClipped = Arrays.stream(gQ).map(x -> (float) (x * clip)).toArray();
      double[][] runs = new double[6][];
      for (int r = 0; r < 2; r++) {
        gpu.write(p, pQ);
        gpu.write(grad, gQ);
        gpu.write(m, mQ);
        gpu.write(v, vQ);
        if (r == 0) {
          gpu.scale(grad, clip);
          gpu.adamw(p, grad, m, v, lr, beta1, beta2, eps, decay, step);
        } else {
          gpu.write(v2, Arrays.stream(gpu.read(v2)).map(x -> x * x).toArray());
          gpu.adamwAll(List.of(p2, p), List.of(grad2, grad), List.of(m2, m), List.of(v2, v), clip, lr,
              beta1, beta2, eps, new double[] {0, decay}, step);
        }
        runs[3 * r] = gpu.read(p);
        runs[3 * r + 1] = gpu.read(m);
        runs[3 * r + 2] = gpu.read(v);
      }
      // The grouped update must give the single one's bits (the same per-element step).
      boolean repeats = Arrays.equals(runs[0], runs[3]) && Arrays.equals(runs[1], runs[4])
          && Arrays.equals(runs[2], runs[5]);
      double[][] ref;
      try (Tensor pc = tensor(cpu, pQ, n); Tensor gc = tensor(cpu, gClipped, n); Tensor mc = tensor(cpu, mQ, n);
          Tensor vc = tensor(cpu, vQ, n)) {
        cpu.adamw(pc, gc, mc, vc, lr, beta1, beta2, eps, decay, step);
        ref = new double[][] {cpu.read(pc), cpu.read(mc), cpu.read(vc)};
      }
      double[][] naive = OpsNaive.adamw(pQ, gClipped, mQ, vQ, lr, beta1, beta2, eps, decay, step);
      String[] names = {"param", "m", "v"};
      List<ParityCheck> checks = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        checks.add(ParityCheck.of("adamw", label, names[i], runs[i], naive[i], ref[i],
            ParityCheck.FORWARD_FACTOR, repeats));
      }
      return checks;
    }
  }

  // ---- helpers ----------------------------------------------------------------------------------

  /** Runs {@code backward} twice from {@code initial} in {@code acc}; returns both results. */
  private static double[][] twice(CudaBackend gpu, Tensor acc, double[] initial, Runnable backward) {
    double[][] runs = new double[2][];
    for (int r = 0; r < 2; r++) {
      gpu.write(acc, initial);
      backward.run();
      runs[r] = gpu.read(acc);
    }
    return runs;
  }

  private static int[] targets(Random random, int rows, int vocab) {
    int[] targets = new int[rows];
    for (int t = 0; t < rows; t++) {
      targets[t] = rows > 1 && random.nextInt(10) == 0 ? -1 : random.nextInt(vocab);
    }
    return targets;
  }

  /** 1 / counted targets, the mean loss's gradient scale; 1 when none counts. */
  private static float gradScale(int[] targets) {
    long counted = Arrays.stream(targets).filter(t -> t >= 0).count();
    return counted == 0 ? 1f : 1f / counted;
  }

  private static Tensor tensor(CpuBackend cpu, double[] values, int... dims) {
    Tensor t = cpu.tensor("ref", dims);
    cpu.write(t, values);
    return t;
  }

  private static double[] gaussian(Random random, int n, double sigma) {
    return KeyConvParity.gaussian(random, n, sigma);
  }

  /** {@code mean + sigma * N(0, 1)}: norm weights near 1. */
  private static double[] shifted(Random random, int n, double mean, double sigma) {
    double[] v = gaussian(random, n, sigma);
    for (int i = 0; i < n; i++) {
      v[i] += mean;
    }
    return v;
  }

  private static String name(DType t) {
    return t.name().toLowerCase(Locale.ROOT);
  }

  /** Closes the GPU tensors of one case, whatever it throws. */
  private static final class Owned implements AutoCloseable {
    private final List<Tensor> tensors = new ArrayList<>();

    Tensor add(Tensor t) {
      tensors.add(t);
      return t;
    }

    @Override
    public void close() {
      tensors.forEach(Tensor::close);
    }
  }
}
