package io.mobaspark.kernels.lab;

import io.mobaspark.kernels.cuda.Bf16;
import io.mobaspark.kernels.cuda.DType;

/**
 * The pointwise ops computed naively in the CUDA kernels' precision: fp32 arithmetic in plain loop
 * order (sequential sums where the kernels use trees), results rounded to the output's dtype. The
 * "naive" of MOBA.md's tolerance policy for {@link OpsParity}: how far from float64 the same math
 * lands in this precision.
 */
final class OpsNaive {
  private OpsNaive() {}

  /** What a tensor of {@code dtype} stores for {@code x}. */
  static double store(DType dtype, double x) {
    return dtype == DType.BF16 ? Bf16.round(x) : (float) x;
  }

  /** out {@code [T, C]}: table rows, rounded to the output dtype. */
  static double[] embeddingForward(int[] tokens, double[] table, int channels, DType out) {
    double[] o = new double[tokens.length * channels];
    for (int t = 0; t < tokens.length; t++) {
      for (int c = 0; c < channels; c++) {
        o[t * channels + c] = store(out, table[tokens[t] * channels + c]);
      }
    }
    return o;
  }

  /** dTable fp32 {@code [V, C]} after adding dOut rows in token order. */
  static double[] embeddingBackward(double[] dTable, double[] dOut, int[] tokens, int channels) {
    float[] acc = toFloat(dTable);
    for (int t = 0; t < tokens.length; t++) {
      for (int c = 0; c < channels; c++) {
        acc[tokens[t] * channels + c] += (float) dOut[t * channels + c];
      }
    }
    return toDouble(acc);
  }

  /** {out [T, C], rstd [T]}. */
  static double[][] rmsNormForward(double[] x, double[] weight, int rows, int cols, float eps,
      DType act) {
    double[] out = new double[rows * cols];
    double[] rstd = new double[rows];
    for (int r = 0; r < rows; r++) {
      float sumSq = 0;
      for (int c = 0; c < cols; c++) {
        float v = (float) x[r * cols + c];
        sumSq += v * v;
      }
      float s = 1.0f / (float) Math.sqrt(sumSq / cols + eps);
      rstd[r] = s;
      for (int c = 0; c < cols; c++) {
        out[r * cols + c] = store(act, (float) x[r * cols + c] * s * (float) weight[c]);
      }
    }
    return new double[][] {out, rstd};
  }

  /** {dx [T, C] (accumulated into dxInitial), dWeight fp32 [C] (accumulated)}. */
  static double[][] rmsNormBackward(double[] dxInitial, double[] dwInitial, double[] dOut, double[] x,
      double[] weight, double[] rstd, int rows, int cols, DType act) {
    double[] dx = new double[rows * cols];
    float[] dw = toFloat(dwInitial);
    for (int r = 0; r < rows; r++) {
      int base = r * cols;
      float s = (float) rstd[r];
      float gx = 0;
      for (int c = 0; c < cols; c++) {
        gx += (float) dOut[base + c] * (float) weight[c] * (float) x[base + c];
      }
      float scaled = s * s * gx / cols;
      for (int c = 0; c < cols; c++) {
        float d = (float) dOut[base + c];
        float xv = (float) x[base + c];
        dx[base + c] = store(act, (float) dxInitial[base + c] + s * (d * (float) weight[c] - xv * scaled));
        dw[c] += d * xv * s;
      }
    }
    return new double[][] {dx, toDouble(dw)};
  }

  /** RoPE in fp32 with the angles' cos and sin from double; {@code direction} +1 or -1. */
  static double[] rope(double[] in, int[] positions, int heads, int dim, double theta, int direction,
      DType act) {
    int half = dim / 2;
    double[] out = new double[in.length];
    for (int t = 0; t < positions.length; t++) {
      for (int i = 0; i < half; i++) {
        double angle = positions[t] * Math.pow(theta, -2.0 * i / dim);
        float cos = (float) Math.cos(angle);
        float sin = (float) (direction * Math.sin(angle));
        for (int h = 0; h < heads; h++) {
          int base = (t * heads + h) * dim;
          float a = (float) in[base + i];
          float b = (float) in[base + half + i];
          out[base + i] = store(act, a * cos - b * sin);
          out[base + half + i] = store(act, b * cos + a * sin);
        }
      }
    }
    return out;
  }

