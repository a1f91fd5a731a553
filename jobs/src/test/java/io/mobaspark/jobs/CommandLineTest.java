package io.mobaspark.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@code mobaspark} command as users run it: preprocess then pretrain in Spark local mode, and
 * the bad inputs a user will try, each refused with exit code 2 and a message naming the culprit.
 */
class CommandLineTest {
  @TempDir static Path tmp;
  private static Path data;
  private static Path config;

  /** What one command run printed and returned. */
  private record Outcome(int exitCode, String out, String err) {}

  private static Outcome mobaspark(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code = Main.run(new PrintWriter(out, true), new PrintWriter(err, true), args);
    return new Outcome(code, out.toString(), err.toString());
  }

  @BeforeAll
  static void preprocessOnce() throws IOException {
    Path corpus = TestCorpus.write(tmp.resolve("corpus"), 6, 40);
    data = tmp.resolve("data");
    Outcome pre = mobaspark("preprocess", "--input", corpus.toString(), "--output",
        data.toString(), "--tokenizer", "bytes", "--val-fraction", "0.2", "--shard-tokens",
        "20000", "--chunk-chars", "3000", "--master", "local[2]");
    assertEquals(0, pre.exitCode(), pre.err());
    config = tmp.resolve("tiny.conf");
    Files.writeString(config, """
        model { vocab_size = 257, d_model = 32, layers = 2, heads = 2, kv_heads = 1, head_dim = 16,
                ffn = 64, attention = "swa,moba", window = 16, block_size = 16, topk = 2, kconv = 3 }
        train { batch_size = 4, seq_len = 64, lr = 1e-2, min_lr = 1e-3, warmup_steps = 5,
                max_steps = 30, eval_every = 10, eval_batches = 2, checkpoint_every = 10,
                log_every = 10 }
        run { threads = 2 }
        """);
  }

  private static String[] pretrain(Path runDir, Path dataDir, String... extra) {
    List<String> args = new ArrayList<>(List.of("pretrain", "--config", config.toString(),
        "--master", "local[2]", "--set", "data.train=" + dataDir.resolve("train"),
        "--set", "data.val=" + dataDir.resolve("val"), "--set", "run.dir=" + runDir));
    for (String e : extra) {
      args.add("--set");
      args.add(e);
    }
    return args.toArray(String[]::new);
  }

  @Test
  void pretrainLearnsFromPreprocessedShardsAndResumes() throws IOException {
    Path run = tmp.resolve("run-learns");
    Outcome first = mobaspark(pretrain(run, data));
    assertEquals(0, first.exitCode(), first.err());

    List<JsonNode> steps = new ArrayList<>();
    ObjectMapper json = new ObjectMapper();
    for (String line : Files.readAllLines(run.resolve("metrics.jsonl"))) {
      JsonNode node = json.readTree(line);
      if (node.has("loss")) {
        steps.add(node);
      }
    }
    assertEquals(30, steps.size());
    double firstLoss = steps.get(0).get("loss").asDouble();
    double lastLoss = steps.get(29).get("loss").asDouble();
    assertTrue(firstLoss > Math.log(257) - 0.5, "starts near uniform: " + firstLoss);
    assertTrue(lastLoss < firstLoss - 1.0, "learns: " + firstLoss + " -> " + lastLoss);
    assertTrue(Files.isDirectory(run.resolve("checkpoints/step-00000030")));

    Outcome resumed = mobaspark(pretrain(run, data, "train.max_steps=40"));
    assertEquals(0, resumed.exitCode(), resumed.err());
    long lines = Files.readAllLines(run.resolve("metrics.jsonl")).stream()
        .filter(l -> l.contains("\"loss\"")).count();
    assertEquals(40, lines, "10 more steps appended, none repeated");
  }

  @Test
  void pretrainRunsTwoRanksAsTasksOfLocalMode() throws IOException {
    Path run = tmp.resolve("run-two-ranks");
    Outcome o = mobaspark(pretrain(run, data, "run.ranks=2", "train.max_steps=4",
        "train.warmup_steps=2", "exchange.kind=ring"));
    assertEquals(0, o.exitCode(), o.err());
    List<String> steps = Files.readAllLines(run.resolve("metrics.jsonl")).stream()
        .filter(l -> l.contains("\"loss\"")).toList();
    assertEquals(4, steps.size(), "rank 0 alone logs each step: " + steps);
    assertEquals(2 * 4 * 64 * 4, new ObjectMapper().readTree(steps.get(3)).get("tokens").asInt(),
        "2 ranks x 4 x 64 tokens x 4 steps");
  }

  @Test
  void moreRanksThanLocalSlotsIsRefused() {
    Outcome o = mobaspark("pretrain", "--config", config.toString(), "--master", "local[1]",
        "--set", "data.train=" + data.resolve("train"), "--set", "data.val=" + data.resolve("val"),
        "--set", "run.dir=" + tmp.resolve("run-slots"), "--set", "run.ranks=2");
    assertEquals(2, o.exitCode(), o.err());
    assertTrue(o.err().contains("run.ranks = 2") && o.err().contains("local[2]"), o.err());
  }

