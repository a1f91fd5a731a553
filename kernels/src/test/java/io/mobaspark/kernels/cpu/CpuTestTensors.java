package io.mobaspark.kernels.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mobaspark.kernels.Backend;
import io.mobaspark.kernels.IntTensor;
import io.mobaspark.kernels.Tensor;
import org.junit.jupiter.api.function.Executable;

/** Shorthand for the CPU op tests: tensors filled from arrays, and the assertions they share. */
final class CpuTestTensors {
  private CpuTestTensors() {}

  static Tensor tensor(Backend backend, String name, double[] values, int... dims) {
    Tensor t = backend.tensor(name, dims);
    backend.write(t, values);
    return t;
  }

  static IntTensor ints(Backend backend, String name, int[] values, int... dims) {
    IntTensor t = backend.intTensor(name, dims);
    backend.write(t, values);
    return t;
  }

  /** Every value survives a round trip through float: what float32 storage promises. */
  static void assertFloatRepresentable(String what, double[] values) {
    for (int i = 0; i < values.length; i++) {
      assertEquals(values[i], (double) (float) values[i], 0.0, what + "[" + i + "]");
    }
  }

  /** The call throws {@link IllegalArgumentException} whose message contains every fragment. */
  static void assertRejected(Executable call, String... fragments) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
    for (String fragment : fragments) {
      assertTrue(e.getMessage().contains(fragment),
          "message '" + e.getMessage() + "' should contain '" + fragment + "'");
    }
  }
}
