package io.mobaspark.kernels.cpu;

import static io.mobaspark.kernels.cpu.CpuTestTensors.assertFloatRepresentable;
import static io.mobaspark.kernels.cpu.CpuTestTensors.assertRejected;
import static io.mobaspark.kernels.cpu.CpuTestTensors.ints;
import static io.mobaspark.kernels.cpu.CpuTestTensors.tensor;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import io.mobaspark.kernels.IntTensor;
import io.mobaspark.kernels.Precision;
import io.mobaspark.kernels.Tensor;
import io.mobaspark.kernels.testing.GradCheck;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class EmbeddingCpuTest {
  private final CpuBackend cpu = new CpuBackend(Precision.FLOAT64, 2);

  @AfterEach
  void close() {
    cpu.close();
  }

  @Test
  void forwardCopiesTheRowOfEachToken() {
    Tensor table = tensor(cpu, "table", new double[] {1, 2, 3, 4, 5, 6}, 3, 2); // [V=3, C=2]
    IntTensor tokens = ints(cpu, "tokens", new int[] {2, 0, 2, 1}, 4);
    Tensor out = cpu.tensor("out", 4, 2);

    cpu.embeddingForward(out, tokens, table);

    assertArrayEquals(new double[] {5, 6, 1, 2, 5, 6, 3, 4}, cpu.read(out));
  }

  @Test
  void backwardMatchesFiniteDifferencesAndAccumulates() {
    int vocab = 5;
    int channels = 3;
    int[] ids = {4, 1, 4, 0, 4, 2};
    double[] tableValues = GradCheck.random(1, vocab * channels, 1.0);
    double[] r = GradCheck.random(2, ids.length * channels, 1.0);
    Tensor table = tensor(cpu, "table", tableValues, vocab, channels);
    IntTensor tokens = ints(cpu, "tokens", ids, ids.length);
    Tensor out = cpu.tensor("out", ids.length, channels);
    double[] expected = GradCheck.numeric(tableValues, () -> {
      cpu.write(table, tableValues);
      cpu.embeddingForward(out, tokens, table);
      return GradCheck.dot(cpu.read(out), r);
    }, 1e-6);

    double[] initial = GradCheck.random(3, vocab * channels, 1.0);
    Tensor dTable = tensor(cpu, "dTable", initial, vocab, channels);
    cpu.embeddingBackward(dTable, tensor(cpu, "dOut", r, ids.length, channels), tokens);

    double[] accumulated = cpu.read(dTable);
    for (int i = 0; i < accumulated.length; i++) {
      accumulated[i] -= initial[i];
    }
    GradCheck.assertClose("dTable", expected, accumulated, 1e-6, 1e-9);
  }

  @Test
  void backwardIsBitwiseIndependentOfThreadCount() {
    int vocab = 7;
    int channels = 300;
    int[] ids = GradCheck.randomInts(4, 500, vocab);
    double[] dOut = GradCheck.random(5, ids.length * channels, 1.0);

    assertArrayEquals(backward(1, ids, dOut, vocab, channels),
        backward(3, ids, dOut, vocab, channels));
  }

  private static double[] backward(int threads, int[] ids, double[] dOutValues, int vocab,
      int channels) {
    try (CpuBackend backend = new CpuBackend(Precision.FLOAT64, threads)) {
      Tensor dTable = backend.tensor("dTable", vocab, channels);
      backend.embeddingBackward(dTable, tensor(backend, "dOut", dOutValues, ids.length, channels),
          ints(backend, "tokens", ids, ids.length));
      return backend.read(dTable);
    }
  }

  @Test
  void tokenOutsideTheVocabularyIsRejectedWithPositionAndValue() {
    Tensor table = cpu.tensor("table", 5, 2);
    Tensor out = cpu.tensor("out", 3, 2);

    assertRejected(() -> cpu.embeddingForward(out, ints(cpu, "tokens", new int[] {0, 4, 9}, 3),
        table), "tokens[2] = 9", "[0, 5)");
    assertRejected(() -> cpu.embeddingBackward(table, out,
        ints(cpu, "tokens", new int[] {0, -1, 1}, 3)), "tokens[1] = -1", "[0, 5)");
  }

  @Test
  void wrongShapesNameTheTensor() {
    IntTensor tokens = ints(cpu, "tokens", new int[] {0, 1, 2}, 3);

    assertRejected(() -> cpu.embeddingForward(cpu.tensor("out", 3, 4), tokens,
        cpu.tensor("table", 5, 2)), "out", "[3, 4]", "[3, 2]");
    assertRejected(() -> cpu.embeddingBackward(cpu.tensor("dTable", 5, 2, 1),
        cpu.tensor("dOut", 3, 2), tokens), "dTable", "rank 2");
  }

  @Test
  void float32StorageHoldsFloats() {
    try (CpuBackend f32 = new CpuBackend(Precision.FLOAT32, 2)) {
      IntTensor tokens = ints(f32, "tokens", new int[] {1, 1, 0}, 3);
      Tensor table = tensor(f32, "table", GradCheck.random(6, 8, 1.0), 2, 4);
      Tensor out = f32.tensor("out", 3, 4);
      Tensor dTable = f32.tensor("dTable", 2, 4);

      f32.embeddingForward(out, tokens, table);
      f32.embeddingBackward(dTable, tensor(f32, "dOut", GradCheck.random(7, 12, 1.0), 3, 4),
          tokens);

      assertFloatRepresentable("out", f32.read(out));
      assertFloatRepresentable("dTable", f32.read(dTable));
    }
  }
}
