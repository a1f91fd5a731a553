package io.mobaspark.jobs.preprocess;

import io.mobaspark.data.CorpusPacker;
import io.mobaspark.data.shard.ShardInfo;
import io.mobaspark.data.tokenizer.Tokenizer;
import io.mobaspark.data.tokenizer.Tokenizers;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.NoSuchElementException;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Row;
import org.apache.spark.util.LongAccumulator;

/**
 * One task's packing of both splits: its rows {@code (split, hash, text, copies)}, sorted by split
 * ("train" before "val"), then by content hash and text, become the shards
 * {@code part-PPPPP-NNNNN.arrow} of each split's folder, {@code PPPPP} being the partition. Both
 * splits in one pass over the partition is what lets the job run as a single Spark action.
 *
 * <p>Equal texts are next to each other in that order: of a run of equal texts only the first is
 * packed (the exact dedup of the JVM cleaning path, whose rows keep their duplicates; the SQL path's
 * rows are unique already). The texts are compared only when the hashes are equal.
 */
final class PartitionPacker implements MapPartitionsFunction<Row, PackedPartition> {
  private final String tokenizerName;
  private final String trainDir;
  private final String valDir;
  private final long shardTokens;
  private final LongAccumulator trainPacked;
  private final LongAccumulator valPacked;

  /**
   * @param trainPacked gets 1 when a partition's training shards are written
   * @param valPacked gets 1 when its validation shards are written; null when there is no
   *     validation split
   */
  PartitionPacker(PreprocessOptions options, LongAccumulator trainPacked,
      LongAccumulator valPacked) {
    this.tokenizerName = options.tokenizer();
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
    SplitRows split = new SplitRows(rows);
    List<ShardInfo> train = CorpusPacker.packPartition(split.texts(DocumentPipeline.TRAIN),
        tokenizer, Path.of(trainDir), shardTokens, prefix);
    trainPacked.add(1);
    List<ShardInfo> val = CorpusPacker.packPartition(split.texts(DocumentPipeline.VAL),
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
  static final int TEXT = 2;
  static final int COPIES = 3;
  /** The columns the rows must have, in this order. */
  static final String[] COLUMNS = {"split", "hash", "text", "copies"};

  /**
   * The rows of a partition sorted by split, hash and text, read one split after the other, one
   * text of each run of equal ones.
   */
  private static final class SplitRows {
    private final Iterator<Row> rows;
    private Row next;
    /** The copies of the rows read so far, duplicates included. */
    private long copies;

    SplitRows(Iterator<Row> rows) {
      this.rows = rows;
      this.next = rows.hasNext() ? rows.next() : null;
    }

    boolean hasMore() {
      return next != null;
    }

    /** The texts of the rows from here on whose split is {@code split}. */
    Iterator<String> texts(String split) {
      return new Iterator<>() {
        @Override
        public boolean hasNext() {
          return next != null && split.equals(next.getString(SPLIT));
        }

        @Override
        public String next() {
          if (!hasNext()) {
            throw new NoSuchElementException(split + " rows are done");
          }
          long hash = next.getLong(HASH);
          String text = next.getString(TEXT);
          copies += next.getLong(COPIES);
          next = rows.hasNext() ? rows.next() : null;
          // Equal texts have equal hashes (and so the same split): skip the rest of the run.
          while (next != null && next.getLong(HASH) == hash && text.equals(next.getString(TEXT))) {
            copies += next.getLong(COPIES);
            next = rows.hasNext() ? rows.next() : null;
          }
          return text;
        }
      };
    }
  }
}
