package io.mobaspark.kernels.cuda;

import java.lang.reflect.Field;
import java.security.SecureRandom;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUipcMemHandle;
import jcuda.driver.CUipcMem_flags;
import jcuda.driver.JCudaDriver;

/**
 * One rank's fp32 gradient arena in device memory, and the other ranks' arenas of its host made
 * visible here: what the trainer's shared exchange reduces in (docs/exchange.md, "Ranks of one
 * host"). A rank reaches each other arena the cheapest way there is ({@link ArenaPeer}):
 * <ul>
 *   <li>a thread of this process made it: directly by its pointer (unified addressing), after
 *       enabling peer access from this device to its device when they differ ({@link PeerAccess});
 *   <li>another process made it: by CUDA IPC, mapped with lazy peer access (a handle cannot be
 *       opened in the process that made it, hence the first route).
 * </ul>
 *
 * <p>An IPC handle is CUDA's 64-byte {@code CUipcMemHandle}. JCuda keeps its bytes in a private
 * field; they are read and set here by reflection, so that the trainer sends them as plain bytes
 * over its own authenticated channel. A handle only names memory; a process that has it can map
 * the arena, which is why it travels only to ranks that proved the run secret.
 */
public final class DeviceArena implements AutoCloseable {
  /** Bytes of an IPC handle ({@code CU_IPC_HANDLE_SIZE}). */
  public static final int HANDLE_BYTES = 64;
  /** Ranks {@code arena.cu} sums over: the GPUs of one host. */
  public static final int MAX_RANKS = 8;
  /** Bytes of {@link #processKey()}. */
  public static final int PROCESS_KEY_BYTES = 16;
  private static final int THREADS = 256;
  /** Enough blocks to keep every SM's loads in flight on an H100/H200 (132 SMs × 8). */
  private static final int MAX_BLOCKS = 1056;
  private static final Field RESERVED = reservedField();
  private static final byte[] PROCESS_KEY = randomKey();
  private static final AtomicLong IDS = new AtomicLong();
  /** This process's live arenas by {@link #id()}: how its threads' ranks find each other's. */
  private static final Map<Long, DeviceArena> LIVE = new ConcurrentHashMap<>();

  private final CudaContext context;
  private final DeviceBuffer own;
  private final long elements;
  private final long id = IDS.incrementAndGet();
  /** By rank, once {@link #open}ed: the other ranks' arenas as seen here, this rank's own. */
  private CUdeviceptr[] ranks;
  /** By rank: whether {@link #ranks} holds an IPC mapping this arena opened (and must close). */
  private boolean[] opened;
  private int rank = -1;

  private DeviceArena(CudaContext context, long elements) {
    if (elements < 1) {
      throw new IllegalArgumentException("an arena needs at least one element, got " + elements);
    }
    this.context = context;
    this.elements = elements;
    context.bind();
    this.own = context.allocate(4L * elements);
    LIVE.put(id, this);
  }

  /** A fresh arena of {@code elements} floats on {@code context}'s device. */
  public static DeviceArena allocate(CudaContext context, long elements) {
    return new DeviceArena(context, elements);
  }

  /**
   * Random bytes that name this process's set of arenas (more exactly, this class's: one per
   * class loader): two ranks with equal keys reach each other's arenas by {@link #id()}, others by
   * IPC. Not the pid, which containers of one host repeat.
   */
  public static byte[] processKey() {
    return PROCESS_KEY.clone();
  }

  /** What the other ranks of this process open this arena by ({@link ArenaPeer.InProcess}). */
  public long id() {
    return id;
  }

  /** This rank's arena: where its gradients go before an average, and the mean after. */
  public DeviceBuffer buffer() {
    return own;
  }

  public long elements() {
    return elements;
  }

  /** The device the arena is on. */
  public CudaDevice device() {
    return context.device();
  }

  /** The CUDA IPC handle the ranks of other processes open this arena by. */
  public byte[] ipcHandle() {
    context.bind();
    CUipcMemHandle handle = new CUipcMemHandle();
    Cuda.check(JCudaDriver.cuIpcGetMemHandle(handle, own.pointer()), "cuIpcGetMemHandle");
    try {
      return ((byte[]) RESERVED.get(handle)).clone();
    } catch (IllegalAccessException e) {
      throw new IllegalStateException("cannot read CUipcMemHandle's bytes", e);
    }
  }

