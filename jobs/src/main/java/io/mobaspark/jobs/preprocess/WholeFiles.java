package io.mobaspark.jobs.preprocess;

import java.io.EOFException;
import java.io.IOException;
import java.io.Serializable;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.util.SerializableConfiguration;

/**
 * Reads listed input files whole inside a task, through the job's Hadoop configuration (any Hadoop
 * FileSystem URI), into one array of the listed length. The text read stage lists files with
 * Spark's {@code binaryFile} source but leaves its {@code content} column unread: that column is
 * built by reading the file in chunks, joining them, and copying the result into a growing row and
 * out again, four copies of every byte that took a sixth of the read tasks' time
 * (docs/perf/preprocess.md).
 */
final class WholeFiles implements Serializable {
  private final Broadcast<SerializableConfiguration> hadoopConf;
  /** The broadcast's value, looked up once per task (each task deserializes its own copy). */
  private transient Configuration conf;

  WholeFiles(Broadcast<SerializableConfiguration> hadoopConf) {
    this.hadoopConf = hadoopConf;
  }

  /**
   * The bytes of {@code file} ({@code binaryFile}'s {@code path}), which the listing found to be
   * {@code length} bytes long.
   *
   * @throws IOException naming the file when it cannot be read, has changed size since it was
   *     listed, or is too large for one array
   */
  byte[] read(String file, long length) throws IOException {
    if (length > Integer.MAX_VALUE - 8) {
      throw new IOException("input file " + file + " is " + length + " bytes; a text file is read "
          + "whole and must be under 2 GiB: split it");
    }
    Path path = new Path(file);
    byte[] bytes = new byte[(int) length];
    if (conf == null) {
      conf = hadoopConf.value().value();
    }
    try (FSDataInputStream in = path.getFileSystem(conf).open(path)) {
      in.readFully(bytes);
      if (in.read() >= 0) {
        throw new IOException("input file " + file + " grew after it was listed at " + length
            + " bytes");
      }
    } catch (EOFException e) {
      throw new IOException("input file " + file + " shrank after it was listed at " + length
          + " bytes", e);
    } catch (IOException e) {
      if (e.getMessage() != null && e.getMessage().contains(file)) {
        throw e;
      }
      throw new IOException("input file " + file + " cannot be read: " + e, e);
    }
    return bytes;
  }
}
