package io.mobaspark.kernels.lab;

import io.mobaspark.kernels.SeqLayout;
import io.mobaspark.kernels.cuda.Bf16;

/**
 * MoBA (or dense causal, or sliding-window) attention in the CUDA kernels' precision for the tolerance policy's
 * "naive" side (MOBA.md): float32 arithmetic on the same bf16 inputs, one query row at a time in
 * key order, with P and dS rounded to bf16 where the kernels feed them to the tensor cores and every
 * bf16 output rounded once. Layouts as the Backend: q, out, dOut {@code [T, H, D]}; k, v
 * {@code [T, Hkv, D]}; lse {@code [H, T]}; routing {@code [H, T, topk]} (null: dense, or sliding
 * when {@code window > 0}).
 */
final class MobaNaive {
  private MobaNaive() {}

  static AttentionOutputs run(double[] q, double[] k, double[] v, double[] dOut, int[] routing, int heads,
      int kvHeads, int dim, int blockSize, int topk, int window, SeqLayout layout) {
    int tokens = layout.totalTokens();
    int group = heads / kvHeads;
    float scale = (float) (1.0 / Math.sqrt(dim));
    int[] pos = layout.positions();
    double[] out = new double[tokens * heads * dim];
    double[] lse = new double[heads * tokens];
    double[] dq = new double[out.length];
    float[] dkAcc = new float[tokens * kvHeads * dim];
    float[] dvAcc = new float[dkAcc.length];
    for (int h = 0; h < heads; h++) {
      int g = h / group;
      for (int t = 0; t < tokens; t++) {
        int visible = window > 0 ? Math.min(window, pos[t] + 1) : pos[t] + 1; // without routing
        int[] keys = routing == null ? windowKeys(t, visible)
            : routedKeys(routing, h, t, tokens, pos[t], blockSize, topk);
        int qRow = (t * heads + h) * dim;
        float[] s = new float[keys.length];
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < keys.length; i++) {
          s[i] = dot(q, qRow, k, (keys[i] * kvHeads + g) * dim, dim) * scale;
          max = Math.max(max, s[i]);
        }
        float sum = 0;
        for (float x : s) {
          sum += (float) Math.exp(x - max);
        }
        float l = max + (float) Math.log(sum);
        lse[h * tokens + t] = l;
        float[] p = new float[keys.length];
        float[] o = new float[dim];
        for (int i = 0; i < keys.length; i++) {
          p[i] = (float) Bf16.round((float) Math.exp(s[i] - l));
          int vRow = (keys[i] * kvHeads + g) * dim;
          for (int x = 0; x < dim; x++) {
            o[x] += p[i] * (float) v[vRow + x];
          }
        }
        float delta = 0;
        for (int x = 0; x < dim; x++) {
          out[qRow + x] = Bf16.round(o[x]);
          delta += (float) dOut[qRow + x] * (float) out[qRow + x];
        }
        float[] dqRow = new float[dim];
        for (int i = 0; i < keys.length; i++) {
          int kvRow = (keys[i] * kvHeads + g) * dim;
          float dp = dot(dOut, qRow, v, kvRow, dim);
          float ds = (float) Bf16.round(p[i] * (dp - delta));
          for (int x = 0; x < dim; x++) {
            dqRow[x] += scale * ds * (float) k[kvRow + x];
            dkAcc[kvRow + x] += scale * ds * (float) q[qRow + x];
            dvAcc[kvRow + x] += p[i] * (float) dOut[qRow + x];
          }
        }
        for (int x = 0; x < dim; x++) {
          dq[qRow + x] = Bf16.round(dqRow[x]);
        }
      }
    }
    return new AttentionOutputs(out, lse, dq, rounded(dkAcc), rounded(dvAcc));
  }

  /** The last {@code count} keys up to and including {@code t}: {@code [t - count + 1, t]}. */
  private static int[] windowKeys(int t, int count) {
    int[] keys = new int[count];
    for (int i = 0; i < count; i++) {
      keys[i] = t - count + 1 + i;
    }
    return keys;
  }

  /** The keys of the routed blocks, ascending; the own block only up to the query. */
  private static int[] routedKeys(int[] routing, int h, int t, int tokens, int pos, int blockSize,
      int topk) {
    int start = t - pos;
    int[] keys = new int[pos + 1];
    int n = 0;
    for (int slot = 0; slot < topk; slot++) {
      int j = routing[(h * tokens + t) * topk + slot];
      if (j < 0) {
        break;
      }
      int hi = Math.min(start + (j + 1) * blockSize, t + 1);
      for (int key = start + j * blockSize; key < hi; key++) {
        keys[n++] = key;
      }
    }
    return java.util.Arrays.copyOf(keys, n);
  }

  private static float dot(double[] a, int aOff, double[] b, int bOff, int dim) {
    float s = 0;
    for (int x = 0; x < dim; x++) {
      s += (float) a[aOff + x] * (float) b[bOff + x];
    }
    return s;
  }

  private static double[] rounded(float[] values) {
    double[] out = new double[values.length];
    for (int i = 0; i < values.length; i++) {
      out[i] = Bf16.round(values[i]);
    }
    return out;
  }
}
