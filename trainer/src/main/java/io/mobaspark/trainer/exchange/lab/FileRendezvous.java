package io.mobaspark.trainer.exchange.lab;

import io.mobaspark.trainer.exchange.Rendezvous;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;

/**
 * The address swap among processes of one machine, standing in for Spark's
 * {@code BarrierTaskContext.allGather} in {@link DeviceSharedBench}: each rank writes its address to
 * {@code <folder>/<round>-<rank>} (a temp name, then a rename, so no rank reads half a file) and
 * polls until all ranks' files are there. One round per exchange joined.
 */
final class FileRendezvous implements Rendezvous {
  private static final long WAIT_MILLIS = 120_000;

  private final Path folder;
  private final String round;
  private final int rank;
  private final int ranks;

  FileRendezvous(Path folder, String round, int rank, int ranks) {
    this.folder = folder;
    this.round = round;
    this.rank = rank;
    this.ranks = ranks;
  }

  @Override
  public List<String> allGather(String ownAddress) {
    try {
      Path temp = folder.resolve(round + "-" + rank + ".tmp");
      Files.writeString(temp, ownAddress, StandardCharsets.UTF_8);
      Files.move(temp, folder.resolve(round + "-" + rank), StandardCopyOption.ATOMIC_MOVE);
      long deadline = System.currentTimeMillis() + WAIT_MILLIS;
      List<String> addresses = new ArrayList<>();
      for (int r = 0; r < ranks; r++) {
        Path theirs = folder.resolve(round + "-" + r);
        while (!Files.exists(theirs)) {
          if (System.currentTimeMillis() > deadline) {
            throw new IllegalStateException("rank " + r + " did not reach round " + round);
          }
          Thread.sleep(5);
        }
        addresses.add(Files.readString(theirs, StandardCharsets.UTF_8));
      }
      return addresses;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted in round " + round, e);
    }
  }
}
