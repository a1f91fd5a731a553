package io.mobaspark.kernels.cpu;

import io.mobaspark.kernels.SeqLayout;

/**
 * kconv, the short causal depthwise convolution on the keys (FlashMoBA, arXiv 2511.11571, App. C):
 * {@code out_t = k_t + silu(z_t)}, {@code z_t = sum_{l<W} w_l * k_{t-l}}, per KV head and channel,
 * with {@code k_{t-l} = 0} before the start of the token's sequence. Layouts: k, out, dk
 * {@code [T, Hkv, D]}; weight, dWeight {@code [Hkv, W, D]}. It clusters neighbouring keys, so block
 * centroids separate better; it runs before both the router and the attention.
 *
 * <p>Backward, with {@code g_t = dOut_t * silu'(z_t)} (z recomputed):
 * {@code dk_t = dOut_t + sum_l w_l * g_{t+l}} (same sequence only) and
 * {@code dw_l += sum_t g_t * k_{t-l}}. dWeight sums over tokens in token order per channel, so it
 * does not depend on the thread count.
 */
final class KeyConvCpu {
  /** Tokens per task. */
  private static final int TOKENS_PER_TASK = 64;

  private KeyConvCpu() {}

  static void forward(Parallel parallel, double[] out, double[] k, double[] weight, int kvHeads,
      int headDim, int width, SeqLayout layout) {
    int channels = kvHeads * headDim; // one token's row [Hkv, D]
    int[] positions = layout.positions(); // [T]
    parallel.forRange(layout.totalTokens(), TOKENS_PER_TASK, (firstToken, endToken) -> {
      for (int t = firstToken; t < endToken; t++) {
        for (int c = 0; c < channels; c++) {
          double z = preActivation(k, weight, t, positions[t], c, channels, headDim, width);
          out[t * channels + c] = k[t * channels + c] + silu(z);
        }
      }
    });
  }

  static void backward(Parallel parallel, double[] dk, double[] dWeight, double[] dOut,
      double[] k, double[] weight, int kvHeads, int headDim, int width, SeqLayout layout) {
    int tokens = layout.totalTokens();
    int channels = kvHeads * headDim;
    int[] positions = layout.positions(); // [T]

    double[] dz = new double[tokens * channels]; // d loss / d z: [T, Hkv, D]
    parallel.forRange(tokens, TOKENS_PER_TASK, (firstToken, endToken) -> {
      for (int t = firstToken; t < endToken; t++) {
        for (int c = 0; c < channels; c++) {
          double z = preActivation(k, weight, t, positions[t], c, channels, headDim, width);
          dz[t * channels + c] = dOut[t * channels + c] * siluDerivative(z);
        }
      }
    });

    // k_t feeds z_{t+l} through w_l for every l with t+l in the same sequence, i.e. pos(t+l) >= l.
    parallel.forRange(tokens, TOKENS_PER_TASK, (firstToken, endToken) -> {
      for (int t = firstToken; t < endToken; t++) {
        for (int c = 0; c < channels; c++) {
          double grad = dOut[t * channels + c]; // the residual path
          for (int l = 0; l < width && t + l < tokens && positions[t + l] >= l; l++) {
            grad += weightAt(weight, c, l, headDim, width) * dz[(t + l) * channels + c];
          }
          dk[t * channels + c] = grad;
        }
      }
    });

    // One task per range of channels, each summing over all tokens in order.
    parallel.forRange(channels, 1, (firstChannel, endChannel) -> {
      double[] sums = new double[(endChannel - firstChannel) * width]; // [channels, W]
      for (int t = 0; t < tokens; t++) {
        for (int c = firstChannel; c < endChannel; c++) {
          for (int l = 0; l <= Math.min(width - 1, positions[t]); l++) {
            double tap = dz[t * channels + c] * k[(t - l) * channels + c];
            sums[(c - firstChannel) * width + l] += tap;
          }
        }
      }
      for (int c = firstChannel; c < endChannel; c++) {
        for (int l = 0; l < width; l++) {
          dWeight[weightIndex(c, l, headDim, width)] += sums[(c - firstChannel) * width + l];
        }
      }
    });
  }

  /** {@code z_t} of channel {@code c} (KV head and dim flattened) of token {@code t}. */
  private static double preActivation(double[] k, double[] weight, int t, int position, int c,
      int channels, int headDim, int width) {
    double z = 0;
    for (int l = 0; l <= Math.min(width - 1, position); l++) {
      z += weightAt(weight, c, l, headDim, width) * k[(t - l) * channels + c];
    }
    return z;
  }

  private static double weightAt(double[] weight, int c, int l, int headDim, int width) {
    return weight[weightIndex(c, l, headDim, width)];
  }

  /** Index of tap {@code l} of channel {@code c = kvHead * D + d} in weight {@code [Hkv, W, D]}. */
  private static int weightIndex(int c, int l, int headDim, int width) {
    int kvHead = c / headDim;
    int d = c % headDim;
    return (kvHead * width + l) * headDim + d;
  }

  private static double silu(double z) {
    return z / (1 + Math.exp(-z));
  }

  /** {@code d/dz z sigmoid(z) = sigmoid(z) (1 + z (1 - sigmoid(z)))}. */
  private static double siluDerivative(double z) {
    double sigmoid = 1 / (1 + Math.exp(-z));
    return sigmoid * (1 + z * (1 - sigmoid));
  }
}
