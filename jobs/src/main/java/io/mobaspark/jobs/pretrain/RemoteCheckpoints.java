package io.mobaspark.jobs.pretrain;

import io.mobaspark.trainer.checkpoint.CheckpointStore;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * The checkpoints of a run folder on a Hadoop FileSystem, {@code <run.dir>/checkpoints/step-N/},
 * and the protocol that keeps a reader from ever taking a partial one (docs/checkpoints.md):
 *
 * <ol>
 *   <li>the files are uploaded into {@code checkpoints/.tmp-step-N-<uuid>/};
 *   <li>that folder is renamed to {@code step-N}: atomic on HDFS, but a copy file by file on object
 *       stores (S3A, GCS, ABFS without hierarchical namespace), where the folder appears in parts;
 *   <li>an empty {@value #MARKER} file is written into {@code step-N}, last.
 * </ol>
 *
 * A checkpoint counts only with its marker; the newest such is the one to resume from. A crash at
 * any point leaves a temp folder or a step folder without its marker, both ignored. Deleting goes
 * the other way round: the marker first, then the folder. One writer per run folder (rank 0).
 */
final class RemoteCheckpoints {
  /** Written into a checkpoint folder once every file is in place. */
  static final String MARKER = "_COMPLETE";
  private static final Pattern STEP_DIR = Pattern.compile("step-(\\d{8,})");
  private static final String TEMP_PREFIX = ".tmp-";

  private final FileSystem fs;
  private final Path dir;

  /** A checkpoint with its marker. */
  record Checkpoint(int step, Path dir) {}

  /**
   * @param dir {@code <run.dir>/checkpoints}
   */
  RemoteCheckpoints(FileSystem fs, Path dir) {
    this.fs = fs;
    this.dir = dir;
  }

  /** Every checkpoint that has its marker, oldest first. */
  List<Checkpoint> complete() {
    List<Checkpoint> found = new ArrayList<>();
    try {
      for (FileStatus child : children()) {
        Matcher m = STEP_DIR.matcher(child.getPath().getName());
        if (child.isDirectory() && m.matches() && fs.exists(new Path(child.getPath(), MARKER))) {
          found.add(new Checkpoint(Integer.parseInt(m.group(1)), child.getPath()));
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot list checkpoints in " + dir, e);
    }
    found.sort(Comparator.comparingInt(Checkpoint::step));
    return found;
  }

  /** The newest checkpoint that has its marker, if any. */
  Optional<Checkpoint> latest() {
    List<Checkpoint> all = complete();
    return all.isEmpty() ? Optional.empty() : Optional.of(all.get(all.size() - 1));
  }

  /**
   * Uploads checkpoint {@code step} by the protocol above.
   *
   * @param files the file name in the checkpoint folder -> the local file to upload under it
   * @throws IllegalStateException when checkpoint {@code step} already exists with its marker
   */
  Checkpoint publish(int step, Map<String, java.nio.file.Path> files) {
    Path target = new Path(dir, CheckpointStore.folderName(step));
    Path temp = new Path(dir, TEMP_PREFIX + target.getName() + "-" + UUID.randomUUID());
    try {
      if (fs.exists(new Path(target, MARKER))) {
        throw new IllegalStateException("checkpoint " + target + " already exists; refusing to "
            + "overwrite");
      }
      // A step folder without its marker is a publication that crashed: this one replaces it.
      fs.delete(target, true);
      if (!fs.mkdirs(temp)) {
        throw new IOException("cannot create " + temp);
      }
      for (Map.Entry<String, java.nio.file.Path> file : files.entrySet()) {
        HadoopCopies.upload(file.getValue(), fs, new Path(temp, file.getKey()));
      }
      if (!fs.rename(temp, target)) {
        throw new IOException("cannot rename " + temp + " to " + target);
      }
      fs.create(new Path(target, MARKER), false).close();
      return new Checkpoint(step, target);
    } catch (IOException e) {
      deleteQuietly(temp);
      throw new UncheckedIOException("cannot upload checkpoint " + target, e);
    } catch (RuntimeException e) {
      deleteQuietly(temp);
      throw e;
    }
  }

  /** Copies file {@code name} of {@code checkpoint} to {@code to}. */
  void download(Checkpoint checkpoint, String name, java.nio.file.Path to) {
    Path from = new Path(checkpoint.dir(), name);
    try {
      HadoopCopies.download(fs, from, to);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot download " + from + " to " + to, e);
    }
  }

  /** Deletes all but the newest {@code keep} checkpoints that have their marker. */
  void prune(int keep) {
    List<Checkpoint> all = complete();
    for (int i = 0; i < all.size() - keep; i++) {
      Path old = all.get(i).dir();
      try {
        // Marker first: a folder half deleted is then a partial checkpoint, which no reader takes.
        fs.delete(new Path(old, MARKER), false);
        fs.delete(old, true);
      } catch (IOException e) {
        throw new UncheckedIOException("cannot delete checkpoint " + old, e);
      }
    }
  }

  /** Removes temp folders that crashed uploads left behind (safe: there is one writer per run). */
  void removeLeftoverTemps() {
    try {
      for (FileStatus child : children()) {
        if (child.getPath().getName().startsWith(TEMP_PREFIX)) {
          fs.delete(child.getPath(), true);
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot clean up " + dir, e);
    }
  }

  private FileStatus[] children() throws IOException {
    try {
      return fs.listStatus(dir);
    } catch (FileNotFoundException none) {
      return new FileStatus[0];
    }
  }

  private void deleteQuietly(Path path) {
    try {
      fs.delete(path, true);
    } catch (IOException ignored) {
      // Best effort: a leftover temp folder is ignored by readers and removed by the next run.
    }
  }
}
