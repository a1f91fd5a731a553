package io.mobaspark.jobs.pretrain;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.StandardCopyOption;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * Whole-file copies between this machine's disk and a Hadoop FileSystem, by streams: no checksum
 * side files on the local side, and nothing Hadoop-specific in the local folder the trainer reads.
 */
final class HadoopCopies {
  private HadoopCopies() {}

  /** Copies {@code from} to a new file {@code to}; fails if {@code to} exists. */
  static void upload(java.nio.file.Path from, FileSystem fs, Path to) throws IOException {
    try (OutputStream out = fs.create(to, false)) {
      Files.copy(from, out);
    }
  }

  /** Copies {@code from} to {@code to}, creating its folder and replacing what is there. */
  static void download(FileSystem fs, Path from, java.nio.file.Path to) throws IOException {
    Files.createDirectories(to.toAbsolutePath().getParent());
    try (InputStream in = fs.open(from)) {
      Files.copy(in, to, StandardCopyOption.REPLACE_EXISTING);
    }
  }
}
