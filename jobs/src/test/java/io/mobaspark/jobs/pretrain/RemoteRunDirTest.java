package io.mobaspark.jobs.pretrain;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mobaspark.jobs.DenyingFileSystem;
import io.mobaspark.jobs.TestSchemeFileSystem;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A run folder on a Hadoop FileSystem: first-use errors, whole-file replacement, the tail. */
class RemoteRunDirTest {
  @TempDir Path tmp;

  private static Configuration conf() {
    Configuration conf = new Configuration(false);
    conf.set(TestSchemeFileSystem.IMPL_KEY, TestSchemeFileSystem.class.getName());
    conf.set("fs." + DenyingFileSystem.SCHEME + ".impl", DenyingFileSystem.class.getName());
    return conf;
  }

  @Test
  void aSchemeWithoutAFileSystemIsNamedWithTheKeyAndTheFix() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> RemoteRunDir.open("nosuchfs://host/runs/a", conf()));
    assertTrue(e.getMessage().startsWith("run.dir = nosuchfs://host/runs/a: no Hadoop FileSystem "
        + "for the scheme 'nosuchfs:'") && e.getMessage().contains("spark.hadoop.fs.nosuchfs.impl"),
        e.getMessage());
  }

  @Test
  void aRunFolderThatCannotBeWrittenIsReportedBeforeTraining() {
    String uri = DenyingFileSystem.SCHEME + "://" + tmp.resolve("run");
    RemoteRunDir run = RemoteRunDir.open(uri, conf());
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, run::checkWritable);
    assertTrue(e.getMessage().startsWith("run.dir = " + uri + ": cannot create or write the run "
        + "folder") && e.getMessage().contains("Permission denied"), e.getMessage());
  }

  @Test
  void aWritableRunFolderIsCreatedAndTheProbeRemoved() throws Exception {
    RemoteRunDir.open(TestSchemeFileSystem.uri(tmp.resolve("run")), conf()).checkWritable();
    try (Stream<Path> children = Files.list(tmp.resolve("run"))) {
      assertEquals(List.of(), children.toList());
    }
  }

  @Test
  void replaceSwapsTheWholeFileAndTheTailReadsIt() throws Exception {
    RemoteRunDir run = RemoteRunDir.open(TestSchemeFileSystem.uri(tmp.resolve("run")), conf());
    MetricsTail tail = run.tail("metrics.jsonl");
    assertEquals(-1, tail.length());

    run.replace("metrics.jsonl", Files.writeString(tmp.resolve("a"), "{\"step\":1}\n"));
    run.replace("metrics.jsonl", Files.writeString(tmp.resolve("b"), "{\"step\":1}\n{\"step\":2}\n"));

    assertEquals(22, tail.length());
    assertEquals("{\"step\":2}\n", new String(tail.read(11, 11), StandardCharsets.UTF_8));
    try (Stream<Path> children = Files.list(tmp.resolve("run"))) {
      assertEquals(List.of("metrics.jsonl"),
          children.map(p -> p.getFileName().toString()).toList());
    }
  }

  @Test
  void leftoverTempFilesOfTheRunFolderAreRemoved() throws Exception {
    Path root = Files.createDirectories(tmp.resolve("run"));
    Files.writeString(root.resolve(".tmp-metrics.jsonl-1234"), "half");
    Files.writeString(root.resolve("config.json"), "{}");
    RemoteRunDir.open(TestSchemeFileSystem.uri(root), conf()).removeLeftoverTemps();
    try (Stream<Path> children = Files.list(root)) {
      assertEquals(List.of("config.json"), children.map(p -> p.getFileName().toString()).toList());
    }
  }
}
