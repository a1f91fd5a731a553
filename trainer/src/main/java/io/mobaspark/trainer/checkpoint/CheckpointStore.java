package io.mobaspark.trainer.checkpoint;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The checkpoint folders of one run: {@code <run dir>/checkpoints/step-00000100/}. A checkpoint is
 * written into a hidden temp folder beside them, flushed to disk, and renamed into place in one
 * atomic step, so a folder with a step name is always complete and a crash leaves at most a temp
 * folder, which resume ignores. One writer per run directory (rank 0).
 */
public final class CheckpointStore {
  private static final Pattern STEP_DIR = Pattern.compile("step-(\\d{8,})");
  private static final String TEMP_PREFIX = ".tmp-";

  private final Path dir;

  /** Writes the files of a checkpoint into a (temp) folder. */
  @FunctionalInterface
  public interface FolderWriter {
    void writeInto(Path folder) throws IOException;
  }

  /** A complete checkpoint. */
  public record Checkpoint(int step, Path dir) {}

  public CheckpointStore(Path runDir) {
    if (runDir == null) {
      throw new IllegalArgumentException("run.dir must be given");
    }
    this.dir = runDir.resolve("checkpoints");
  }

  /** {@code <run dir>/checkpoints}. */
  public Path dir() {
    return dir;
  }

  /** The folder name of a step: {@code step-00000100}. */
  public static String folderName(int step) {
    return String.format("step-%08d", step);
  }

  /** Every complete checkpoint, oldest first. */
  public List<Checkpoint> complete() {
    if (!Files.isDirectory(dir)) {
      return List.of();
    }
    List<Checkpoint> found = new ArrayList<>();
    try (Stream<Path> children = Files.list(dir)) {
      children.forEach(child -> {
        Matcher m = STEP_DIR.matcher(child.getFileName().toString());
        if (m.matches() && CheckpointFiles.isComplete(child)) {
          found.add(new Checkpoint(Integer.parseInt(m.group(1)), child));
        }
      });
    } catch (IOException e) {
      throw new UncheckedIOException("cannot list checkpoints in " + dir, e);
    }
    found.sort(Comparator.comparingInt(Checkpoint::step));
    return found;
  }

  /** The newest complete checkpoint, if any. */
  public Optional<Checkpoint> latest() {
    List<Checkpoint> all = complete();
    return all.isEmpty() ? Optional.empty() : Optional.of(all.get(all.size() - 1));
  }

  /**
   * Writes checkpoint {@code step} atomically: {@code writer} fills a temp folder, whose files are
   * forced to disk before the folder is renamed to its step name.
   *
   * @throws IllegalStateException when a checkpoint of that step already exists
   */
  public Checkpoint publish(int step, FolderWriter writer) {
    Path target = dir.resolve(folderName(step));
    if (Files.exists(target)) {
      throw new IllegalStateException("checkpoint " + target + " already exists; refusing to overwrite");
    }
    Path temp = dir.resolve(TEMP_PREFIX + folderName(step) + "-" + UUID.randomUUID());
    try {
      Files.createDirectories(temp);
      writer.writeInto(temp);
      try (Stream<Path> files = Files.list(temp)) {
        for (Path file : (Iterable<Path>) files::iterator) {
          force(file);
        }
      }
      Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE);
      return new Checkpoint(step, target);
    } catch (AtomicMoveNotSupportedException e) {
      deleteQuietly(temp);
      throw new IllegalStateException("the file system of " + dir
          + " cannot rename atomically; checkpoints need a local or POSIX file system", e);
    } catch (IOException e) {
      deleteQuietly(temp);
      throw new UncheckedIOException("cannot write checkpoint " + target, e);
    } catch (RuntimeException e) {
      deleteQuietly(temp);
      throw e;
    }
  }

  /** Deletes all but the newest {@code keep} complete checkpoints. */
  public void prune(int keep) {
    if (keep < 1) {
      throw new IllegalArgumentException("train.keep_checkpoints must be >= 1, got " + keep);
    }
    List<Checkpoint> all = complete();
    for (int i = 0; i < all.size() - keep; i++) {
      delete(all.get(i).dir());
    }
  }

  /** Removes temp folders that crashed writers left behind (safe: there is one writer per run). */
  public void removeLeftoverTemps() {
    if (!Files.isDirectory(dir)) {
      return;
    }
    try (Stream<Path> children = Files.list(dir)) {
      children.filter(c -> c.getFileName().toString().startsWith(TEMP_PREFIX))
          .forEach(CheckpointStore::delete);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot list checkpoints in " + dir, e);
    }
  }

  private static void force(Path file) throws IOException {
    try (FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE)) {
      channel.force(true);
    }
  }

  private static void delete(Path folder) {
    try (Stream<Path> paths = Files.walk(folder)) {
      for (Path p : (Iterable<Path>) paths.sorted(Comparator.reverseOrder())::iterator) {
        Files.delete(p);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot delete " + folder, e);
    }
  }

  private static void deleteQuietly(Path folder) {
    try {
      if (Files.exists(folder)) {
        delete(folder);
      }
    } catch (UncheckedIOException ignored) {
      // Best effort: a leftover temp folder is ignored by resume and removed by the next run.
    }
  }
}
