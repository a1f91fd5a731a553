package io.mobaspark.kernels.lab;

import io.mobaspark.kernels.SeqLayout;
import io.mobaspark.kernels.cuda.Bf16;

/**
 * kconv in the CUDA kernel's precision for the tolerance policy's "naive" side: float32
 * arithmetic on the same bf16-rounded inputs, taps summed in the opposite order to the kernel's,
 * bf16 outputs rounded once. Layouts as KeyConvCpu: k, dOut [T, Hkv, D], weight [Hkv, W, D].
 */
final class KeyConvNaive {
  private KeyConvNaive() {}

  /** out [T, Hkv, D], rounded to bf16. */
  static double[] forward(double[] k, double[] weight, int kvHeads, int dim, int width,
      SeqLayout layout) {
    int channels = kvHeads * dim;
    int[] pos = layout.positions();
    double[] out = new double[k.length];
    for (int t = 0; t < pos.length; t++) {
      for (int c = 0; c < channels; c++) {
        float z = z(k, weight, t, pos[t], c, dim, width, channels);
        out[t * channels + c] = Bf16.round((float) k[t * channels + c] + z * sigmoid(z));
      }
    }
    return out;
  }

  /** Returns {dk [T, Hkv, D] rounded to bf16, dWeight [Hkv, W, D] = initial + float32 sums}. */
  static double[][] backward(double[] dOut, double[] k, double[] weight, double[] dWeightInitial,
      int kvHeads, int dim, int width, SeqLayout layout) {
    int channels = kvHeads * dim;
    int[] pos = layout.positions();
    int tokens = pos.length;
    float[] gz = new float[tokens * channels];
    for (int t = 0; t < tokens; t++) {
      for (int c = 0; c < channels; c++) {
        float z = z(k, weight, t, pos[t], c, dim, width, channels);
        float s = sigmoid(z);
        gz[t * channels + c] = (float) dOut[t * channels + c] * s * (1 + z * (1 - s));
      }
    }
    double[] dk = new double[k.length];
    float[] dw = new float[weight.length];
    for (int t = 0; t < tokens; t++) {
      for (int c = 0; c < channels; c++) {
        float grad = (float) dOut[t * channels + c];
        for (int l = width - 1; l >= 0; l--) {
          if (t + l < tokens && pos[t + l] >= l) {
            grad += (float) weight[index(c, l, dim, width)] * gz[(t + l) * channels + c];
          }
        }
        dk[t * channels + c] = Bf16.round(grad);
        for (int l = 0; l <= Math.min(width - 1, pos[t]); l++) {
          dw[index(c, l, dim, width)] += gz[t * channels + c] * (float) k[(t - l) * channels + c];
        }
      }
    }
    double[] dWeight = new double[weight.length];
    for (int i = 0; i < dWeight.length; i++) {
      dWeight[i] = (float) ((float) dWeightInitial[i] + dw[i]);
    }
    return new double[][] {dk, dWeight};
  }

  private static float z(double[] k, double[] weight, int t, int pos, int c, int dim, int width,
      int channels) {
    float z = 0;
    for (int l = Math.min(width - 1, pos); l >= 0; l--) {
      z += (float) weight[index(c, l, dim, width)] * (float) k[(t - l) * channels + c];
    }
    return z;
  }

  private static float sigmoid(float z) {
    return 1f / (1f + (float) Math.exp(-z));
  }

  /** Tap {@code l} of channel {@code c = g * D + d} in [Hkv, W, D]. */
  private static int index(int c, int l, int dim, int width) {
    return ((c / dim) * width + l) * dim + c % dim;
  }
}
