package io.mobaspark.kernels.cuda;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class LaunchShapeTest {
  private static String failure(LaunchShape shape, int maxShared) {
    return assertThrows(IllegalArgumentException.class, () -> shape.validate("kconv.kconv_forward",
        maxShared)).getMessage();
  }

  @Test
  void validShapesPass() {
    assertDoesNotThrow(() -> LaunchShape.of(Integer.MAX_VALUE, 65535, 1024).validate("k", 0));
    assertDoesNotThrow(() -> new LaunchShape(1, 1, 1, 32, 32, 1, 227 * 1024).validate("k", 227 * 1024));
  }

  @Test
  void errorsNameTheKernelTheShapeAndTheLimit() {
    String message = failure(LaunchShape.of(0, 128), 0);
    assertTrue(message.contains("kconv.kconv_forward"), message);
    assertTrue(message.contains("grid (0, 1, 1) block (128, 1, 1) shared 0 B"), message);
    assertTrue(message.contains("at least 1"), message);
  }

  @Test
  void eachLimitIsChecked() {
    assertTrue(failure(LaunchShape.of(1L << 31, 128), 0).contains("grid exceeds"));
    assertTrue(failure(LaunchShape.of(1, 65536, 128), 0).contains("grid exceeds"));
    assertTrue(failure(LaunchShape.of(1, 1025), 0).contains("1024 threads"));
    assertTrue(failure(new LaunchShape(1, 1, 1, 32, 33, 1, 0), 0).contains("1024 threads"));
    assertTrue(failure(LaunchShape.of(1, 0), 0).contains("block dimension"));
    assertTrue(failure(new LaunchShape(1, 1, 1, 32, 1, 1, 49153), 49152).contains("shared memory"));
  }
}
