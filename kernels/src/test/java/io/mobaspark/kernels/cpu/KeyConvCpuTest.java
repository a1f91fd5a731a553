package io.mobaspark.kernels.cpu;

import static io.mobaspark.kernels.cpu.CpuTestTensors.assertRejected;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import io.mobaspark.kernels.Backend;
import io.mobaspark.kernels.Precision;
import io.mobaspark.kernels.SeqLayout;
import io.mobaspark.kernels.Tensor;
import io.mobaspark.kernels.testing.GradCheck;
import java.util.Arrays;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** KeyConvCpu (FlashMoBA App. C): formula, gradients, accumulation, sequence restarts. */
class KeyConvCpuTest {
  private static final SeqLayout VARLEN = SeqLayout.of(0, 7, 8, 13);
  private static final int KV_HEADS = 2;
  private static final int DIM = 3;

  private static CpuBackend backend;

  @BeforeAll
  static void open() {
    backend = new CpuBackend(Precision.FLOAT64, 2);
  }

  @AfterAll
  static void close() {
    backend.close();
  }

  @ParameterizedTest
  @ValueSource(ints = {3, 5})
  void forwardMatchesTheFormula(int width) {
    double[] k = GradCheck.random(1, 13 * KV_HEADS * DIM, 1.0);
    double[] w = GradCheck.random(2, KV_HEADS * width * DIM, 1.0);
    GradCheck.assertClose("out", reference(k, w, width, VARLEN), forward(backend, k, w, width,
        VARLEN), 0, 1e-14);
  }

  @ParameterizedTest
  @ValueSource(ints = {3, 5})
  void gradientsMatchFiniteDifferences(int width) {
    double[] k = GradCheck.random(3, 13 * KV_HEADS * DIM, 1.0);
    double[] w = GradCheck.random(4, KV_HEADS * width * DIM, 1.0);
    double[] dOut = GradCheck.random(5, k.length, 1.0);
    double[] dWeightBefore = GradCheck.random(6, w.length, 1.0);
    double[][] grads = backward(backend, k, w, width, dOut, dWeightBefore, VARLEN);

    double[] numericDk = GradCheck.numeric(k,
        () -> GradCheck.dot(forward(backend, k, w, width, VARLEN), dOut), 1e-6);
    double[] numericDw = GradCheck.numeric(w,
        () -> GradCheck.dot(forward(backend, k, w, width, VARLEN), dOut), 1e-6);
    GradCheck.assertClose("dk", numericDk, grads[0], 1e-6, 1e-8);
    double[] expectedDw = numericDw.clone();
    for (int i = 0; i < expectedDw.length; i++) {
      expectedDw[i] += dWeightBefore[i]; // dWeight accumulates
    }
    GradCheck.assertClose("dWeight", expectedDw, grads[1], 1e-6, 1e-8);
  }

  @Test
  void packedDocumentsAreIndependent() {
    int width = 5;
    double[] k = GradCheck.random(7, 13 * KV_HEADS * DIM, 1.0);
    double[] w = GradCheck.random(8, KV_HEADS * width * DIM, 1.0);
    double[] dOut = GradCheck.random(9, k.length, 1.0);
    double[] packedOut = forward(backend, k, w, width, VARLEN);
    double[] packedDk = backward(backend, k, w, width, dOut, new double[w.length], VARLEN)[0];
    int row = KV_HEADS * DIM;
    for (int s = 0; s < VARLEN.sequences(); s++) {
      int from = VARLEN.start(s) * row;
      int to = VARLEN.end(s) * row;
      SeqLayout alone = SeqLayout.of(0, VARLEN.length(s));
      double[] kDoc = Arrays.copyOfRange(k, from, to);
      double[] dOutDoc = Arrays.copyOfRange(dOut, from, to);
      assertArrayEquals(Arrays.copyOfRange(packedOut, from, to),
          forward(backend, kDoc, w, width, alone), "out of document " + s);
      assertArrayEquals(Arrays.copyOfRange(packedDk, from, to),
          backward(backend, kDoc, w, width, dOutDoc, new double[w.length], alone)[0],
          "dk of document " + s);
    }
  }

