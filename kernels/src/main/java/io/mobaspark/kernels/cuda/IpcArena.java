package io.mobaspark.kernels.cuda;

import java.lang.reflect.Field;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUipcMemHandle;
import jcuda.driver.CUipcMem_flags;
import jcuda.driver.JCudaDriver;

/**
 * One rank's fp32 gradient arena in device memory, shared with the other training processes of its
 * host through CUDA IPC, and theirs mapped here: what the trainer's shared exchange reduces in
 * (docs/exchange.md, "Ranks of one host"). Ranks on separate GPUs read each other's arenas over
 * NVLink (peer access is enabled on open), ranks on one GPU in its own memory.
 *
 * <p>An arena's handle is CUDA's 64-byte {@code CUipcMemHandle}. JCuda keeps its bytes in a private
 * field; they are read and set here by reflection, so that the trainer sends them as plain bytes
 * over its own authenticated channel. A handle only names memory; a process that has it can map
 * the arena, which is why it travels only to ranks that proved the run secret. CUDA refuses to
 * open a handle in the process that exported it, so every rank must be its own process (one
 * executor per GPU, as Spark runs them).
 */
public final class IpcArena implements AutoCloseable {
  /** Bytes of a handle ({@code CU_IPC_HANDLE_SIZE}). */
  public static final int HANDLE_BYTES = 64;
  /** Ranks {@code arena.cu} sums over: the GPUs of one host. */
  public static final int MAX_RANKS = 8;
  private static final int THREADS = 256;
  /** Enough blocks to keep every SM's loads in flight on an H100/H200 (132 SMs × 8). */
  private static final int MAX_BLOCKS = 1056;
  private static final Field RESERVED = reservedField();

  private final CudaContext context;
  private final DeviceBuffer own;
  private final long elements;
  /** By rank, once {@link #open}ed: the other ranks' arenas mapped here, this rank's own. */
  private CUdeviceptr[] ranks;
  private int rank = -1;

  private IpcArena(CudaContext context, long elements) {
    if (elements < 1) {
      throw new IllegalArgumentException("an arena needs at least one element, got " + elements);
    }
    this.context = context;
    this.elements = elements;
    context.bind();
    this.own = context.allocate(4L * elements);
  }

  /** A fresh arena of {@code elements} floats on {@code context}'s device. */
  public static IpcArena allocate(CudaContext context, long elements) {
    return new IpcArena(context, elements);
  }

  /** This rank's arena: where its gradients go before an average, and the mean after. */
  public DeviceBuffer buffer() {
    return own;
  }

  public long elements() {
    return elements;
  }

  /** The handle the other ranks open this arena by. */
  public byte[] handle() {
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
   * Maps every other rank's arena, {@code handles} by rank ({@code handles[rank]} is this one's and
   * is not opened).
   *
   * @throws CudaException when a handle cannot be opened (another device without peer access,
   *     a process of another host, an ended process)
   */
  public void open(byte[][] handles, int rank) {
    if (handles.length > MAX_RANKS || rank < 0 || rank >= handles.length) {
      throw new IllegalArgumentException("rank " + rank + " of " + handles.length + " ranks; the "
          + "device arena takes at most " + MAX_RANKS + " ranks");
    }
    context.bind();
    CUdeviceptr[] mapped = new CUdeviceptr[handles.length];
    try {
      for (int r = 0; r < handles.length; r++) {
        if (r == rank) {
          mapped[r] = own.pointer();
          continue;
        }
        if (handles[r].length != HANDLE_BYTES) {
          throw new IllegalArgumentException("rank " + r + "'s handle has " + handles[r].length
              + " bytes, expected " + HANDLE_BYTES);
        }
        CUipcMemHandle handle = new CUipcMemHandle();
        RESERVED.set(handle, handles[r].clone());
        CUdeviceptr pointer = new CUdeviceptr();
        Cuda.check(JCudaDriver.cuIpcOpenMemHandle(pointer, handle,
            CUipcMem_flags.CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS),
            "cuIpcOpenMemHandle(rank " + r + "'s arena)");
        mapped[r] = pointer;
      }
    } catch (IllegalAccessException e) {
      closeMapped(mapped, rank);
      throw new IllegalStateException("cannot set CUipcMemHandle's bytes", e);
    } catch (RuntimeException e) {
      closeMapped(mapped, rank);
      throw e;
    }
    this.ranks = mapped;
    this.rank = rank;
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

  /** Waits for this rank's device work, so that the other ranks may read what it wrote. */
  public void synchronize() {
    context.synchronize();
  }

  private void requireOpen(long from, long count) {
    if (ranks == null) {
      throw new IllegalStateException("the arena's peers are not open yet");
    }
    if (from < 0 || count < 0 || from + count > elements) {
      throw new IllegalArgumentException("[" + from + ", " + (from + count) + ") is outside an "
          + "arena of " + elements + " elements");
    }
  }

  /** Unmaps the other ranks' arenas and frees this one. */
  @Override
  public void close() {
    context.bind();
    if (ranks != null) {
      closeMapped(ranks, rank);
      ranks = null;
    }
    own.close();
  }

  private static void closeMapped(CUdeviceptr[] mapped, int rank) {
    for (int r = 0; r < mapped.length; r++) {
      if (r != rank && mapped[r] != null) {
        JCudaDriver.cuIpcCloseMemHandle(mapped[r]); // best effort: the mapping ends with us anyway
      }
    }
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
