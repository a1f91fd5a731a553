package io.mobaspark.trainer.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mobaspark.trainer.exchange.ExchangeSpec;
import io.mobaspark.trainer.exchange.WireDType;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PretrainConfigTest {
  @TempDir Path dir;

  @Test
  void defaultsLoadWithTheDocumentedOptimizerSettings() {
    TrainSettings train = PretrainConfig.load(null, Map.of()).train();
    assertEquals(0.1, train.weightDecay());
    assertEquals(0.9, train.beta1());
    assertEquals(0.95, train.beta2());
    assertEquals(1e-8, train.eps());
    assertEquals(1.0, train.gradClip());
  }

  @Test
  void overridesBeatTheFileWhichBeatsTheDefaults() throws Exception {
    Path file = write("run.conf", "train { lr = 3e-4, batch_size = 4 }\nrun.backend = cpu\n");
    PretrainConfig config = PretrainConfig.load(file, Map.of("train.batch_size", "16"));
    assertEquals(16, config.train().batchSize());
    assertEquals(3e-4, config.train().lr());
    assertEquals("cpu", config.run().backend());
    assertEquals(1024, config.train().seqLen());
  }

  @Test
  void modelKeysComeFromTheModelDefaultsAndCanBeOverridden() throws Exception {
    Path file = write("model.conf", "model { d_model = 64, heads = 2, kv_heads = 1 }\n");
    PretrainConfig config = PretrainConfig.load(file, Map.of("model.layers", "2"));
    assertEquals(64, config.model().dModel());
    assertEquals(2, config.model().layers());
  }

  @Test
  void anUnknownKeyInTheFileNamesTheKeyAndTheFile() throws Exception {
    Path file = write("typo.conf", "train {\n  batchsize = 4\n}\n");
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> PretrainConfig.load(file, Map.of()));
    assertTrue(e.getMessage().contains("train.batchsize"), e.getMessage());
    assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
    assertTrue(e.getMessage().contains("batch_size"), "lists the known keys: " + e.getMessage());
  }

  @Test
  void unknownSectionsAndModelKeysAreRejectedToo() throws Exception {
    Path file = write("section.conf", "optimizer { lr = 1 }\n");
    IllegalArgumentException section =
        assertThrows(IllegalArgumentException.class, () -> PretrainConfig.load(file, Map.of()));
    assertTrue(section.getMessage().contains("optimizer.lr"), section.getMessage());
    IllegalArgumentException model = assertThrows(IllegalArgumentException.class,
        () -> PretrainConfig.load(null, Map.of("model.dmodel", "64")));
    assertTrue(model.getMessage().contains("model.dmodel"), model.getMessage());
  }

  @Test
  void anUnknownOverrideKeyIsNamed() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> PretrainConfig.load(null, Map.of("train.learning_rate", "1e-3")));
    assertTrue(e.getMessage().contains("train.learning_rate"), e.getMessage());
    assertTrue(e.getMessage().contains("override"), e.getMessage());
  }

  @Test
  void aSectionCannotBeReplacedByAValue() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> PretrainConfig.load(null, Map.of("train", "fast")));
    assertTrue(e.getMessage().contains("'train'"), e.getMessage());
  }

  @Test
  void badValuesNameKeyValueAndOrigin() throws Exception {
    assertMessage(Map.of("train.batch_size", "0"), "train.batch_size", "0");
    assertMessage(Map.of("train.lr", "fast"), "train.lr", "fast");
    assertMessage(Map.of("train.beta2", "1.0"), "train.beta2", "1.0");
    assertMessage(Map.of("train.min_lr", "1"), "train.min_lr", "1");
    assertMessage(Map.of("train.warmup_steps", "10", "train.max_steps", "5"),
        "train.warmup_steps", "10");
    assertMessage(Map.of("train.doc_masking", "maybe"), "train.doc_masking", "maybe");
    assertMessage(Map.of("run.backend", "tpu"), "run.backend", "tpu");
    assertMessage(Map.of("run.threads", "-1"), "run.threads", "-1");
    assertMessage(Map.of("model.kconv", "4"), "model.kconv", "4");
    assertMessage(Map.of("run.ranks", "0"), "run.ranks", "0");
    assertMessage(Map.of("train.max_minutes", "-1"), "train.max_minutes", "-1");
    assertMessage(Map.of("train.max_minutes", "10", "run.ranks", "2"), "train.max_minutes",
        "run.ranks = 1 (is 2)");
    assertMessage(Map.of("exchange.kind", "mpi"), "exchange.kind", "mpi");
    assertMessage(Map.of("exchange.wire", "fp8"), "exchange.wire", "fp8");
    assertMessage(Map.of("exchange.bucket_size", "128M"), "exchange.bucket_size", "128M");
    assertMessage(Map.of("exchange.bucket_size", "6"), "exchange.bucket_size", "6");
    assertMessage(Map.of("exchange.timeout", "soon"), "exchange.timeout", "soon");
    assertMessage(Map.of("exchange.port", "70000"), "exchange.port", "70000");
    assertMessage(Map.of("run.dir", "s3a://bucket"), "run.dir", "s3a://bucket");
    assertMessage(Map.of("run.dir", "hdfs:runs/a"), "run.dir", "hdfs:runs/a");
    assertMessage(Map.of("run.dir", "hdfs://nn/runs a|b"), "run.dir", "hdfs://nn/runs a|b");

    Path file = write("bad.conf", "train.grad_clip = -1\n");
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> PretrainConfig.load(file, Map.of()));
    assertTrue(e.getMessage().contains("train.grad_clip") && e.getMessage().contains("-1")
        && e.getMessage().contains("bad.conf"), e.getMessage());
  }

  @Test
  void exchangeAndRunKeysAreParsedWithUnits() {
    PretrainConfig config = PretrainConfig.load(null, Map.of("exchange.kind", "RING",
        "exchange.bucket_size", "1M", "exchange.wire", "bf16", "exchange.timeout", "90s",
        "run.ranks", "4", "run.dir", "file:///tmp/runs/a"));
    assertEquals(new ExchangeSettings(ExchangeSpec.Kind.RING, 1 << 20, WireDType.BF16, 90_000, 0),
        config.exchange());
    assertEquals(4, config.run().ranks());
    assertEquals(Path.of("/tmp/runs/a"), config.run().dirPath());
  }

  @Test
  void aHadoopFileSystemRunDirIsKeptAsItsUriAndHasNoLocalPath() {
    RunSettings run = PretrainConfig.load(null, Map.of("run.dir", "hdfs://nn:8020/runs/a")).run();
    assertEquals("hdfs://nn:8020/runs/a", run.dir());
    assertTrue(run.remoteDir());
    IllegalStateException e = assertThrows(IllegalStateException.class, run::dirPath);
    assertTrue(e.getMessage().contains("run.dir = hdfs://nn:8020/runs/a"), e.getMessage());
    assertFalse(PretrainConfig.load(null, Map.of("run.dir", "runs/a")).run().remoteDir());
    assertFalse(PretrainConfig.load(null, Map.of("run.dir", "file:///tmp/a")).run().remoteDir());
  }

  @Test
  void aMissingFileIsNamed() {
    Path missing = dir.resolve("nope.conf");
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> PretrainConfig.load(missing, Map.of()));
    assertTrue(e.getMessage().contains(missing.toString()), e.getMessage());
  }

  @Test
  void survivesJavaSerializationAsSparkShipsIt() throws Exception {
    PretrainConfig config = PretrainConfig.load(null,
        Map.of("train.lr", "2e-4", "model.layers", "2", "data.train", "/data/train"));
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
      out.writeObject(config);
    }
    PretrainConfig copy;
    try (ObjectInputStream in =
        new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
      copy = (PretrainConfig) in.readObject();
    }
    assertEquals(config.toJson(), copy.toJson());
    assertEquals(config.train(), copy.train());
    assertEquals(config.data(), copy.data());
    assertEquals(config.model(), copy.model());
    assertEquals(2e-4, copy.config().getDouble("train.lr"));
  }

  @Test
  void dataFoldersMayStayEmptyUntilARunOpensThem() {
    DataSettings data = PretrainConfig.load(null, Map.of()).data();
    assertTrue(data.train().isEmpty());
    assertFalse(PretrainConfig.load(null, Map.of("data.val", "v")).data().val().isEmpty());
  }

  private static void assertMessage(Map<String, String> overrides, String key, String value) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> PretrainConfig.load(null, overrides), key + "=" + value);
    assertTrue(e.getMessage().contains(key), e.getMessage());
    assertTrue(e.getMessage().contains(value), e.getMessage());
  }

  private Path write(String name, String text) throws Exception {
    Path file = dir.resolve(name);
    Files.writeString(file, text);
    return file;
  }
}
