package io.mobaspark.jobs.pretrain;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mobaspark.jobs.TestSchemeFileSystem;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.util.Progressable;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The commit protocol of checkpoints on a Hadoop FileSystem: temp folder, rename, marker last. */
class RemoteCheckpointsTest {
  @TempDir Path tmp;
  private Path runDir;
  private RemoteCheckpoints checkpoints;

  /** Records the writes and renames it is asked for, in order, under the scheme mobarec:. */
  public static class RecordingFileSystem extends TestSchemeFileSystem {
    static final List<String> OPS = Collections.synchronizedList(new ArrayList<>());

    @Override
    public String getScheme() {
      return "mobarec";
    }

    @Override
    public FSDataOutputStream create(org.apache.hadoop.fs.Path f, boolean overwrite,
        int bufferSize, short replication, long blockSize, Progressable progress)
        throws IOException {
      OPS.add("create " + f.getName());
      return super.create(f, overwrite, bufferSize, replication, blockSize, progress);
    }

    @Override
    public boolean rename(org.apache.hadoop.fs.Path src, org.apache.hadoop.fs.Path dst)
        throws IOException {
      OPS.add("rename " + src.getName().replaceAll("-[0-9a-f-]{36}$", "") + " " + dst.getName());
      return super.rename(src, dst);
    }

    @Override
    public boolean delete(org.apache.hadoop.fs.Path p, boolean recursive) throws IOException {
      boolean deleted = super.delete(p, recursive);
      if (deleted) {
        OPS.add("delete " + p.getParent().getName() + "/" + p.getName());
      }
      return deleted;
    }
  }

  @BeforeEach
  void openTheRunFolder() {
    runDir = tmp.resolve("run");
    checkpoints = open(TestSchemeFileSystem.uri(runDir)).checkpoints();
  }

  private static RemoteRunDir open(String uri) {
    Configuration conf = new Configuration(false);
    conf.set(TestSchemeFileSystem.IMPL_KEY, TestSchemeFileSystem.class.getName());
    conf.set("fs.mobarec.impl", RecordingFileSystem.class.getName());
    return RemoteRunDir.open(uri, conf);
  }

  private Map<String, Path> files(String... namesAndContents) throws IOException {
    Path folder = Files.createTempDirectory(tmp, "local");
    Map<String, Path> files = new LinkedHashMap<>();
    for (int i = 0; i < namesAndContents.length; i += 2) {
      files.put(namesAndContents[i],
          Files.writeString(folder.resolve(namesAndContents[i]), namesAndContents[i + 1]));
    }
    return files;
  }

  private Path stepDir(int step) {
    return runDir.resolve("checkpoints").resolve(String.format("step-%08d", step));
  }

  private List<String> leftovers() throws IOException {
    try (Stream<Path> children = Files.list(runDir.resolve("checkpoints"))) {
      return children.map(p -> p.getFileName().toString()).filter(n -> n.startsWith(".tmp-"))
          .toList();
    }
  }

  @Test
  void aPublishedCheckpointHasItsFilesAndItsMarkerAndIsTheLatest() throws IOException {
    checkpoints.publish(10, files("state.json", "{\"step\":10}", "metrics.jsonl", "m10\n"));

    Path published = stepDir(10);
    assertEquals("{\"step\":10}", Files.readString(published.resolve("state.json")));
    assertEquals("m10\n", Files.readString(published.resolve("metrics.jsonl")));
    assertTrue(Files.isRegularFile(published.resolve(RemoteCheckpoints.MARKER)));
    assertEquals(List.of(), leftovers());
    RemoteCheckpoints.Checkpoint latest = checkpoints.latest().orElseThrow();
    assertEquals(10, latest.step());
    Path copy = tmp.resolve("down/state.json");
    checkpoints.download(latest, "state.json", copy);
    assertEquals("{\"step\":10}", Files.readString(copy));
  }

  @Test
  void theMarkerIsWrittenLastAfterTheRenameOfACompleteFolder() throws IOException {
    RemoteCheckpoints recorded = open("mobarec://" + runDir).checkpoints();
    RecordingFileSystem.OPS.clear();
    recorded.publish(10, files("model.safetensors", "w", "state.json", "s"));
    assertEquals(List.of("create model.safetensors", "create state.json",
        "rename .tmp-step-00000010 step-00000010", "create " + RemoteCheckpoints.MARKER),
        RecordingFileSystem.OPS);
  }

