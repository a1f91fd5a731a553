package io.mobaspark.jobs.pretrain;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Staging folders left by a killed executor are removed; those of live processes stay. */
class StagedRunDirSweepTest {

  @Test
  void foldersOfEndedProcessesAreRemovedAndTheRestKept(@TempDir Path tmp) throws Exception {
    Process ended = new ProcessBuilder("true").start();
    ended.waitFor();
    long dead = ended.pid();
    long self = ProcessHandle.current().pid();
    Path abandoned = Files.createDirectories(
        tmp.resolve(StagedRunDir.PREFIX + "1-pid" + dead + "-123/checkpoints/step-00000004"));
    Files.writeString(abandoned.resolve("model.safetensors"), "weights");
    Path live = Files.createDirectories(tmp.resolve(StagedRunDir.PREFIX + "0-pid" + self + "-456"));
    Path unowned = Files.createDirectories(tmp.resolve(StagedRunDir.PREFIX + "0-789"));
    Path other = Files.createDirectories(tmp.resolve("something-else-pid" + dead + "-1"));

    ByteArrayOutputStream out = new ByteArrayOutputStream();
    List<Path> removed = StagedRunDir.sweepAbandoned(tmp,
        new PrintStream(out, true, StandardCharsets.UTF_8));

    Path abandonedRoot = tmp.resolve(StagedRunDir.PREFIX + "1-pid" + dead + "-123");
    assertEquals(List.of(abandonedRoot), removed);
    assertFalse(Files.exists(abandonedRoot));
    assertTrue(Files.isDirectory(live) && Files.isDirectory(unowned) && Files.isDirectory(other));
    assertTrue(out.toString(StandardCharsets.UTF_8).contains("of ended process " + dead),
        out.toString(StandardCharsets.UTF_8));
  }
}
