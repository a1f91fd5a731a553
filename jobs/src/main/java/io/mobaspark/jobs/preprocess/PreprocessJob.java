package io.mobaspark.jobs.preprocess;

import io.mobaspark.data.CorpusPacker;
import io.mobaspark.data.shard.Manifest;
import io.mobaspark.data.shard.ShardInfo;
import io.mobaspark.data.tokenizer.Tokenizer;
import io.mobaspark.data.tokenizer.Tokenizers;
import io.mobaspark.jobs.TaskProgress;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import org.apache.spark.api.java.JavaSparkContext;

/**
 * Text files to the two Arrow datasets a pretraining run reads ({@code train/}, {@code val/}).
 *
 * <p>The simple local pipeline: the driver lists the input files, Spark spreads them over
 * partitions, and each task decodes (strict UTF-8), normalizes, chunks, splits by content hash and
 * packs its documents into its own shards ({@code part-NNNNN-MMMMM.arrow}, written under temporary
 * names and renamed). The driver then writes each split's manifest, listing shards in partition
 * order, last: a dataset without a manifest is incomplete, and a re-run replaces it.
 */
public final class PreprocessJob {
  private PreprocessJob() {}

  public static PreprocessResult run(JavaSparkContext jsc, PreprocessOptions options,
      PrintStream console) throws IOException {
    long start = System.nanoTime();
    Tokenizer tokenizer = Tokenizers.byName(options.tokenizer());
    List<Path> files = InputFiles.resolve(options.inputs());
    prepareOutput(options);

    List<String> paths = files.stream().map(p -> p.toAbsolutePath().toString()).toList();
    int partitions = Math.min(options.partitions(), paths.size());
    String tokenizerName = options.tokenizer();
    String trainDir = options.trainDir().toAbsolutePath().toString();
    String valDir = options.valDir().toAbsolutePath().toString();
    double valFraction = options.valFraction();
    long shardTokens = options.shardTokens();
    int chunkChars = options.chunkChars();

    jsc.setJobDescription(String.format(Locale.ROOT,
        "preprocess %d files -> %s (%s, val %.3f)", paths.size(), options.output(), tokenizerName,
        valFraction));
    List<PartitionShards> parts;
    try (TaskProgress progress = TaskProgress.start(jsc.sc(), console, "preprocess", partitions)) {
      parts = new ArrayList<>(jsc.parallelize(paths, partitions)
          .mapPartitionsWithIndex((index, it) -> List.of(packPartition(index, it, tokenizerName,
              Path.of(trainDir), Path.of(valDir), valFraction, shardTokens, chunkChars)).iterator(),
              true)
          .collect());
    } finally {
      jsc.clearJobGroup();
    }
    parts.sort(Comparator.comparingInt(PartitionShards::partition));

    List<ShardInfo> train = new ArrayList<>();
    List<ShardInfo> val = new ArrayList<>();
    long documents = 0;
    long bytes = 0;
    for (PartitionShards p : parts) {
      train.addAll(p.train());
      val.addAll(p.val());
      documents += p.documents();
      bytes += p.bytes();
    }
    if (train.isEmpty()) {
      throw new IllegalArgumentException("--input " + options.inputs()
          + " holds no text for the training split (every file was empty after normalization)");
    }
    if (valFraction > 0 && val.isEmpty()) {
      throw new IllegalArgumentException(String.format(Locale.ROOT,
          "the validation split is empty: none of the %d documents hashed below --val-fraction "
              + "%.3f; raise it, lower --chunk-chars to get more documents, or pass 0", documents,
          valFraction));
    }
    Manifest valManifest = val.isEmpty() ? null
        : CorpusPacker.writeManifest(options.valDir(), tokenizer, val);
    Manifest trainManifest = CorpusPacker.writeManifest(options.trainDir(), tokenizer, train);
    double seconds = (System.nanoTime() - start) / 1e9;
    return new PreprocessResult(trainManifest, valManifest, paths.size(), documents, bytes,
        seconds);
  }

  /** One task: its files, decoded, cleaned, chunked and split, packed into its own shards. */
  private static PartitionShards packPartition(int partition, Iterator<String> paths,
      String tokenizerName, Path trainDir, Path valDir, double valFraction, long shardTokens,
      int chunkChars) throws IOException {
    List<String> train = new ArrayList<>();
    List<String> val = new ArrayList<>();
    long files = 0;
    long bytes = 0;
    while (paths.hasNext()) {
      String path = paths.next();
      byte[] raw = Files.readAllBytes(Path.of(path));
      files++;
      bytes += raw.length;
      String text = TextDocuments.normalize(TextDocuments.decodeUtf8(raw, path));
      for (String doc : TextDocuments.chunk(text, chunkChars)) {
        (SplitAssigner.isValidation(doc, valFraction) ? val : train).add(doc);
      }
    }
    Tokenizer tokenizer = Tokenizers.byName(tokenizerName);
    String prefix = String.format(Locale.ROOT, "part-%05d", partition);
    List<ShardInfo> trainShards =
        CorpusPacker.packPartition(train.iterator(), tokenizer, trainDir, shardTokens, prefix);
    List<ShardInfo> valShards =
        CorpusPacker.packPartition(val.iterator(), tokenizer, valDir, shardTokens, prefix);
    return new PartitionShards(partition, trainShards, valShards, files,
        train.size() + val.size(), bytes);
  }

  /**
   * Refuses to replace a finished dataset unless asked to; clears what an earlier run left (its
   * manifest first, so a crash during the clean-up never leaves a manifest without its shards).
   */
  private static void prepareOutput(PreprocessOptions options) throws IOException {
    Path output = options.output();
    if (Files.exists(output) && !Files.isDirectory(output)) {
      throw new IllegalArgumentException("--output " + output + " is a file, not a folder");
    }
    for (Path split : List.of(options.trainDir(), options.valDir())) {
      Path manifest = split.resolve(Manifest.FILE_NAME);
      if (Files.exists(manifest) && !options.overwrite()) {
        throw new IllegalArgumentException("--output " + output + " already holds a dataset ("
            + manifest + "); pass --overwrite to replace it, or choose another folder");
      }
    }
    for (Path split : List.of(options.trainDir(), options.valDir())) {
      Files.createDirectories(split);
      Files.deleteIfExists(split.resolve(Manifest.FILE_NAME));
      try (DirectoryStream<Path> entries = Files.newDirectoryStream(split)) {
        for (Path entry : entries) {
          String name = entry.getFileName().toString();
          if (name.endsWith(".arrow") || (name.startsWith(".") && name.endsWith(".tmp"))) {
            Files.delete(entry);
          }
        }
      }
    }
  }
}