  @Test
  void aStepFolderWithoutItsMarkerIsIgnoredAndReplacedWhenThatStepIsPublished()
      throws IOException {
    checkpoints.publish(10, files("state.json", "10"));
    // An upload that crashed after the rename (HDFS) or during the copy (an object store).
    Files.createDirectories(stepDir(20));
    Files.writeString(stepDir(20).resolve("state.json"), "torn");
    Files.writeString(stepDir(20).resolve("stale.bin"), "from the crashed upload");

    assertEquals(10, checkpoints.latest().orElseThrow().step());
    assertEquals(List.of(10), checkpoints.complete().stream()
        .map(RemoteCheckpoints.Checkpoint::step).toList());

    checkpoints.publish(20, files("state.json", "20"));
    assertEquals(20, checkpoints.latest().orElseThrow().step());
    assertEquals("20", Files.readString(stepDir(20).resolve("state.json")));
    assertFalse(Files.exists(stepDir(20).resolve("stale.bin")), "replaced, not merged");
  }

  @Test
  void aCompleteCheckpointIsNeverOverwritten() throws IOException {
    checkpoints.publish(10, files("state.json", "first"));
    IllegalStateException e = assertThrows(IllegalStateException.class,
        () -> checkpoints.publish(10, files("state.json", "second")));
    assertTrue(e.getMessage().contains("step-00000010") && e.getMessage().contains("already exists"),
        e.getMessage());
    assertEquals("first", Files.readString(stepDir(10).resolve("state.json")));
    assertEquals(List.of(), leftovers());
  }

  @Test
  void aFailedUploadLeavesNoTempFolderAndNoCheckpoint() throws IOException {
    checkpoints.publish(10, files("state.json", "10"));
    Map<String, Path> missing = files("state.json", "20");
    missing.put("model.safetensors", tmp.resolve("no-such-file"));
    UncheckedIOException e = assertThrows(UncheckedIOException.class,
        () -> checkpoints.publish(20, missing));
    assertTrue(e.getMessage().contains("cannot upload checkpoint")
        && e.getMessage().contains("step-00000020"), e.getMessage());
    assertEquals(List.of(), leftovers());
    assertFalse(Files.exists(stepDir(20)));
    assertEquals(10, checkpoints.latest().orElseThrow().step());
  }

  @Test
  void pruningKeepsTheNewestCompleteOnesAndDeletesTheMarkerFirst() throws IOException {
    RemoteCheckpoints recorded = open("mobarec://" + runDir).checkpoints();
    for (int step : new int[] {10, 20, 30}) {
      recorded.publish(step, files("state.json", Integer.toString(step)));
    }
    Files.createDirectories(stepDir(25)); // no marker: not a checkpoint, not counted
    RecordingFileSystem.OPS.clear();

    recorded.prune(2);

    assertEquals(List.of(20, 30), recorded.complete().stream()
        .map(RemoteCheckpoints.Checkpoint::step).toList());
    assertFalse(Files.exists(stepDir(10)));
    assertTrue(Files.exists(stepDir(25)));
    assertEquals(List.of("delete step-00000010/" + RemoteCheckpoints.MARKER,
        "delete checkpoints/step-00000010"), RecordingFileSystem.OPS);
  }

  @Test
  void leftoverTempFoldersAreRemovedAndCheckpointsKept() throws IOException {
    checkpoints.publish(10, files("state.json", "10"));
    Path temp = runDir.resolve("checkpoints/.tmp-step-00000020-0000");
    Files.createDirectories(temp);
    Files.writeString(temp.resolve("model.safetensors"), "half");

    checkpoints.removeLeftoverTemps();

    assertFalse(Files.exists(temp));
    assertEquals(10, checkpoints.latest().orElseThrow().step());
  }

  @Test
  void aRunFolderWithoutCheckpointsHasNone() {
    assertTrue(checkpoints.latest().isEmpty());
    checkpoints.removeLeftoverTemps();
    checkpoints.prune(1);
  }
}
