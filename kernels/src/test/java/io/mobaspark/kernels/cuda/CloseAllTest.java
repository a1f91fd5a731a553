package io.mobaspark.kernels.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class CloseAllTest {

  @Test
  void everyStepRunsAfterAFailureAndTheFirstFailureIsThrownWithTheOthersSuppressed() {
    List<String> ran = new ArrayList<>();
    IllegalStateException sync = new IllegalStateException("cuStreamSynchronize: illegal address");
    IllegalStateException destroy = new IllegalStateException("cuStreamDestroy: illegal address");
    RuntimeException thrown = assertThrows(RuntimeException.class, () -> CloseAll.run(
        () -> {
          ran.add("synchronize");
          throw sync;
        },
        () -> ran.add("modules"),
        () -> {
          ran.add("stream");
          throw destroy;
        },
        () -> ran.add("release primary context")));
    assertEquals(List.of("synchronize", "modules", "stream", "release primary context"), ran);
    assertSame(sync, thrown);
    assertArrayEquals(new Throwable[] {destroy}, thrown.getSuppressed());
  }

  @Test
  void stepsThatAllSucceedRunInOrderAndThrowNothing() {
    List<Integer> ran = new ArrayList<>();
    CloseAll.run(() -> ran.add(1), () -> ran.add(2));
    assertEquals(List.of(1, 2), ran);
  }
}
