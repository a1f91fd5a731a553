package io.mobaspark.jobs.pretrain;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mobaspark.trainer.loop.TrainSummary;
import io.mobaspark.trainer.loop.TrainingLoop;
import io.mobaspark.trainer.testing.MetricsCurves;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.hdfs.MiniDFSCluster;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The pretrain job with {@code run.dir} on a real HDFS: an in-process MiniDFSCluster (one name node,
 * one data node) of the Hadoop version Spark ships. Two ranks in local mode train 8 steps into
 * {@code hdfs://.../runs/a}, a second job resumes there to 12, and the metrics equal one local run of
 * 12 steps; the checkpoints on HDFS carry their completion markers.
 */
class HdfsRunDirPretrainTest {
  @TempDir static Path scratch;
  private static MiniDFSCluster hdfs;
  private static SparkSession spark;

  @BeforeAll
  static void startHdfsAndSpark() throws IOException {
    Configuration conf = new Configuration();
    conf.set(MiniDFSCluster.HDFS_MINIDFS_BASEDIR, scratch.resolve("hdfs").toString());
    hdfs = new MiniDFSCluster.Builder(conf).numDataNodes(1).build();
    hdfs.waitActive();
    spark = SparkSession.builder().master("local[2]").appName("HdfsRunDirPretrainTest")
        .config("spark.ui.enabled", "false").getOrCreate();
    ResumableRuns.packData(scratch.resolve("data"));
  }

  @AfterAll
  static void stop() {
    if (spark != null) {
      spark.stop();
    }
    if (hdfs != null) {
      hdfs.shutdown();
    }
  }

  @Test
  void aJobResumesFromCheckpointsOnHdfsAsOneRunWould() throws IOException {
    Path reference = scratch.resolve("local");
    assertEquals(12, train(overrides(reference.toString(), 12)).stepsThisRun());

    String uri = "hdfs://localhost:" + hdfs.getNameNodePort() + "/runs/a";
    assertEquals(8, train(overrides(uri, 8)).stepsThisRun());
    TrainSummary resumed = train(overrides(uri, 12));
    assertEquals(4, resumed.stepsThisRun(), "the second job resumed from the step-8 checkpoint");

    FileSystem fs = hdfs.getFileSystem();
    org.apache.hadoop.fs.Path run = new org.apache.hadoop.fs.Path("/runs/a");
    List<String> checkpoints = Arrays.stream(fs.listStatus(new org.apache.hadoop.fs.Path(run,
        "checkpoints"))).map(FileStatus::getPath).map(org.apache.hadoop.fs.Path::getName).sorted()
        .toList();
    assertEquals(List.of("step-00000008", "step-00000012"), checkpoints, "keep_checkpoints = 2");
    for (String step : checkpoints) {
      assertTrue(fs.exists(new org.apache.hadoop.fs.Path(run, "checkpoints/" + step + "/"
          + RemoteCheckpoints.MARKER)), step + " is marked complete");
    }
    Path copied = Files.createDirectories(scratch.resolve("from-hdfs"));
    fs.copyToLocalFile(new org.apache.hadoop.fs.Path(run, TrainingLoop.METRICS_FILE),
        new org.apache.hadoop.fs.Path(copied.resolve(TrainingLoop.METRICS_FILE).toString()));
    MetricsCurves.assertSameCurve(MetricsCurves.read(reference), MetricsCurves.read(copied), 0.0);
  }

  private static TrainSummary train(Map<String, String> overrides) {
    return ResumableRuns.train(spark, overrides);
  }

  private static Map<String, String> overrides(String runDir, int maxSteps) {
    return ResumableRuns.overrides(scratch.resolve("data"), runDir, maxSteps);
  }
}
