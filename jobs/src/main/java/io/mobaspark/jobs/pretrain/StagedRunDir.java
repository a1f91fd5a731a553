package io.mobaspark.jobs.pretrain;

import io.mobaspark.trainer.ProcessTempFolders;
import io.mobaspark.trainer.checkpoint.CheckpointFiles;
import io.mobaspark.trainer.checkpoint.CheckpointListener;
import io.mobaspark.trainer.checkpoint.CheckpointStore;
import io.mobaspark.trainer.loop.RunFolder;
import io.mobaspark.trainer.loop.TrainSummary;
import io.mobaspark.trainer.loop.TrainingLoop;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import java.util.stream.Stream;

/**
 * One training task's local copy of a run folder that lives on a Hadoop FileSystem
 * ({@link RemoteRunDir}): the trainer reads and writes a local folder with java.nio as always, and
 * this class fills it before training and mirrors rank 0's checkpoints back.
 *
 * <ul>
 *   <li>Before training, every rank downloads the newest checkpoint that has its marker, and rank 0
 *       the {@code metrics.jsonl} stored with it (the lines up to its step), so the trainer resumes
 *       exactly as from a shared folder. Rank 0 first removes the temp files of crashed uploads.
 *   <li>After each checkpoint, rank 0 uploads it with {@code metrics.jsonl} inside
 *       ({@link RemoteCheckpoints#publish}), then replaces the run folder's {@code metrics.jsonl}
 *       and {@code config.json}, deletes remote checkpoints beyond {@code train.keep_checkpoints},
 *       and keeps only that newest checkpoint locally (it is safe remotely; local disk is not
 *       where a run's checkpoints accumulate).
 *   <li>At the end, rank 0 uploads {@code metrics.jsonl} and {@code config.json} once more.
 * </ul>
 *
 * The staging folder is under the JVM's temp folder ({@code java.io.tmpdir}, which Spark on YARN
 * points into the container) and is deleted when the task ends. Its name carries the process id of
 * the executor JVM, so that a folder whose JVM was killed (and so never deleted it) is removed by
 * the next task that stages on the same machine ({@link ProcessTempFolders}).
 */
final class StagedRunDir implements CheckpointListener, AutoCloseable {
  /** Staging folders are named {@code mobaspark-run-pid<pid>-<rank>-<random>}. */
  static final String PREFIX = "mobaspark-run-";

  private final RemoteRunDir remote;
  private final Path local;
  private final boolean lead;
  private final int keep;
  private final PrintStream console;

  private StagedRunDir(RemoteRunDir remote, Path local, boolean lead, int keep,
      PrintStream console) {
    this.remote = remote;
    this.local = local;
    this.lead = lead;
    this.keep = keep;
    this.console = console;
  }

  /**
   * Creates this rank's staging folder and downloads what it resumes from.
   *
   * @param keep {@code train.keep_checkpoints}: remote checkpoints kept
   */
  static StagedRunDir stage(RemoteRunDir remote, int rank, int keep, PrintStream console) {
    Path local;
    try {
      Path tmp = Path.of(System.getProperty("java.io.tmpdir"));
      ProcessTempFolders.sweepEnded(tmp, PREFIX, console::println);
      local = ProcessTempFolders.create(tmp, PREFIX, rank + "-");
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create a staging folder for run.dir = "
          + remote.uri() + " in " + System.getProperty("java.io.tmpdir"), e);
    }
    StagedRunDir staged = new StagedRunDir(remote, local, rank == 0, keep, console);
    try {
      staged.download(rank);
      return staged;
    } catch (RuntimeException e) {
      staged.close();
      throw e;
    }
  }

  private void download(int rank) {
    RemoteCheckpoints checkpoints = remote.checkpoints();
    if (lead) {
      remote.removeLeftoverTemps();
      checkpoints.removeLeftoverTemps();
    }
    Optional<RemoteCheckpoints.Checkpoint> latest = checkpoints.latest();
    if (latest.isEmpty()) {
      return;
    }
    RemoteCheckpoints.Checkpoint checkpoint = latest.get();
    Path folder = new CheckpointStore(local).dir()
        .resolve(CheckpointStore.folderName(checkpoint.step()));
    // state.json last, as the trainer writes it: a folder with a state file has all its tensors.
    for (String name : List.of(CheckpointFiles.MODEL, CheckpointFiles.OPTIMIZER,
        CheckpointFiles.STATE)) {
      checkpoints.download(checkpoint, name, folder.resolve(name));
    }
    if (lead) {
      checkpoints.download(checkpoint, TrainingLoop.METRICS_FILE,
          local.resolve(TrainingLoop.METRICS_FILE));
    }
    console.println("rank " + rank + ": staged checkpoint " + checkpoint.dir() + " in " + folder);
  }

  /**
   * Runs {@code training} in the staging folder and, on rank 0, uploads the run's files at the
   * end. A bad-input failure names the remote files instead of the staged ones.
   */
  TrainSummary train(Function<RunFolder, TrainSummary> training) {
    TrainSummary summary;
    try {
      summary = training.apply(new RunFolder(local, lead ? this : CheckpointListener.NONE));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(String.valueOf(e.getMessage())
          .replace(local.toString(), remote.uri().replaceAll("/+$", "")), e);
    }
    if (lead) {
      uploadRunFiles();
    }
    return summary;
  }

  @Override
  public void saved(CheckpointStore.Checkpoint checkpoint) {
    Map<String, Path> files = new LinkedHashMap<>();
    try (Stream<Path> inFolder = Files.list(checkpoint.dir())) {
      inFolder.sorted().forEach(f -> files.put(f.getFileName().toString(), f));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot list " + checkpoint.dir(), e);
    }
    // The metrics up to this step travel with it: a resume from it restores them exactly.
    files.put(TrainingLoop.METRICS_FILE, local.resolve(TrainingLoop.METRICS_FILE));
    RemoteCheckpoints checkpoints = remote.checkpoints();
    RemoteCheckpoints.Checkpoint uploaded = checkpoints.publish(checkpoint.step(), files);
    uploadRunFiles();
    checkpoints.prune(keep);
    new CheckpointStore(local).prune(1);
    console.println("uploaded checkpoint to " + uploaded.dir());
  }

  private void uploadRunFiles() {
    remote.replace(TrainingLoop.METRICS_FILE, local.resolve(TrainingLoop.METRICS_FILE));
    remote.replace(TrainingLoop.CONFIG_FILE, local.resolve(TrainingLoop.CONFIG_FILE));
  }

  /** Deletes the staging folder (best effort; an executor that is killed leaves it behind). */
  @Override
  public void close() {
    ProcessTempFolders.delete(local, console::println);
  }
}
