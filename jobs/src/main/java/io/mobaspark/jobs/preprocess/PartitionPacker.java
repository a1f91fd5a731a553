package io.mobaspark.jobs.preprocess;

import io.mobaspark.data.CorpusPacker;
import io.mobaspark.data.shard.ShardInfo;
import io.mobaspark.data.shard.TokenDtype;
import io.mobaspark.data.tokenizer.Tokenizer;
import io.mobaspark.data.tokenizer.Tokenizers;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.NoSuchElementException;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Row;
import org.apache.spark.util.LongAccumulator;

/**
 * One task's packing of both splits: its rows {@code (split, hash, document, copies)}, sorted by
 * split ("train" before "val"), then by content hash and document, become the shards
 * {@code part-PPPPP-NNNNN.arrow} of each split's folder, {@code PPPPP} being the partition. Both
 * splits in one pass over the partition is what lets the job run as a single Spark action. The
 * document is its text, which this tokenizes (SQL path), or its token ids as {@link TokenBytes}
 * (JVM path, tokenized in the read stage): {@link DocumentPipeline#documentColumn}.
 *
 * <p>Equal documents are next to each other in that order: of a run of equal ones only the first
 * is packed (the exact dedup of the JVM cleaning path, whose rows keep their duplicates; the SQL
 * path's rows are unique already). Documents are compared only when the hashes are equal.
 */
final class PartitionPacker implements MapPartitionsFunction<Row, PackedPartition> {
  private final String tokenizerName;
  private final boolean tokenized;
  private final String trainDir;
  private final String valDir;
  private final long shardTokens;
  private final LongAccumulator trainPacked;
  private final LongAccumulator valPacked;

  /**
   * @param path the resolved cleaning path ({@link CleaningPath#SQL} or {@link CleaningPath#JVM}),
   *     which says whether the rows hold texts or token ids
   * @param trainPacked gets 1 when a partition's training shards are written
   * @param valPacked gets 1 when its validation shards are written; null when there is no
   *     validation split
   */
  PartitionPacker(PreprocessOptions options, CleaningPath path, LongAccumulator trainPacked,
      LongAccumulator valPacked) {
    if (path != CleaningPath.SQL && path != CleaningPath.JVM) {
      throw new IllegalArgumentException("cleaning must be resolved to sql or jvm, got " + path);
    }
    this.tokenizerName = options.tokenizer();
    this.tokenized = path == CleaningPath.JVM;
    // Strings: a Path is not serializable into the task.
    this.trainDir = options.trainDir().toAbsolutePath().toString();
    this.valDir = options.valDir().toAbsolutePath().toString();
    this.shardTokens = options.shardTokens();
    this.trainPacked = trainPacked;
    this.valPacked = valPacked;
  }

  @Override
  public Iterator<PackedPartition> call(Iterator<Row> rows) throws IOException {
    Tokenizer tokenizer = Tokenizers.byName(tokenizerName);
    String prefix = String.format(Locale.ROOT, "part-%05d", TaskContext.getPartitionId());
    SplitRows split =
        new SplitRows(rows, tokenized ? new TokenIds(tokenizer) : new Text(tokenizer));
    List<ShardInfo> train = CorpusPacker.packTokenized(split.ids(DocumentPipeline.TRAIN),
        tokenizer, Path.of(trainDir), shardTokens, prefix);
    trainPacked.add(1);
    List<ShardInfo> val = CorpusPacker.packTokenized(split.ids(DocumentPipeline.VAL),
        tokenizer, Path.of(valDir), shardTokens, prefix);
    if (valPacked != null) {
      valPacked.add(1);
    }
    if (split.hasMore()) {
      throw new IllegalStateException("partition rows not sorted by split: a '"
          + split.next.getString(SPLIT) + "' row after the validation rows");
    }
    return List.of(new PackedPartition(train, val, split.copies)).iterator();
  }

  /** Columns of the rows. */
  static final int SPLIT = 0;
  static final int HASH = 1;
  static final int DOCUMENT = 2;
  static final int COPIES = 3;

  /** The columns the rows must have, in this order, for {@code path}'s documents. */
  static String[] columns(CleaningPath path) {
    return new String[] {"split", "hash", DocumentPipeline.documentColumn(path), "copies"};
  }

  /** How a row's document becomes token ids, and when two rows hold the same one. */
  private interface DocumentForm {
    int[] ids(Row row);

    boolean same(Row a, Row b);
  }

  /** Rows holding the text: tokenized here. */
  private record Text(Tokenizer tokenizer) implements DocumentForm {
    @Override
    public int[] ids(Row row) {
      return tokenizer.encode(row.getString(DOCUMENT));
    }

    @Override
    public boolean same(Row a, Row b) {
      return a.getString(DOCUMENT).equals(b.getString(DOCUMENT));
    }
  }

  /** Rows holding the token ids ({@link TokenBytes}) of the tokenizer's shard width. */
  private record TokenIds(TokenDtype dtype) implements DocumentForm {
    TokenIds(Tokenizer tokenizer) {
      this(TokenDtype.forVocab(tokenizer.vocabSize()));
    }

    @Override
    public int[] ids(Row row) {
      return TokenBytes.ids(bytes(row), dtype);
    }

    @Override
    public boolean same(Row a, Row b) {
      return Arrays.equals(bytes(a), bytes(b));
    }

    private static byte[] bytes(Row row) {
      return (byte[]) row.get(DOCUMENT);
    }
  }

  /**
   * The rows of a partition sorted by split, hash and document, read one split after the other,
   * one document of each run of equal ones.
   */
  private static final class SplitRows {
    private final Iterator<Row> rows;
    private final DocumentForm form;
    private Row next;
    /** The copies of the rows read so far, duplicates included. */
    private long copies;

    SplitRows(Iterator<Row> rows, DocumentForm form) {
      this.rows = rows;
      this.form = form;
      this.next = rows.hasNext() ? rows.next() : null;
    }

    boolean hasMore() {
      return next != null;
    }

    /** The token ids of the documents from here on whose split is {@code split}. */
    Iterator<int[]> ids(String split) {
      return new Iterator<>() {
        @Override
        public boolean hasNext() {
          return next != null && split.equals(next.getString(SPLIT));
        }

        @Override
        public int[] next() {
          if (!hasNext()) {
            throw new NoSuchElementException(split + " rows are done");
          }
          Row first = next;
          long hash = first.getLong(HASH);
          copies += first.getLong(COPIES);
          next = rows.hasNext() ? rows.next() : null;
          // Equal documents have equal hashes (and so the same split): skip the rest of the run.
          while (next != null && next.getLong(HASH) == hash && form.same(first, next)) {
            copies += next.getLong(COPIES);
            next = rows.hasNext() ? rows.next() : null;
          }
          return form.ids(first);
        }
      };
    }
  }
}