  /**
   * Makes every other rank's arena readable here, {@code peers} by rank ({@code peers[rank]} is
   * {@link ArenaPeer.Own}).
   *
   * @throws CudaException when an arena cannot be reached: devices without a peer path (named),
   *     an IPC handle of another host or of an ended process
   * @throws IllegalArgumentException when an in-process arena is not (or no longer) live
   */
  public void open(List<ArenaPeer> peers, int rank) {
    if (peers.size() > MAX_RANKS || rank < 0 || rank >= peers.size()
        || !(peers.get(rank) instanceof ArenaPeer.Own)) {
      throw new IllegalArgumentException("rank " + rank + " of " + peers + "; the device arena "
          + "takes at most " + MAX_RANKS + " ranks, with this rank's own at its index");
    }
    context.bind();
    CUdeviceptr[] mapped = new CUdeviceptr[peers.size()];
    boolean[] mine = new boolean[peers.size()];
    try {
      for (int r = 0; r < peers.size(); r++) {
        ArenaPeer peer = peers.get(r);
        if (peer instanceof ArenaPeer.Own) {
          if (r != rank) {
            throw new IllegalArgumentException("rank " + r + " is not this rank (" + rank + ")");
          }
          mapped[r] = own.pointer();
        } else if (peer instanceof ArenaPeer.InProcess p) {
          mapped[r] = inProcess(r, p.id());
        } else {
          mapped[r] = openIpc(r, ((ArenaPeer.Ipc) peer).handle());
          mine[r] = true;
        }
      }
    } catch (RuntimeException e) {
      closeMapped(mapped, mine);
      throw e;
    }
    this.ranks = mapped;
    this.opened = mine;
    this.rank = rank;
  }

  /** Rank {@code r}'s arena made by a thread of this process, readable from this device. */
  private CUdeviceptr inProcess(int r, long theirId) {
    DeviceArena theirs = LIVE.get(theirId);
    if (theirs == null) {
      throw new IllegalArgumentException("rank " + r + "'s arena " + theirId + " is not a live "
          + "arena of this process (closed, or made in another class loader)");
    }
    PeerAccess.enable(context, theirs.context);
    context.bind();
    return theirs.own.pointer();
  }

  private CUdeviceptr openIpc(int r, byte[] handleBytes) {
    if (handleBytes.length != HANDLE_BYTES) {
      throw new IllegalArgumentException("rank " + r + "'s handle has " + handleBytes.length
          + " bytes, expected " + HANDLE_BYTES);
    }
    CUipcMemHandle handle = new CUipcMemHandle();
    try {
      RESERVED.set(handle, handleBytes.clone());
    } catch (IllegalAccessException e) {
      throw new IllegalStateException("cannot set CUipcMemHandle's bytes", e);
    }
    CUdeviceptr pointer = new CUdeviceptr();
    // Lazy peer access: an arena on another GPU becomes readable from this one (over NVLink).
    Cuda.check(JCudaDriver.cuIpcOpenMemHandle(pointer, handle,
        CUipcMem_flags.CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS),
        "cuIpcOpenMemHandle(rank " + r + "'s arena, from " + context.device() + ")");
    return pointer;
  }

  /**
   * This arena's {@code [from, from + count)} becomes the mean over all ranks' arenas there (summed
   * in double in rank order, scaled by {@code 1/N}, rounded once: {@code arena.cu}); on the stream.
   */
  public void mean(long from, long count) {
    requireOpen(from, count);
    if (count == 0) {
      return;
    }
    KernelArgs args = new KernelArgs();
    for (int r = 0; r < MAX_RANKS; r++) {
      args.ptr(ranks[Math.min(r, ranks.length - 1)]);
    }
    args.i32(ranks.length).ptr(own.pointer()).i64(from).i64(count).f64(1.0 / ranks.length);
    long blocks = Math.min(MAX_BLOCKS, (count + 4L * THREADS - 1) / (4L * THREADS));
    context.kernel("arena", "arena_mean").launch(LaunchShape.of(Math.max(1, blocks), THREADS),
        args);
  }

