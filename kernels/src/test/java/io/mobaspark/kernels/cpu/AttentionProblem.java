package io.mobaspark.kernels.cpu;

import io.mobaspark.kernels.AttentionConfig;
import io.mobaspark.kernels.AttentionKind;
import io.mobaspark.kernels.Backend;
import io.mobaspark.kernels.IntTensor;
import io.mobaspark.kernels.SeqLayout;
import io.mobaspark.kernels.Tensor;
import io.mobaspark.kernels.testing.GradCheck;

/**
 * One attention problem on host arrays, run through the public {@link Backend} API: the config, the
 * packed layout, q {@code [T, H, D]}, k, v {@code [T, Hkv, D]} and, for MOBA, a routing table
 * {@code [H, T, topk]} that tests fill from {@link #route} or by hand. The arrays are live:
 * gradient checks perturb them in place between calls.
 */
final class AttentionProblem {
  final AttentionConfig config;
  final SeqLayout layout;
  final double[] q;
  final double[] k;
  final double[] v;
  int[] routing;

  record Forward(double[] out, double[] lse) {}

  record Gradients(double[] dq, double[] dk, double[] dv) {}

  /** Values uniform in [-1, 1), deterministic in {@code seed}. */
  AttentionProblem(AttentionConfig config, SeqLayout layout, long seed) {
    this.config = config;
    this.layout = layout;
    int tokens = layout.totalTokens();
    this.q = GradCheck.random(seed, tokens * config.heads() * config.headDim(), 1.0);
    this.k = GradCheck.random(seed + 1, tokens * config.kvHeads() * config.headDim(), 1.0);
    this.v = GradCheck.random(seed + 2, tokens * config.kvHeads() * config.headDim(), 1.0);
  }

  int tokens() {
    return layout.totalTokens();
  }

  /** The same q, k, v under another config (e.g. DENSE vs MOBA); MOBA keeps the routing. */
  AttentionProblem with(AttentionConfig other) {
    AttentionProblem copy = new AttentionProblem(other, layout, 0);
    System.arraycopy(q, 0, copy.q, 0, q.length);
    System.arraycopy(k, 0, copy.k, 0, k.length);
    System.arraycopy(v, 0, copy.v, 0, v.length);
    copy.routing = other.kind() == AttentionKind.MOBA ? routing : null;
    return copy;
  }

  /** Routes with {@link Backend#mobaRoute} on the current q and k, keeps and returns the table. */
  int[] route(Backend backend) {
    IntTensor table = backend.intTensor("routing", config.heads(), tokens(), config.topk());
    backend.mobaRoute(table, tensor(backend, "q", q, config.heads()),
        tensor(backend, "k", k, config.kvHeads()), config, layout);
    routing = backend.read(table);
    return routing;
  }

  Forward forward(Backend backend) {
    Tensor out = backend.tensor("out", tokens(), config.heads(), config.headDim());
    Tensor lse = backend.tensor("lse", config.heads(), tokens());
    backend.attentionForward(out, lse, tensor(backend, "q", q, config.heads()),
        tensor(backend, "k", k, config.kvHeads()), tensor(backend, "v", v, config.kvHeads()),
        routingTensor(backend), config, layout);
    return new Forward(backend.read(out), backend.read(lse));
  }

  /** Runs the forward, then the backward for {@code dOut} into gradient tensors full of junk. */
  Gradients backward(Backend backend, double[] dOut) {
    Tensor qt = tensor(backend, "q", q, config.heads());
    Tensor kt = tensor(backend, "k", k, config.kvHeads());
    Tensor vt = tensor(backend, "v", v, config.kvHeads());
    IntTensor rt = routingTensor(backend);
    Tensor out = backend.tensor("out", tokens(), config.heads(), config.headDim());
    Tensor lse = backend.tensor("lse", config.heads(), tokens());
    backend.attentionForward(out, lse, qt, kt, vt, rt, config, layout);
    // Junk in the outputs checks that the backward overwrites them.
    Tensor dq = tensor(backend, "dq", GradCheck.random(7, q.length, 9.0), config.heads());
    Tensor dk = tensor(backend, "dk", GradCheck.random(8, k.length, 9.0), config.kvHeads());
    Tensor dv = tensor(backend, "dv", GradCheck.random(9, v.length, 9.0), config.kvHeads());
    backend.attentionBackward(dq, dk, dv, tensor(backend, "dOut", dOut, config.heads()), qt, kt,
        vt, out, lse, rt, config, layout);
    return new Gradients(backend.read(dq), backend.read(dk), backend.read(dv));
  }

  /** {@code sum(out * weights)}: the loss whose dOut is {@code weights}. */
  double loss(Backend backend, double[] weights) {
    return GradCheck.dot(forward(backend).out(), weights);
  }

  private IntTensor routingTensor(Backend backend) {
    if (routing == null) {
      return null;
    }
    // Sized from the array, not the config, so that tests can pass a table of the wrong shape.
    int slots = routing.length / (config.heads() * tokens());
    IntTensor table = backend.intTensor("routing", config.heads(), tokens(), slots);
    backend.write(table, routing);
    return table;
  }

  private Tensor tensor(Backend backend, String name, double[] values, int heads) {
    Tensor t = backend.tensor(name, tokens(), heads, config.headDim());
    backend.write(t, values);
    return t;
  }
}