  static double[] swigluForward(double[] gate, double[] up, DType act) {
    double[] out = new double[gate.length];
    for (int i = 0; i < out.length; i++) {
      float g = (float) gate[i];
      out[i] = store(act, g * sigmoid(g) * (float) up[i]);
    }
    return out;
  }

  /** {dGate, dUp}. */
  static double[][] swigluBackward(double[] dOut, double[] gate, double[] up, DType act) {
    double[] dGate = new double[gate.length];
    double[] dUp = new double[gate.length];
    for (int i = 0; i < gate.length; i++) {
      float g = (float) gate[i];
      float d = (float) dOut[i];
      float s = sigmoid(g);
      dUp[i] = store(act, d * g * s);
      dGate[i] = store(act, d * (float) up[i] * s * (1 + g * (1 - s)));
    }
    return new double[][] {dGate, dUp};
  }

  private static float sigmoid(float g) {
    if (g >= 0) {
      return 1.0f / (1.0f + (float) Math.exp(-g));
    }
    float e = (float) Math.exp(g);
    return e / (1.0f + e);
  }

  /** {losses [T], dLogits [T, V]} with sequential fp32 sums. */
  static double[][] crossEntropy(double[] logits, int[] targets, int vocab, float gradScale,
      DType grad) {
    int rows = targets.length;
    double[] losses = new double[rows];
    double[] dLogits = new double[rows * vocab];
    for (int r = 0; r < rows; r++) {
      int base = r * vocab;
      if (targets[r] < 0) {
        continue;
      }
      float max = Float.NEGATIVE_INFINITY;
      for (int v = 0; v < vocab; v++) {
        max = Math.max(max, (float) logits[base + v]);
      }
      float sum = 0;
      for (int v = 0; v < vocab; v++) {
        sum += (float) Math.exp((float) logits[base + v] - max);
      }
      float lse = max + (float) Math.log(sum);
      losses[r] = lse - (float) logits[base + targets[r]];
      for (int v = 0; v < vocab; v++) {
        float d = gradScale * (float) Math.exp((float) logits[base + v] - lse);
        dLogits[base + v] = store(grad, v == targets[r] ? d - gradScale : d);
      }
    }
    return new double[][] {losses, dLogits};
  }

  /** {param, m, v} after one fp32 AdamW step. */
  static double[][] adamw(double[] param, double[] grad, double[] m, double[] v, float lr, float beta1,
      float beta2, float eps, float decay, int step) {
    float c1 = (float) (1 - Math.pow(beta1, step));
    float c2 = (float) (1 - Math.pow(beta2, step));
    float[] p = toFloat(param);
    float[] mo = toFloat(m);
    float[] vo = toFloat(v);
    for (int i = 0; i < p.length; i++) {
      float g = (float) grad[i];
      mo[i] = beta1 * mo[i] + (1 - beta1) * g;
      vo[i] = beta2 * vo[i] + (1 - beta2) * g * g;
      float mHat = mo[i] / c1;
      float vHat = vo[i] / c2;
      p[i] -= lr * (mHat / ((float) Math.sqrt(vHat) + eps) + decay * p[i]);
    }
    return new double[][] {toDouble(p), toDouble(mo), toDouble(vo)};
  }

  private static float[] toFloat(double[] d) {
    float[] f = new float[d.length];
    for (int i = 0; i < d.length; i++) {
      f[i] = (float) d[i];
    }
    return f;
  }

  private static double[] toDouble(float[] f) {
    double[] d = new double[f.length];
    for (int i = 0; i < f.length; i++) {
      d[i] = f[i];
    }
    return d;
  }
}
