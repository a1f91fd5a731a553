package io.mobaspark.data;

import io.mobaspark.data.shard.Manifest;
import io.mobaspark.data.shard.ShardInfo;
import io.mobaspark.data.shard.ShardWriter;
import io.mobaspark.data.shard.TokenDtype;
import io.mobaspark.data.tokenizer.Tokenizer;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;

/**
 * Documents to shards: tokenize each, append end-of-text, and fill shards of exactly
 * {@code maxTokensPerShard} tokens (the last one of a run holds the rest). Equal shards balance the
 * ranks; a document may therefore continue from one shard into the next, as in nanoGPT's and
 * llm.c's shard writers, and is counted in the shard that holds its end-of-text.
 *
 * <p>Deterministic: the same documents in the same order, tokenizer and limit give byte-identical
 * files with the same names, and each file is replaced atomically, so a re-run (a retried Spark
 * task) rewrites what it wrote before and leaves nothing half-written.
 */
public final class CorpusPacker {
  /** Name prefix of the shards that {@link #pack} writes: {@code shard-00000.arrow}, ... */
  public static final String SHARD_PREFIX = "shard";

  private CorpusPacker() {}

  /**
   * Packs {@code documents} into {@code outputDir} as {@code shard-NNNNN.arrow} plus
   * {@code manifest.json}, skipping empty documents.
   *
   * @throws IllegalArgumentException when no document has text, or for an invalid argument
   */
  public static Manifest pack(Iterator<String> documents, Tokenizer tokenizer, Path outputDir,
      long maxTokensPerShard) throws IOException {
    List<ShardInfo> shards =
        packPartition(documents, tokenizer, outputDir, maxTokensPerShard, SHARD_PREFIX);
    if (shards.isEmpty()) {
      throw new IllegalArgumentException("no tokens to pack into " + outputDir
          + ": every document was empty");
    }
    return writeManifest(outputDir, tokenizer, shards);
  }

  /**
   * Packs one partition's documents into {@code outputDir} as {@code <namePrefix>-NNNNN.arrow},
   * writing no manifest: the Spark driver gathers every partition's shards, in partition order, and
   * calls {@link #writeManifest}. Give each partition its own stable prefix, e.g.
   * {@code part-00007}, so that a retried task rewrites exactly its own files.
   *
   * @return the shards written, in order; empty when every document was empty
   */
  public static List<ShardInfo> packPartition(Iterator<String> documents, Tokenizer tokenizer,
      Path outputDir, long maxTokensPerShard, String namePrefix) throws IOException {
    if (documents == null || tokenizer == null || outputDir == null) {
      throw new IllegalArgumentException("documents, tokenizer and outputDir must be non-null, got "
          + documents + ", " + tokenizer + ", " + outputDir);
    }
    if (namePrefix == null || namePrefix.isEmpty()) {
      throw new IllegalArgumentException("namePrefix must be non-empty, got '" + namePrefix + "'");
    }
    ShardInfo.requireFileName(shardFileName(namePrefix, 0));
    TokenDtype dtype = TokenDtype.forVocab(tokenizer.vocabSize());
    // Small shards get small batches: the writer holds one batch in memory.
    int batchTokens = (int) Math.max(1,
        Math.min(ShardWriter.DEFAULT_BATCH_TOKENS, maxTokensPerShard));
    long limit = ShardWriter.maxTokens(dtype, batchTokens);
    if (maxTokensPerShard < 1 || maxTokensPerShard > limit) {
      throw new IllegalArgumentException("maxTokensPerShard must be in [1, " + limit + "] for "
          + dtype + " shards under 2 GiB, got " + maxTokensPerShard);
    }

    ShardSequence sequence = new ShardSequence(outputDir, namePrefix, tokenizer, batchTokens,
        maxTokensPerShard);
    // The end-of-text id is written from its own one-element array: appending it to each
    // document's ids would copy every id once more.
    int[] endOfText = {tokenizer.eotId()};
    try {
      long index = 0;
      while (documents.hasNext()) {
        String text = documents.next();
        if (text == null) {
          throw new IllegalArgumentException("document " + index + " is null");
        }
        index++;
        if (text.isEmpty()) {
          continue;
        }
        sequence.append(tokenizer.encode(text));
        sequence.append(endOfText);
      }
      return sequence.finish();
    } finally {
      sequence.close();
    }
  }

  /**
   * The shards of one {@link #packPartition} call: ids appended in order fill each shard to exactly
   * {@code maxTokensPerShard} tokens before the next one is started. How the ids are cut into
   * {@link #append} calls does not change the bytes written (the writer buffers whole batches).
   */
  private static final class ShardSequence implements AutoCloseable {
    private final Path outputDir;
    private final String namePrefix;
    private final Tokenizer tokenizer;
    private final int batchTokens;
    private final long maxTokensPerShard;
    private final List<ShardInfo> shards = new ArrayList<>();
    private ShardWriter shard;

    ShardSequence(Path outputDir, String namePrefix, Tokenizer tokenizer, int batchTokens,
        long maxTokensPerShard) {
      this.outputDir = outputDir;
      this.namePrefix = namePrefix;
      this.tokenizer = tokenizer;
      this.batchTokens = batchTokens;
      this.maxTokensPerShard = maxTokensPerShard;
    }

    void append(int[] ids) throws IOException {
      int written = 0;
      while (written < ids.length) {
        if (shard == null) {
          shard = ShardWriter.create(outputDir, shardFileName(namePrefix, shards.size()),
              tokenizer.vocabSize(), tokenizer.eotId(), batchTokens);
        }
        int n = (int) Math.min(ids.length - written, maxTokensPerShard - shard.tokens());
        shard.write(ids, written, n);
        written += n;
        if (shard.tokens() == maxTokensPerShard) {
          shards.add(shard.finish());
          shard = null;
        }
      }
    }

    /** Finishes the last, partly filled shard; the shards written, in order. */
    List<ShardInfo> finish() throws IOException {
      if (shard != null) {
        shards.add(shard.finish());
        shard = null;
      }
      return List.copyOf(shards);
    }

    /** Discards an unfinished shard (after a failure); a no-op after {@link #finish}. */
    @Override
    public void close() throws IOException {
      if (shard != null) {
        shard.close();
      }
    }
  }

  /** Writes {@code outputDir/manifest.json} listing {@code shards} in the given order. */
  public static Manifest writeManifest(Path outputDir, Tokenizer tokenizer, List<ShardInfo> shards)
      throws IOException {
    if (outputDir == null || tokenizer == null) {
      throw new IllegalArgumentException("outputDir and tokenizer must be non-null, got "
          + outputDir + ", " + tokenizer);
    }
    Manifest manifest = Manifest.of(tokenizer.name(), tokenizer.vocabSize(), tokenizer.eotId(),
        shards);
    manifest.write(outputDir.resolve(Manifest.FILE_NAME));
    return manifest;
  }

  /** {@code <prefix>-NNNNN.arrow}, five digits or more. */
  public static String shardFileName(String prefix, int index) {
    if (index < 0) {
      throw new IllegalArgumentException("shard index must be >= 0, got " + index);
    }
    return String.format(Locale.ROOT, "%s-%05d.arrow", prefix, index);
  }
}
