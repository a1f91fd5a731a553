package io.mobaspark.jobs.preprocess;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mobaspark.data.CorpusPacker;
import io.mobaspark.data.tokenizer.Tokenizers;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.List;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.util.LongAccumulator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** One packing task on hand-made rows: runs of equal texts, a hash collision, the copies count. */
class PartitionPackerTest {

  private static PackedPartition pack(Path out, List<Row> rows) throws Exception {
    PreprocessOptions options = PreprocessOptions.textFiles(List.of("unused"), out,
        Tokenizers.BYTES, 0.5, 1000, 0, 1, false);
    PartitionPacker packer = new PartitionPacker(options, new LongAccumulator(),
        new LongAccumulator());
    Iterator<PackedPartition> result = packer.call(rows.iterator());
    return result.next();
  }

  private static List<String> documents(Path dir, PackedPartition p, boolean train)
      throws Exception {
    CorpusPacker.writeManifest(dir, Tokenizers.byName(Tokenizers.BYTES),
        train ? p.train() : p.val());
    return PreprocessJobTest.documents(dir);
  }

  @Test
  void keepsOneTextOfEachRunAndEveryTextOfACollision(@TempDir Path tmp) throws Exception {
    List<Row> rows = List.of(
        RowFactory.create("train", 5L, "alpha", 1L),
        RowFactory.create("train", 5L, "alpha", 1L),
        RowFactory.create("train", 5L, "bravo", 1L), // same hash, other text: kept
        RowFactory.create("train", 5L, "bravo", 1L),
        RowFactory.create("train", 7L, "alpha", 1L), // cannot happen (equal texts, other hash),
        // but shows that only neighbours with equal hashes are compared
        RowFactory.create("val", 9L, "delta", 2L),
        RowFactory.create("val", 9L, "delta", 1L));
    PackedPartition p = pack(tmp.resolve("out"), rows);
    assertEquals(8, p.copies(), "every row's copies, duplicates included");
    assertEquals(List.of("alpha", "bravo", "alpha"),
        documents(tmp.resolve("out/train"), p, true));
    assertEquals(List.of("delta"), documents(tmp.resolve("out/val"), p, false));
  }

  @Test
  void refusesRowsNotSortedBySplit(@TempDir Path tmp) {
    List<Row> rows = List.of(
        RowFactory.create("val", 1L, "one", 1L),
        RowFactory.create("train", 2L, "two", 1L));
    IllegalStateException e = assertThrows(IllegalStateException.class,
        () -> pack(tmp.resolve("out"), rows));
    assertTrue(e.getMessage().contains("not sorted by split"), e.getMessage());
  }
}
