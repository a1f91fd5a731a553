package io.mobaspark.kernels.lab;

import io.mobaspark.kernels.AttentionConfig;
import io.mobaspark.kernels.IntTensor;
import io.mobaspark.kernels.SeqLayout;
import io.mobaspark.kernels.Tensor;
import io.mobaspark.kernels.cpu.CpuBackend;

/**
 * The float64 side of the MoBA parity checks: routing, attention forward and backward of a
 * {@link CpuBackend} on host arrays (the GPU's bf16 inputs, read back). The backward takes the
 * reference's own O and LSE.
 */
final class CpuAttention {
  private CpuAttention() {}

  /** routing {@code [H, T, topk]} of q {@code [T, H, D]} and k {@code [T, Hkv, D]}. */
  static int[] route(CpuBackend cpu, double[] q, double[] k, AttentionConfig c, SeqLayout layout) {
    int tokens = layout.totalTokens();
    try (Tensor qt = cpu.tensor("q", tokens, c.heads(), c.headDim());
        Tensor kt = cpu.tensor("k", tokens, c.kvHeads(), c.headDim());
        IntTensor routing = cpu.intTensor("routing", c.heads(), tokens, c.topk())) {
      cpu.write(qt, q);
      cpu.write(kt, k);
      cpu.mobaRoute(routing, qt, kt, c, layout);
      return cpu.read(routing);
    }
  }

  /** Forward and backward; {@code routing} is null for DENSE. */
  static AttentionOutputs run(CpuBackend cpu, double[] q, double[] k, double[] v, double[] dOut, int[] routing,
      AttentionConfig c, SeqLayout layout) {
    int tokens = layout.totalTokens();
    int[] qShape = {tokens, c.heads(), c.headDim()};
    int[] kShape = {tokens, c.kvHeads(), c.headDim()};
    try (Tensor qt = cpu.tensor("q", qShape); Tensor kt = cpu.tensor("k", kShape);
        Tensor vt = cpu.tensor("v", kShape); Tensor dOutT = cpu.tensor("dOut", qShape);
        Tensor out = cpu.tensor("out", qShape); Tensor lse = cpu.tensor("lse", c.heads(), tokens);
        Tensor dq = cpu.tensor("dq", qShape); Tensor dk = cpu.tensor("dk", kShape);
        Tensor dv = cpu.tensor("dv", kShape);
        IntTensor rt = routing == null ? null : cpu.intTensor("routing", c.heads(), tokens, c.topk())) {
      cpu.write(qt, q);
      cpu.write(kt, k);
      cpu.write(vt, v);
      cpu.write(dOutT, dOut);
      if (rt != null) {
        cpu.write(rt, routing);
      }
      cpu.attentionForward(out, lse, qt, kt, vt, rt, c, layout);
      cpu.attentionBackward(dq, dk, dv, dOutT, qt, kt, vt, out, lse, rt, c, layout);
      return new AttentionOutputs(cpu.read(out), cpu.read(lse), cpu.read(dq), cpu.read(dk), cpu.read(dv));
    }
  }
}