  @Test
  void resultsDoNotDependOnThreadCount() {
    int width = 3;
    SeqLayout layout = SeqLayout.of(0, 300, 301, 700);
    double[] k = GradCheck.random(10, 700 * KV_HEADS * DIM, 1.0);
    double[] w = GradCheck.random(11, KV_HEADS * width * DIM, 1.0);
    double[] dOut = GradCheck.random(12, k.length, 1.0);
    double[][] expected;
    try (CpuBackend single = new CpuBackend(Precision.FLOAT64, 1)) {
      expected = backward(single, k, w, width, dOut, new double[w.length], layout);
    }
    try (CpuBackend multi = new CpuBackend(Precision.FLOAT64, 3)) {
      double[][] actual = backward(multi, k, w, width, dOut, new double[w.length], layout);
      assertArrayEquals(expected[0], actual[0], "dk");
      assertArrayEquals(expected[1], actual[1], "dWeight");
    }
  }

  @Test
  void weightOfWrongShapeIsRejected() {
    Tensor k = backend.tensor("k", 13, KV_HEADS, DIM);
    Tensor weight = backend.tensor("kconv_weight", KV_HEADS, 3, DIM + 1);
    Tensor out = backend.tensor("out", 13, KV_HEADS, DIM);
    assertRejected(() -> backend.keyConvForward(out, k, weight, VARLEN), "kconv_weight",
        "[2, 3, 4]", "[2, 3, 3]");
  }

  private static double[] forward(Backend b, double[] k, double[] w, int width, SeqLayout layout) {
    int tokens = layout.totalTokens();
    Tensor out = b.tensor("out", tokens, KV_HEADS, DIM);
    b.keyConvForward(out, keys(b, k, tokens), weight(b, w, width), layout);
    return b.read(out);
  }

  /** {dk, dWeight}; dWeight starts from {@code dWeightBefore}, dk from junk (it is overwritten). */
  private static double[][] backward(Backend b, double[] k, double[] w, int width, double[] dOut,
      double[] dWeightBefore, SeqLayout layout) {
    int tokens = layout.totalTokens();
    Tensor dk = keys(b, GradCheck.random(13, k.length, 9.0), tokens);
    Tensor dWeight = weight(b, dWeightBefore, width);
    b.keyConvBackward(dk, dWeight, keys(b, dOut, tokens), keys(b, k, tokens), weight(b, w, width),
        layout);
    return new double[][] {b.read(dk), b.read(dWeight)};
  }

  private static Tensor keys(Backend b, double[] values, int tokens) {
    Tensor t = b.tensor("k", tokens, KV_HEADS, DIM);
    b.write(t, values);
    return t;
  }

  private static Tensor weight(Backend b, double[] values, int width) {
    Tensor t = b.tensor("kconv_weight", KV_HEADS, width, DIM);
    b.write(t, values);
    return t;
  }

  /** {@code k_t + silu(sum_l w_l k_{t-l})} straight from the definition. */
  private static double[] reference(double[] k, double[] w, int width, SeqLayout layout) {
    double[] out = new double[k.length];
    for (int s = 0; s < layout.sequences(); s++) {
      for (int t = layout.start(s); t < layout.end(s); t++) {
        for (int g = 0; g < KV_HEADS; g++) {
          for (int d = 0; d < DIM; d++) {
            double z = 0;
            for (int l = 0; l < width && t - l >= layout.start(s); l++) {
              z += w[(g * width + l) * DIM + d] * k[((t - l) * KV_HEADS + g) * DIM + d];
            }
            int i = (t * KV_HEADS + g) * DIM + d;
            out[i] = k[i] + z / (1 + Math.exp(-z));
          }
        }
      }
    }
    return out;
  }
}
