package io.mobaspark.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Folders left by a killed process are removed; those of live processes, and others, stay. */
class ProcessTempFoldersTest {
  private static final String PREFIX = "mobaspark-test-";

  @Test
  void foldersOfEndedProcessesAreRemovedAndTheRestKept(@TempDir Path tmp) throws Exception {
    long dead = endedProcessId();
    Path abandoned = Files.createDirectories(
        tmp.resolve(PREFIX + "pid" + dead + "-1-123/checkpoints/step-00000004"));
    Files.writeString(abandoned.resolve("model.safetensors"), "weights");
    Path live = ProcessTempFolders.create(tmp, PREFIX, "0-");
    Path unowned = Files.createDirectories(tmp.resolve(PREFIX + "0-789"));
    Path otherPrefix = Files.createDirectories(tmp.resolve("something-else-pid" + dead + "-1"));

    List<String> log = new ArrayList<>();
    List<Path> removed = ProcessTempFolders.sweepEnded(tmp, PREFIX, log::add);

    Path abandonedRoot = tmp.resolve(PREFIX + "pid" + dead + "-1-123");
    assertEquals(List.of(abandonedRoot), removed);
    assertFalse(Files.exists(abandonedRoot));
    assertTrue(Files.isDirectory(live) && Files.isDirectory(unowned)
        && Files.isDirectory(otherPrefix));
    assertTrue(live.getFileName().toString()
        .startsWith(PREFIX + "pid" + ProcessHandle.current().pid() + "-0-"), live.toString());
    assertTrue(log.toString().contains("of ended process " + dead), log.toString());
  }

  /** The id of a process that has exited (not reused this soon on a machine with free ids). */
  private static long endedProcessId() throws Exception {
    Process ended = new ProcessBuilder("true").start();
    ended.waitFor();
    return ended.pid();
  }
}
