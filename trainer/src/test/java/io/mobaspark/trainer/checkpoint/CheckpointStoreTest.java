package io.mobaspark.trainer.checkpoint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointStoreTest {
  @TempDir Path runDir;

  @Test
  void aWriterThatFailsLeavesNoCheckpointAndNoTempFolder() throws Exception {
    CheckpointStore store = new CheckpointStore(runDir);
    assertThrows(UncheckedIOException.class, () -> store.publish(5, folder -> {
          Files.writeString(folder.resolve(CheckpointFiles.MODEL), "half");
          throw new IOException("disk full");
        }));
    assertTrue(store.latest().isEmpty());
    assertEquals(List.of(), children(store.dir()));
  }

  @Test
  void onlyCompleteStepFoldersCount() throws Exception {
    CheckpointStore store = new CheckpointStore(runDir);
    store.publish(2, CheckpointStoreTest::complete);
    Files.createDirectories(store.dir().resolve("step-00000007"));
    Files.createDirectories(store.dir().resolve(".tmp-step-00000009-x"));
    complete(store.dir().resolve(".tmp-step-00000009-x"));
    Files.createDirectories(store.dir().resolve("notes"));
    assertEquals(2, store.latest().orElseThrow().step());

    store.removeLeftoverTemps();
    assertEquals(List.of("notes", "step-00000002", "step-00000007"), children(store.dir()));
  }

  @Test
  void publishingTheSameStepTwiceIsRefused() {
    CheckpointStore store = new CheckpointStore(runDir);
    store.publish(4, CheckpointStoreTest::complete);
    IllegalStateException e = assertThrows(IllegalStateException.class,
        () -> store.publish(4, CheckpointStoreTest::complete));
    assertTrue(e.getMessage().contains("step-00000004"), e.getMessage());
  }

  @Test
  void pruneKeepsTheNewest() throws Exception {
    CheckpointStore store = new CheckpointStore(runDir);
    for (int step : new int[] {100, 20, 300, 4000}) {
      store.publish(step, CheckpointStoreTest::complete);
    }
    store.prune(2);
    assertEquals(List.of("step-00000300", "step-00004000"), children(store.dir()));
    assertEquals(4000, store.latest().orElseThrow().step());
  }

  private static void complete(Path folder) throws IOException {
    for (String file : List.of(CheckpointFiles.MODEL, CheckpointFiles.OPTIMIZER,
        CheckpointFiles.STATE)) {
      Files.writeString(folder.resolve(file), "x");
    }
  }

  private static List<String> children(Path dir) throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }
}
