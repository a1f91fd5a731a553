package io.mobaspark.data.shard;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * Passes writes to a file and hashes and counts them on the way, so that the writer knows the
 * shard's size and SHA-256 without reading a 2 GiB file back. Closing it leaves the file open: the
 * writer still has to fsync it.
 */
final class DigestingChannel implements WritableByteChannel {
  private final FileChannel file;
  private final MessageDigest sha256 = newSha256();
  private long bytes;
  private boolean open = true;

  DigestingChannel(FileChannel file) {
    this.file = file;
  }

  @Override
  public int write(ByteBuffer src) throws IOException {
    ByteBuffer written = src.duplicate();
    int n = file.write(src);
    written.limit(written.position() + n);
    sha256.update(written);
    bytes += n;
    return n;
  }

  long bytes() {
    return bytes;
  }

  /** The hex SHA-256 of everything written; call once, after the last write. */
  String sha256Hex() {
    return HexFormat.of().formatHex(sha256.digest());
  }

  @Override
  public boolean isOpen() {
    return open;
  }

  @Override
  public void close() {
    open = false;
  }

  static MessageDigest newSha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      // Every Java platform must provide SHA-256 (MessageDigest's Javadoc).
      throw new IllegalStateException("the JVM lacks SHA-256", e);
    }
  }
}
