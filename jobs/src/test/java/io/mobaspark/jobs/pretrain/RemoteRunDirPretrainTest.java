package io.mobaspark.jobs.pretrain;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mobaspark.jobs.TestSchemeFileSystem;
import io.mobaspark.trainer.checkpoint.CheckpointFiles;
import io.mobaspark.trainer.loop.TrainSummary;
import io.mobaspark.trainer.loop.TrainingLoop;
import io.mobaspark.trainer.testing.MetricsCurves;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The pretrain job with {@code run.dir} on a Hadoop FileSystem (the test scheme {@code mobatest:},
 * which is the local disk seen only through Hadoop's API), two ranks in local mode: checkpoints
 * are published with markers, and a second job resumes from the remote folder exactly as one run.
 */
class RemoteRunDirPretrainTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir static Path scratch;
  private static SparkSession spark;

  @BeforeAll
  static void startSparkAndPackData() throws IOException {
    spark = SparkSession.builder().master("local[2]").appName("RemoteRunDirPretrainTest")
        .config("spark.ui.enabled", "false")
        .config("spark.hadoop." + TestSchemeFileSystem.IMPL_KEY,
            TestSchemeFileSystem.class.getName())
        .getOrCreate();
    ResumableRuns.packData(scratch.resolve("data"));
  }

  @AfterAll
  static void stopSpark() {
    spark.stop();
  }

  @Test
  void aSecondJobResumesFromTheRemoteRunDirAsOneRunWouldIgnoringAnUnmarkedCheckpoint()
      throws IOException {
    Path reference = scratch.resolve("local");
    assertEquals(12, train(overrides(reference.toString(), 12)).stepsThisRun());

    Path remote = scratch.resolve("remote/run");
    String uri = TestSchemeFileSystem.uri(remote);
    assertEquals(8, train(overrides(uri, 8)).stepsThisRun());
    assertEquals(List.of("step-00000004", "step-00000008"), checkpointFolders(remote));
    // Step 10 as a crashed upload leaves it: all the files, no marker. Taken, it would fail.
    Path partial = Files.createDirectories(remote.resolve("checkpoints/step-00000010"));
    Files.copy(remote.resolve("checkpoints/step-00000008/" + CheckpointFiles.MODEL),
        partial.resolve(CheckpointFiles.MODEL));
    Files.writeString(partial.resolve(CheckpointFiles.STATE), "{torn");

    TrainSummary resumed = train(overrides(uri, 12));

    assertEquals(4, resumed.stepsThisRun(), "resumed from step 8, not the unmarked step 10");
    List<JsonNode> lines = MetricsCurves.read(remote);
    MetricsCurves.assertSameCurve(MetricsCurves.read(reference), lines, 0.0);
    assertEquals(List.of("step-00000008", "step-00000010", "step-00000012"),
        checkpointFolders(remote), "keep_checkpoints = 2 complete ones; the partial is left");
    for (String step : List.of("step-00000008", "step-00000012")) {
      assertTrue(Files.isRegularFile(remote.resolve("checkpoints").resolve(step)
          .resolve(RemoteCheckpoints.MARKER)), step);
    }
    assertFalse(Files.exists(partial.resolve(RemoteCheckpoints.MARKER)));
    assertEquals(Files.readString(remote.resolve(TrainingLoop.METRICS_FILE)),
        Files.readString(remote.resolve("checkpoints/step-00000012/" + TrainingLoop.METRICS_FILE)),
        "the newest checkpoint carries the metrics up to its step");
    assertEquals(uri, JSON.readTree(remote.resolve(TrainingLoop.CONFIG_FILE).toFile())
        .path("run").path("dir").asText());
    try (Stream<Path> all = Files.walk(remote)) {
      assertEquals(List.of(), all.map(p -> p.getFileName().toString())
          .filter(n -> n.startsWith(".tmp-")).toList(), "no temp files left");
    }

    // The same folder under another model: refused, naming the remote checkpoint.
    Map<String, String> otherModel = overrides(uri, 16);
    otherModel.put("model.ffn", "96");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> train(otherModel));
    assertTrue(e.getMessage().contains(uri + "/checkpoints/step-00000012/state.json was written "
        + "for a different model") && e.getMessage().contains("model.ffn"), e.getMessage());
  }

  @Test
  void aSchemeWithoutAFileSystemFailsBeforeAnyTaskNamingRunDir() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> train(overrides("nosuchfs://host/runs/a", 4)));
    assertTrue(e.getMessage().startsWith("run.dir = nosuchfs://host/runs/a: no Hadoop FileSystem"),
        e.getMessage());
  }

  private static TrainSummary train(Map<String, String> overrides) {
    return ResumableRuns.train(spark, overrides);
  }

  private static List<String> checkpointFolders(Path runDir) throws IOException {
    try (Stream<Path> children = Files.list(runDir.resolve("checkpoints"))) {
      return children.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  private static Map<String, String> overrides(String runDir, int maxSteps) {
    return ResumableRuns.overrides(scratch.resolve("data"), runDir, maxSteps);
  }
}
