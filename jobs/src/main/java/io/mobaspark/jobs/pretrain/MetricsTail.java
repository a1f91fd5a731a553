package io.mobaspark.jobs.pretrain;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The metrics.jsonl that {@link DriverProgress} tails: a local (or mounted) file that rank 0
 * appends to line by line, or the copy in a run folder on a Hadoop FileSystem that rank 0 replaces
 * at each checkpoint ({@link RemoteRunDir#tail}).
 */
public interface MetricsTail {
  /** The file's length in bytes, or -1 while it does not exist. */
  long length() throws IOException;

  /** {@code count} bytes from {@code offset}, which with {@code count} lies within the file. */
  byte[] read(long offset, int count) throws IOException;

  /** Where the file is, for messages. */
  String describe();

  /** A file on this machine's file system. */
  static MetricsTail of(Path file) {
    return new MetricsTail() {
      @Override
      public long length() throws IOException {
        return Files.exists(file) ? Files.size(file) : -1;
      }

      @Override
      public byte[] read(long offset, int count) throws IOException {
        try (RandomAccessFile in = new RandomAccessFile(file.toFile(), "r")) {
          byte[] bytes = new byte[count];
          in.seek(offset);
          in.readFully(bytes);
          return bytes;
        }
      }

      @Override
      public String describe() {
        return file.toString();
      }
    };
  }
}