  /** This arena's {@code [from, from + count)} from rank {@code owner}'s arena; on the stream. */
  public void copyFrom(int owner, long from, long count) {
    requireOpen(from, count);
    if (count == 0 || owner == rank) {
      return;
    }
    context.bind();
    Cuda.check(JCudaDriver.cuMemcpyDtoDAsync(own.pointer().withByteOffset(4 * from),
        ranks[owner].withByteOffset(4 * from), 4 * count, context.stream()),
        "cuMemcpyDtoDAsync(" + 4 * count + " bytes from rank " + owner + "'s arena)");
  }

  /** This arena's {@code [at, at + count)} from {@code src}'s first floats; on the stream. */
  public void copyIn(DeviceBuffer src, long at, long count) {
    requireRange(at, count);
    context.bind();
    Cuda.check(JCudaDriver.cuMemcpyDtoDAsync(own.pointer().withByteOffset(4 * at), src.pointer(),
        4 * count, context.stream()), "cuMemcpyDtoDAsync(" + 4 * count + " bytes into the arena)");
  }

  /** {@code dst}'s first floats from this arena's {@code [at, at + count)}; on the stream. */
  public void copyOut(DeviceBuffer dst, long at, long count) {
    requireRange(at, count);
    context.bind();
    Cuda.check(JCudaDriver.cuMemcpyDtoDAsync(dst.pointer(), own.pointer().withByteOffset(4 * at),
        4 * count, context.stream()), "cuMemcpyDtoDAsync(" + 4 * count + " bytes out of the arena)");
  }

  /** Host floats into the arena from element {@code at}, after the stream's work. */
  public void write(float[] src, long at) {
    requireRange(at, src.length);
    context.synchronize();
    Cuda.check(JCudaDriver.cuMemcpyHtoD(own.pointer().withByteOffset(4 * at), Pointer.to(src),
        4L * src.length), "cuMemcpyHtoD(" + 4L * src.length + " bytes into the arena)");
  }

  /** The arena's floats from element {@code at} into {@code dst}, after the stream's work. */
  public void read(float[] dst, long at) {
    requireRange(at, dst.length);
    context.synchronize();
    Cuda.check(JCudaDriver.cuMemcpyDtoH(Pointer.to(dst), own.pointer().withByteOffset(4 * at),
        4L * dst.length), "cuMemcpyDtoH(" + 4L * dst.length + " bytes out of the arena)");
  }

  private void requireRange(long at, long count) {
    if (at < 0 || count < 0 || at + count > elements) {
      throw new IllegalArgumentException("[" + at + ", " + (at + count) + ") is outside an arena "
          + "of " + elements + " elements");
    }
  }

  /** Waits for this rank's device work, so that the other ranks may read what it wrote. */
  public void synchronize() {
    context.synchronize();
  }

  private void requireOpen(long from, long count) {
    if (ranks == null) {
      throw new IllegalStateException("the arena's peers are not open yet");
    }
    requireRange(from, count);
  }

  /** Unmaps the other ranks' arenas and frees this one. */
  @Override
  public void close() {
    context.bind();
    LIVE.remove(id);
    if (ranks != null) {
      closeMapped(ranks, opened);
      ranks = null;
    }
    own.close();
  }

  private static void closeMapped(CUdeviceptr[] mapped, boolean[] opened) {
    for (int r = 0; r < mapped.length; r++) {
      if (opened[r]) {
        JCudaDriver.cuIpcCloseMemHandle(mapped[r]); // best effort: the mapping ends with us anyway
      }
    }
  }

  private static byte[] randomKey() {
    byte[] key = new byte[PROCESS_KEY_BYTES];
    new SecureRandom().nextBytes(key);
    return key;
  }

  private static Field reservedField() {
    try {
      Field field = CUipcMemHandle.class.getDeclaredField("reserved");
      field.setAccessible(true);
      return field;
    } catch (NoSuchFieldException e) {
      throw new IllegalStateException("this JCuda's CUipcMemHandle has no 'reserved' bytes", e);
    }
  }
}
