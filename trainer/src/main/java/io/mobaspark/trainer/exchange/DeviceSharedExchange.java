package io.mobaspark.trainer.exchange;

import io.mobaspark.kernels.cuda.IpcArena;
import java.nio.ByteBuffer;

/**
 * The {@code shared} kind for GPU ranks of one host whose gradients stay on the device
 * (docs/exchange.md, "Ranks of one host"): every rank exports its fp32 gradient arena
 * ({@link IpcArena}) and maps the others', and per step, with {@code N} slices of the arena:
 * <ol>
 *   <li>barrier: every arena holds this step's gradients;
 *   <li>rank {@code r} writes the mean of slice {@code r} over all arenas into its own (summed in
 *       double in rank order, scaled by {@code 1/N}, rounded once: the driver's and the host shared
 *       kind's bits), waits for it; barrier;
 *   <li>every rank copies each other slice from its reducer's arena (over NVLink between GPUs, in
 *       HBM when ranks share a GPU), waits for it; barrier: no rank overwrites its arena with the
 *       next step's gradients while another still reads it.
 * </ol>
 * The barriers are the host shared kind's ({@link ArenaBarrier}, on a header-only
 * {@link SharedArena}), so a rank that ends or hangs is named the same way. Each rank moves
 * {@code 2(N-1)/N} of the arena through its device, as a ring would, and nothing crosses PCIe.
 * The arena carries fp32 whatever {@code exchange.wire}: there is no wire.
 */
public final class DeviceSharedExchange implements AutoCloseable {
  private final ExchangeSpec spec;
  private final SharedWorld world;
  private final IpcArena arena;
  private final String self;
  private long count = SharedWorld.JOINED;
  private ExchangeException failure;

  private DeviceSharedExchange(ExchangeSpec spec, SharedWorld world, IpcArena arena) {
    this.spec = spec;
    this.world = world;
    this.arena = arena;
    this.self = "rank " + world.group.rank();
  }

  /**
   * Joins the ranks of this host as for {@link GradientExchanges#open} with kind {@code shared},
   * then swaps arena handles over the authenticated channel and maps the other ranks' arenas. The
   * arenas must be equally long on every rank (checked).
   */
  public static DeviceSharedExchange join(ExchangeSpec spec, int rank, String host,
      Rendezvous rendezvous, IpcArena arena) {
    if (spec.kind() != ExchangeSpec.Kind.SHARED || spec.worldSize() > IpcArena.MAX_RANKS) {
      throw new IllegalArgumentException("the device exchange is the shared kind for at most "
          + IpcArena.MAX_RANKS + " ranks (the GPUs of one host), got " + spec);
    }
    SharedWorld world = SharedWorld.join(spec, rank, host, rendezvous, 0);
    try {
      byte[] mine = new byte[8 + IpcArena.HANDLE_BYTES];
      ByteBuffer.wrap(mine).putLong(arena.elements()).put(arena.handle());
      byte[][] all = world.group.gather(mine);
      byte[][] handles = new byte[all.length][];
      for (int r = 0; r < all.length; r++) {
        ByteBuffer theirs = ByteBuffer.wrap(all[r]);
        long elements = theirs.getLong();
        if (elements != arena.elements()) {
          throw new ExchangeException("rank " + rank + ": rank " + r + "'s arena holds " + elements
              + " elements, this rank's " + arena.elements());
        }
        handles[r] = new byte[IpcArena.HANDLE_BYTES];
        theirs.get(handles[r]);
      }
      arena.open(handles, rank);
      return new DeviceSharedExchange(spec, world, arena);
    } catch (RuntimeException e) {
      world.barrier.failed();
      world.close();
      throw e;
    }
  }

  public int rank() {
    return world.group.rank();
  }

  public int worldSize() {
    return spec.worldSize();
  }

  /**
   * Replaces the arena by its mean over the ranks, the same bits on every rank; the arena must hold
   * this step's gradients and no device work may still write it.
   *
   * @throws ExchangeException naming the rank that failed, left or hung; the exchange is unusable
   *     afterwards
   */
  public void allReduceMean(int step) {
    if (failure != null) {
      throw new ExchangeException(self + ": the exchange failed earlier: " + failure.getMessage(),
          failure);
    }
    int rank = rank();
    try {
      arena.synchronize();
      world.arena.announce(rank, step, arena.elements());
      world.barrier.await(++count, () -> "step " + step + ", gradients ready");
      world.requireSameStep(step, arena.elements());
      arena.mean(sliceStart(rank), sliceStart(rank + 1) - sliceStart(rank));
      arena.synchronize();
      world.barrier.await(++count, () -> "step " + step + ", reduced");
      for (int r = 0; r < worldSize(); r++) {
        arena.copyFrom(r, sliceStart(r), sliceStart(r + 1) - sliceStart(r));
      }
      arena.synchronize();
      world.barrier.await(++count, () -> "step " + step + ", gathered");
    } catch (ExchangeException e) {
      world.barrier.failed();
      failure = e;
      throw e;
    }
  }

  /** First element of slice {@code slice} (0..N; N gives the end). */
  private long sliceStart(int slice) {
    return arena.elements() * slice / worldSize();
  }

  /** Leaves the group; the arena is the caller's to close. */
  @Override
  public void close() {
    world.close();
  }
}
