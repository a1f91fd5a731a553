package io.mobaspark.trainer.exchange.lab;

import io.mobaspark.trainer.exchange.Rendezvous;
import java.util.Arrays;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The ring's address swap among threads of one JVM, standing in for Spark's
 * {@code BarrierTaskContext.allGather} in the bench and the tests.
 */
public final class ThreadRendezvous {
  private final String[] addresses;
  private final CyclicBarrier barrier;

  public ThreadRendezvous(int ranks) {
    addresses = new String[ranks];
    barrier = new CyclicBarrier(ranks);
  }

  /** Rank {@code rank}'s view: offers its address, waits (up to 60 s) for all, returns them. */
  public Rendezvous forRank(int rank) {
    return own -> {
      addresses[rank] = own;
      try {
        barrier.await(60, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("rank " + rank + " interrupted in the rendezvous", e);
      } catch (BrokenBarrierException | TimeoutException e) {
        throw new IllegalStateException("rank " + rank + ": the other ranks did not arrive", e);
      }
      // The barrier orders every rank's write before any rank's read.
      return Arrays.asList(addresses.clone());
    };
  }
}
