package io.mobaspark.trainer.exchange;

import io.mobaspark.kernels.Tensor;
import io.mobaspark.kernels.cuda.ArenaPeer;
import io.mobaspark.kernels.cuda.CudaContext;
import io.mobaspark.kernels.cuda.CudaTensor;
import io.mobaspark.kernels.cuda.DType;
import io.mobaspark.kernels.cuda.DeviceArena;
import io.mobaspark.kernels.cuda.PeerAccess;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * The {@code shared} kind for GPU ranks of one host whose gradients stay on the device
 * (docs/exchange.md, "Ranks of one host"): every rank has an fp32 gradient arena on its device
 * ({@link DeviceArena}) and reads the others' (threads of one process directly, over peer access
 * between devices; other processes by CUDA IPC: {@link ArenaRoutes}), and per step, with {@code N}
 * slices of the arena:
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
 *
 * <p>Joined with a device ({@link #open}), the arena is made at the first average, as long as that
 * average (gradients and loss), and later averages use its first elements. Host buffers
 * ({@link GradientExchange#allReduceMean}) go through it too, copied in and out.
 */
public final class DeviceSharedExchange implements GradientExchange, DeviceGradients {
  private static final System.Logger LOG = System.getLogger(DeviceSharedExchange.class.getName());
  private final ExchangeSpec spec;
  private final SharedWorld world;
  private final ArenaRoutes routes;
  private final String self;
  /** Where a lazily made arena goes; null when the caller gave the arena. */
  private final CudaContext context;
  private DeviceArena arena;
  private long count = SharedWorld.JOINED;
  private ExchangeException failure;

  private DeviceSharedExchange(ExchangeSpec spec, SharedWorld world, ArenaRoutes routes,
      CudaContext context) {
    this.spec = spec;
    this.world = world;
    this.routes = routes;
    this.context = context;
    this.self = "rank " + world.group.rank();
  }

  /**
   * Joins the ranks of this host as for {@link GradientExchanges#open} with kind {@code shared};
   * the arena is made on {@code context}'s device at the first average. When two devices of one
   * process cannot reach each other every rank says why (a warning) and averages through host
   * memory instead ({@link SharedExchange}, whose bits are the same).
   */
  public static GradientExchange open(ExchangeSpec spec, int rank, String host,
      Rendezvous rendezvous, CudaContext context) {
    return open(spec, rank, host, rendezvous, context,
        ArenaRoutes.Place.of(DeviceArena.processKey(), context.device().ordinal()),
        PeerAccess::possible);
  }

  /** {@link #open} with this rank's place and the probe of peer access given (tests). */
  static GradientExchange open(ExchangeSpec spec, int rank, String host, Rendezvous rendezvous,
      CudaContext context, ArenaRoutes.Place place, ArenaRoutes.PeerProbe probe) {
    requireShared(spec);
    SameHostGroup group = SameHostGroup.join(spec, rank, host, rendezvous);
    ArenaRoutes routes;
    try {
      routes = ArenaRoutes.agree(group, place, probe);
    } catch (RuntimeException e) {
      group.close();
      throw e;
    }
    if (routes.hostReason() != null) {
      LOG.log(System.Logger.Level.WARNING, "rank " + rank + ": exchange.kind = shared averages "
          + "through host memory, not on the GPUs: " + routes.hostReason());
      return SharedExchange.over(spec, group);
    }
    return new DeviceSharedExchange(spec, SharedWorld.over(group, spec, 0), routes, context);
  }

  /**
   * Joins as {@link #open} with the caller's arena (it stays the caller's to close), and reaches
   * the other ranks' arenas at once; they must be equally long (checked).
   *
   * @throws ExchangeException when two devices of one process cannot reach each other
   */
  public static DeviceSharedExchange join(ExchangeSpec spec, int rank, String host,
      Rendezvous rendezvous, DeviceArena arena) {
    requireShared(spec);
    SameHostGroup group = SameHostGroup.join(spec, rank, host, rendezvous);
    DeviceSharedExchange exchange;
    try {
      ArenaRoutes routes = ArenaRoutes.agree(group, ArenaRoutes.Place.of(
          DeviceArena.processKey(), arena.device().ordinal()),
          PeerAccess::possible);
      if (routes.hostReason() != null) {
        throw new ExchangeException("rank " + rank + ": the arenas cannot be shared on the "
            + "devices: " + routes.hostReason());
      }
      exchange = new DeviceSharedExchange(spec, SharedWorld.over(group, spec, 0), routes, null);
    } catch (RuntimeException e) {
      group.close();
      throw e;
    }
    try {
      exchange.attach(arena);
      return exchange;
    } catch (RuntimeException e) {
      exchange.world.barrier.failed();
      exchange.world.close();
      throw e;
    }
  }

  private static void requireShared(ExchangeSpec spec) {
    if (spec.kind() != ExchangeSpec.Kind.SHARED || spec.worldSize() > DeviceArena.MAX_RANKS) {
      throw new IllegalArgumentException("the device exchange is the shared kind for at most "
          + DeviceArena.MAX_RANKS + " ranks (the GPUs of one host), got " + spec);
    }
  }

  /**
   * Swaps with the other ranks what their arenas are reached by (length, in-process id, and the IPC
   * handle where a rank of another process needs it) and makes them readable here.
   */
  private void attach(DeviceArena mine) {
    byte[] ipc = routes.exportsIpc() ? mine.ipcHandle() : new byte[DeviceArena.HANDLE_BYTES];
    byte[][] all = world.group.gather(ByteBuffer.allocate(16 + DeviceArena.HANDLE_BYTES)
        .putLong(mine.elements()).putLong(mine.id()).put(ipc).array());
    List<ArenaPeer> peers = new ArrayList<>();
    for (int r = 0; r < all.length; r++) {
      ByteBuffer theirs = ByteBuffer.wrap(all[r]);
      long elements = theirs.getLong();
      if (elements != mine.elements()) {
        throw new ExchangeException(self + ": rank " + r + "'s arena holds " + elements
            + " elements, this rank's " + mine.elements());
      }
      long id = theirs.getLong();
      byte[] handle = new byte[DeviceArena.HANDLE_BYTES];
      theirs.get(handle);
      peers.add(switch (routes.routes().get(r)) {
        case OWN -> new ArenaPeer.Own();
        case SAME_DEVICE, PEER -> new ArenaPeer.InProcess(id);
        case IPC -> new ArenaPeer.Ipc(handle);
      });
    }
    mine.open(peers, rank());
    arena = mine;
  }

  @Override
  public int rank() {
    return world.group.rank();
  }

  @Override
  public int worldSize() {
    return spec.worldSize();
  }

  /**
   * Replaces the whole arena by its mean over the ranks, the same bits on every rank; the arena
   * must hold this step's gradients and no device work may still write it.
   *
   * @throws ExchangeException naming the rank that failed, left or hung; the exchange is unusable
   *     afterwards
   */
  public void allReduceMean(int step) {
    average(step, arena.elements());
  }

  @Override
  public double allReduceMean(int step, List<? extends Tensor> gradients, double loss) {
    long total = 1;
    for (Tensor t : gradients) {
      if (!(t instanceof CudaTensor cuda) || cuda.dtype() != DType.F32) {
        throw new IllegalArgumentException("the device exchange averages fp32 CUDA tensors, got "
            + t);
      }
      total += t.numel();
    }
    ensureArena(total);
    long at = 0;
    for (Tensor t : gradients) {
      if (t.numel() > 0) {
        arena.copyIn(((CudaTensor) t).buffer(), at, t.numel());
      }
      at += t.numel();
    }
    float[] mean = {(float) loss};
    arena.write(mean, at);
    average(step, total);
    at = 0;
    for (Tensor t : gradients) {
      if (t.numel() > 0) {
        arena.copyOut(((CudaTensor) t).buffer(), at, t.numel());
      }
      at += t.numel();
    }
    arena.read(mean, at);
    return mean[0];
  }

  @Override
  public void allReduceMean(int step, List<float[]> buffers) {
    long total = 0;
    for (float[] b : buffers) {
      total += b.length;
    }
    ensureArena(total);
    long at = 0;
    for (float[] b : buffers) {
      if (b.length > 0) {
        arena.write(b, at);
      }
      at += b.length;
    }
    average(step, total);
    at = 0;
    for (float[] b : buffers) {
      if (b.length > 0) {
        arena.read(b, at);
      }
      at += b.length;
    }
  }

  /** Makes the arena at the first average; later ones must fit in it. */
  private void ensureArena(long elements) {
    if (arena == null) {
      if (context == null) {
        throw new IllegalStateException("no arena and no device to make one on");
      }
      DeviceArena made = DeviceArena.allocate(context, elements);
      try {
        attach(made);
      } catch (RuntimeException e) {
        made.close();
        world.barrier.failed();
        throw e;
      }
    } else if (elements > arena.elements()) {
      throw new IllegalArgumentException(self + ": an average of " + elements + " elements does "
          + "not fit the arena of " + arena.elements() + " made at the first one");
    }
  }

  /** Averages the arena's first {@code elements}: the three phases of the class comment. */
  private void average(int step, long elements) {
    if (failure != null) {
      throw new ExchangeException(self + ": the exchange failed earlier: " + failure.getMessage(),
          failure);
    }
    int rank = rank();
    try {
      arena.synchronize();
      world.arena.announce(rank, step, elements);
      world.barrier.await(++count, () -> "step " + step + ", gradients ready");
      world.requireSameStep(step, elements);
      arena.mean(world.sliceStart(rank, elements), world.sliceStart(rank + 1, elements)
          - world.sliceStart(rank, elements));
      arena.synchronize();
      world.barrier.await(++count, () -> "step " + step + ", reduced");
      for (int r = 0; r < worldSize(); r++) {
        arena.copyFrom(r, world.sliceStart(r, elements), world.sliceStart(r + 1, elements)
            - world.sliceStart(r, elements));
      }
      arena.synchronize();
      world.barrier.await(++count, () -> "step " + step + ", gathered");
    } catch (ExchangeException e) {
      world.barrier.failed();
      failure = e;
      throw e;
    }
  }

  /** Leaves the group; an arena made here is freed, one the caller gave stays the caller's. */
  @Override
  public void close() {
    world.close();
    if (context != null && arena != null) {
      arena.close();
    }
  }
}