  @Test
  void unknownConfigKeyIsRefusedNamingKeyAndFile() throws IOException {
    Path bad = tmp.resolve("typo.conf");
    Files.writeString(bad, "train { max_stepz = 10 }\n");
    Outcome o = mobaspark("pretrain", "--config", bad.toString());
    assertEquals(2, o.exitCode(), o.err());
    assertTrue(o.err().contains("max_stepz") && o.err().contains("typo.conf"), o.err());
  }

  @Test
  void blockSizeZeroIsRefused() {
    Outcome o = mobaspark(pretrain(tmp.resolve("run-b0"), data, "model.block_size=0"));
    assertEquals(2, o.exitCode(), o.err());
    assertTrue(o.err().contains("block_size") && o.err().contains("0"), o.err());
  }

  @Test
  void topkZeroIsRefused() {
    Outcome o = mobaspark(pretrain(tmp.resolve("run-k0"), data, "model.topk=0"));
    assertEquals(2, o.exitCode(), o.err());
    assertTrue(o.err().contains("topk"), o.err());
  }

  @Test
  void missingShardIsRefusedNamingTheFile() throws IOException {
    Path copy = copyDataset("data-missing");
    Path shard = firstShard(copy.resolve("train"));
    Files.delete(shard);
    Outcome o = mobaspark(pretrain(tmp.resolve("run-missing"), copy));
    assertEquals(2, o.exitCode(), o.err());
    assertTrue(o.err().contains(shard.getFileName().toString()), o.err());
  }

  @Test
  void truncatedShardIsRefusedNamingTheFile() throws IOException {
    Path copy = copyDataset("data-truncated");
    Path shard = firstShard(copy.resolve("train"));
    try (FileChannel ch = FileChannel.open(shard, StandardOpenOption.WRITE)) {
      ch.truncate(ch.size() / 2);
    }
    Outcome o = mobaspark(pretrain(tmp.resolve("run-truncated"), copy));
    assertEquals(2, o.exitCode(), o.err());
    assertTrue(o.err().contains(shard.getFileName().toString()), o.err());
  }

  @Test
  void preprocessRefusesAnExistingDatasetUnlessOverwriting() {
    Outcome o = mobaspark("preprocess", "--input", tmp.resolve("corpus").toString(), "--output",
        data.toString(), "--tokenizer", "bytes", "--master", "local[2]");
    assertEquals(2, o.exitCode(), o.err());
    assertTrue(o.err().contains("already holds a dataset"), o.err());
  }

  @Test
  void unknownTokenizerIsRefusedListingTheValidNames() {
    Outcome o = mobaspark("preprocess", "--input", tmp.resolve("corpus").toString(), "--output",
        tmp.resolve("never").toString(), "--tokenizer", "gpt5", "--master", "local[2]");
    assertEquals(2, o.exitCode(), o.err());
    assertTrue(o.err().contains("gpt5") && o.err().contains("r50k_base"), o.err());
  }

  @Test
  void unknownCleaningPathIsRefusedListingTheValidOnes() {
    Outcome o = mobaspark("preprocess", "--input", tmp.resolve("corpus").toString(), "--output",
        tmp.resolve("never-cleaned").toString(), "--cleaning", "gpu", "--master", "local[2]");
    assertEquals(2, o.exitCode(), o.err());
    assertTrue(o.err().contains("--cleaning must be auto, sql or jvm, got 'gpu'"), o.err());
  }

  @Test
  void preprocessRefusesInvalidUtf8NamingTheFile() throws IOException {
    Path corpus = TestCorpus.write(tmp.resolve("corpus-latin1"), 2, 3);
    Path bad = corpus.resolve("latin1.txt");
    Files.write(bad, new byte[] {'c', 'a', 'f', (byte) 0xE9, '\n'});
    Outcome o = mobaspark("preprocess", "--input", corpus.toString(), "--output",
        tmp.resolve("never-latin1").toString(), "--tokenizer", "bytes", "--master", "local[2]");
    assertEquals(2, o.exitCode(), o.err());
    assertTrue(o.err().contains(bad.toString()) && o.err().contains("not valid UTF-8"), o.err());
  }

  private static Path copyDataset(String name) throws IOException {
    Path copy = tmp.resolve(name);
    for (String split : List.of("train", "val")) {
      Files.createDirectories(copy.resolve(split));
      try (Stream<Path> files = Files.list(data.resolve(split))) {
        for (Path f : files.toList()) {
          Files.copy(f, copy.resolve(split).resolve(f.getFileName()));
        }
      }
    }
    return copy;
  }

  private static Path firstShard(Path dir) throws IOException {
    try (Stream<Path> files = Files.list(dir)) {
      return files.filter(p -> p.toString().endsWith(".arrow")).sorted().findFirst().orElseThrow();
    }
  }
}
