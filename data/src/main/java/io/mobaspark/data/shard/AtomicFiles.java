package io.mobaspark.data.shard;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.UUID;

/**
 * Replacing a file so that readers see the old content or the new, never a mix: write a hidden
 * temporary file beside it, fsync, rename over the target, fsync the folder.
 */
final class AtomicFiles {
  private AtomicFiles() {}

  /**
   * Creates a new, empty, uniquely named hidden file in {@code target}'s folder and opens it for
   * writing. Unique so that a speculative or retried task never writes into another's file; not
   * {@code Files.createTempFile}, whose owner-only permissions would make the shard unreadable to
   * other users after the rename.
   */
  static Path createTemp(Path target) throws IOException {
    Path dir = target.toAbsolutePath().getParent();
    Files.createDirectories(dir);
    Path temp = dir.resolve("." + target.getFileName() + "." + UUID.randomUUID() + ".tmp");
    Files.createFile(temp);
    return temp;
  }

  /** Renames the fsynced {@code temp} onto {@code target} and makes the rename durable. */
  static void commit(Path temp, Path target) throws IOException {
    Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    // On Linux a rename is on disk only once its folder is synced.
    try (FileChannel folder = FileChannel.open(target.toAbsolutePath().getParent(),
        StandardOpenOption.READ)) {
      folder.force(true);
    }
  }
}
