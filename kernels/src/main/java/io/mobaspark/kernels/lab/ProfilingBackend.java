package io.mobaspark.kernels.lab;

import io.mobaspark.kernels.AttentionConfig;
import io.mobaspark.kernels.Backend;
import io.mobaspark.kernels.IntTensor;
import io.mobaspark.kernels.SeqLayout;
import io.mobaspark.kernels.Tensor;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * A {@link Backend} that runs every op on a delegate and adds up its wall time per op name, for the
 * training labs' breakdown of where a step goes. On an asynchronous backend each op is bracketed by
 * {@code synchronize} (for CUDA: the context's), so the times are the ops' device times plus one
 * launch each; a profiled step is slower than an unprofiled one, and the labs report both.
 * The ops' results are the delegate's, unchanged. Matmuls are keyed by their shape, attention by kind.
 */
public final class ProfilingBackend implements Backend {
  private final Backend delegate;
  private final Runnable synchronize;
  private final Map<String, double[]> totals = new TreeMap<>(); // name -> {millis, calls}
  private boolean enabled = true;

  public ProfilingBackend(Backend delegate, Runnable synchronize) {
    this.delegate = delegate;
    this.synchronize = synchronize;
  }

  /** Stops or resumes timing (a disabled wrapper adds no synchronization). */
  public void enabled(boolean on) {
    enabled = on;
  }

  /** Forgets the totals so far (after warm-up). */
  public void reset() {
    totals.clear();
  }

  /** Milliseconds and calls per op name since the last reset, sorted by name. */
  public Map<String, double[]> totals() {
    return totals;
  }

  /** A table of the ops by total time, largest first, with each one's share. */
  public String table(int steps) {
    double all = totals.values().stream().mapToDouble(v -> v[0]).sum();
    StringBuilder b = new StringBuilder(String.format(Locale.ROOT, "%-44s %10s %8s %7s%n",
        "op", "ms/step", "calls", "share"));
    totals.entrySet().stream()
        .sorted((x, y) -> Double.compare(y.getValue()[0], x.getValue()[0]))
        .forEach(e -> b.append(String.format(Locale.ROOT, "%-44s %10.3f %8.0f %6.1f%%%n", e.getKey(),
            e.getValue()[0] / steps, e.getValue()[1] / steps, 100 * e.getValue()[0] / all)));
    b.append(String.format(Locale.ROOT, "%-44s %10.3f%n", "total", all / steps));
    return b.toString();
  }

  private void timed(String name, Runnable op) {
    if (!enabled) {
      op.run();
      return;
    }
    synchronize.run();
    long start = System.nanoTime();
    op.run();
    synchronize.run();
    double[] t = totals.computeIfAbsent(name, k -> new double[2]);
    t[0] += (System.nanoTime() - start) / 1e6;
    t[1]++;
  }

  private static String dims(Tensor t) {
    return java.util.Arrays.toString(t.shape().dims()).replace(" ", "");
  }

  @Override
  public String description() {
    return "profiled " + delegate.description();
  }

  @Override
  public Tensor tensor(String name, int... dims) {
    return delegate.tensor(name, dims);
  }

  @Override
  public Tensor fp32Tensor(String name, int... dims) {
    return delegate.fp32Tensor(name, dims);
  }

  @Override
  public boolean lowPrecisionActivations() {
    return delegate.lowPrecisionActivations();
  }

  @Override
  public Tensor view(Tensor t, String name, int... dims) {
    return delegate.view(t, name, dims);
  }

  @Override
  public IntTensor intTensor(String name, int... dims) {
    return delegate.intTensor(name, dims);
  }

  @Override
  public void write(Tensor dst, double[] src) {
    timed("write", () -> delegate.write(dst, src));
  }

  @Override
  public void write(Tensor dst, float[] src) {
    timed("write(float)", () -> delegate.write(dst, src));
  }

  @Override
  public void readFloats(Tensor src, float[] dst) {
    timed("readFloats", () -> delegate.readFloats(src, dst));
  }

  /** Times the start of the copies only: they run beside the ops that follow. */
  @Override
  public io.mobaspark.kernels.HostCopy readFloatsLater(java.util.List<? extends Tensor> src,
      java.util.List<float[]> dst) {
    io.mobaspark.kernels.HostCopy[] copy = new io.mobaspark.kernels.HostCopy[1];
    timed("readFloatsLater", () -> copy[0] = delegate.readFloatsLater(src, dst));
    return copy[0];
  }

  @Override
  public void write(IntTensor dst, int[] src) {
    timed("write(int)", () -> delegate.write(dst, src));
  }

  @Override
  public double[] read(Tensor src) {
    double[][] out = new double[1][];
    timed("read", () -> out[0] = delegate.read(src));
    return out[0];
  }

  @Override
  public int[] read(IntTensor src) {
    int[][] out = new int[1][];
    timed("read(int)", () -> out[0] = delegate.read(src));
    return out[0];
  }

  @Override
  public void zero(Tensor t) {
    timed("zero", () -> delegate.zero(t));
  }

  @Override
  public void zeroAll(List<? extends Tensor> tensors) {
    timed("zero", () -> delegate.zeroAll(tensors));
  }

  @Override
  public void copy(Tensor dst, Tensor src) {
    timed("copy", () -> delegate.copy(dst, src));
  }

  @Override
  public void copyAll(List<? extends Tensor> dst, List<? extends Tensor> src) {
    timed("copy", () -> delegate.copyAll(dst, src));
  }

  @Override
  public void addInPlace(Tensor dst, Tensor src) {
    timed("addInPlace", () -> delegate.addInPlace(dst, src));
  }

  @Override
  public void scale(Tensor t, double factor) {
    timed("scale", () -> delegate.scale(t, factor));
  }

  @Override
  public double sumOfSquares(Tensor t) {
    double[] out = new double[1];
    timed("sumOfSquares", () -> out[0] = delegate.sumOfSquares(t));
    return out[0];
  }

  @Override
  public double[] sumsOfSquares(List<? extends Tensor> tensors) {
    double[][] out = new double[1][];
    timed("sumsOfSquares", () -> out[0] = delegate.sumsOfSquares(tensors));
    return out[0];
  }

  @Override
  public boolean allFinite(Tensor t) {
    boolean[] out = new boolean[1];
    timed("allFinite", () -> out[0] = delegate.allFinite(t));
    return out[0];
  }

  @Override
  public void embeddingForward(Tensor out, IntTensor tokens, Tensor table) {
    timed("embeddingForward", () -> delegate.embeddingForward(out, tokens, table));
  }

  @Override
  public void embeddingBackward(Tensor dTable, Tensor dOut, IntTensor tokens) {
    timed("embeddingBackward", () -> delegate.embeddingBackward(dTable, dOut, tokens));
  }

  @Override
  public void rmsNormForward(Tensor out, Tensor rstd, Tensor x, Tensor weight, double eps) {
    timed("rmsNormForward", () -> delegate.rmsNormForward(out, rstd, x, weight, eps));
  }

  @Override
  public void rmsNormBackward(Tensor dx, Tensor dWeight, Tensor dOut, Tensor x, Tensor weight,
      Tensor rstd) {
    timed("rmsNormBackward", () -> delegate.rmsNormBackward(dx, dWeight, dOut, x, weight, rstd));
  }

  @Override
  public void ropeForward(Tensor out, Tensor x, IntTensor positions, int heads, double theta) {
    timed("ropeForward", () -> delegate.ropeForward(out, x, positions, heads, theta));
  }

  @Override
  public void ropeBackward(Tensor dx, Tensor dOut, IntTensor positions, int heads, double theta) {
    timed("ropeBackward", () -> delegate.ropeBackward(dx, dOut, positions, heads, theta));
  }

  /** Keyed as {@code matmul a[..](T) b[..](T) +=}, so each of the model's GEMM shapes shows apart. */
  @Override
  public void matmul(Tensor out, Tensor a, Tensor b, boolean transA, boolean transB,
      boolean accumulate) {
    timed(matmulName(a, b, transA, transB, accumulate ? " +=" : ""),
        () -> delegate.matmul(out, a, b, transA, transB, accumulate));
  }

  /** Keyed as {@code matmul a[..](T) b[..](T) + addend}: apart from the copy-and-+= it replaces. */
  @Override
  public void matmulAdd(Tensor out, Tensor addend, Tensor a, Tensor b, boolean transA,
      boolean transB) {
    timed(matmulName(a, b, transA, transB, " + addend"),
        () -> delegate.matmulAdd(out, addend, a, b, transA, transB));
  }

  private static String matmulName(Tensor a, Tensor b, boolean transA, boolean transB,
      String suffix) {
    return "matmul " + dims(a) + (transA ? "T" : "") + " " + dims(b) + (transB ? "T" : "") + suffix;
  }

  @Override
  public void swigluForward(Tensor out, Tensor gate, Tensor up) {
    timed("swigluForward", () -> delegate.swigluForward(out, gate, up));
  }

  @Override
  public void swigluProjections(Tensor act, Tensor gate, Tensor up, Tensor x, Tensor wGate,
      Tensor wUp) {
    timed("swigluProjections " + dims(x) + " " + dims(wGate) + "T",
        () -> delegate.swigluProjections(act, gate, up, x, wGate, wUp));
  }

  @Override
  public void swigluBackward(Tensor dGate, Tensor dUp, Tensor dOut, Tensor gate, Tensor up) {
    timed("swigluBackward", () -> delegate.swigluBackward(dGate, dUp, dOut, gate, up));
  }

  @Override
  public void crossEntropy(Tensor losses, Tensor dLogits, Tensor logits, IntTensor targets,
      double gradScale) {
    timed("crossEntropy", () -> delegate.crossEntropy(losses, dLogits, logits, targets, gradScale));
  }

  @Override
  public void mobaRoute(IntTensor routing, Tensor q, Tensor k, AttentionConfig config,
      SeqLayout layout) {
    timed("mobaRoute", () -> delegate.mobaRoute(routing, q, k, config, layout));
  }

  @Override
  public void attentionForward(Tensor out, Tensor lse, Tensor q, Tensor k, Tensor v,
      IntTensor routing, AttentionConfig config, SeqLayout layout) {
    timed("attentionForward " + config.kind(),
        () -> delegate.attentionForward(out, lse, q, k, v, routing, config, layout));
  }

  @Override
  public void attentionBackward(Tensor dq, Tensor dk, Tensor dv, Tensor dOut, Tensor q, Tensor k,
      Tensor v, Tensor out, Tensor lse, IntTensor routing, AttentionConfig config,
      SeqLayout layout) {
    timed("attentionBackward " + config.kind(), () -> delegate.attentionBackward(dq, dk, dv, dOut,
        q, k, v, out, lse, routing, config, layout));
  }

  @Override
  public void keyConvForward(Tensor out, Tensor k, Tensor weight, SeqLayout layout) {
    timed("keyConvForward", () -> delegate.keyConvForward(out, k, weight, layout));
  }

  @Override
  public void keyConvBackward(Tensor dk, Tensor dWeight, Tensor dOut, Tensor k, Tensor weight,
      SeqLayout layout) {
    timed("keyConvBackward", () -> delegate.keyConvBackward(dk, dWeight, dOut, k, weight, layout));
  }

  @Override
  public void adamw(Tensor param, Tensor grad, Tensor m, Tensor v, double lr, double beta1,
      double beta2, double eps, double weightDecay, int step) {
    timed("adamw", () -> delegate.adamw(param, grad, m, v, lr, beta1, beta2, eps, weightDecay, step));
  }

  @Override
  public void adamwAll(List<? extends Tensor> params, List<? extends Tensor> grads,
      List<? extends Tensor> m, List<? extends Tensor> v, double gradScale, double lr, double beta1,
      double beta2, double eps, double[] weightDecays, int step) {
    timed("adamw", () -> delegate.adamwAll(params, grads, m, v, gradScale, lr, beta1, beta2, eps,
        weightDecays, step));
  }

  /** Closes the delegate. */
  @Override
  public void close() {
    delegate.close();
  }
}
