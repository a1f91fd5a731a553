package io.mobaspark.kernels.cuda;

import java.lang.reflect.Field;
import java.util.HexFormat;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import jcuda.Pointer;
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
 * open a handle in the process that exported it: ranks that are threads of one process use each
 * other's arenas directly, and must then share a GPU.
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
  /**
   * The arenas this process has exported, by handle: CUDA refuses to open a handle in the process
   * that made it, so ranks that are threads of one process (Spark local mode, an executor running
   * several tasks) use each other's memory directly, on the same device.
   */
  private static final Map<String, IpcArena> EXPORTED = new ConcurrentHashMap<>();

  private final CudaContext context;
  private final DeviceBuffer own;
  private final long elements;
  /** By rank, once {@link #open}ed: the other ranks' arenas mapped here, this rank's own. */
  private CUdeviceptr[] ranks;
  /** By rank: whether {@link #ranks} holds a mapping this arena opened (and must close). */
  private boolean[] opened;
  private String exportedAs;
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
      byte[] bytes = ((byte[]) RESERVED.get(handle)).clone();
      exportedAs = HexFormat.of().formatHex(bytes);
      EXPORTED.put(exportedAs, this);
      return bytes;
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
    boolean[] mine = new boolean[handles.length];
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
        IpcArena local = EXPORTED.get(HexFormat.of().formatHex(handles[r]));
        if (local != null) {
          if (local.context.device().ordinal() != context.device().ordinal()) {
            throw new IllegalArgumentException("rank " + r + " is a thread of this process on "
                + local.context.device() + ", this rank on " + context.device() + ": ranks that "
                + "share a process must share a GPU (or run as processes of their own)");
          }
          mapped[r] = local.own.pointer();
          continue;
        }
        CUipcMemHandle handle = new CUipcMemHandle();
        RESERVED.set(handle, handles[r].clone());
        CUdeviceptr pointer = new CUdeviceptr();
        Cuda.check(JCudaDriver.cuIpcOpenMemHandle(pointer, handle,
            CUipcMem_flags.CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS),
            "cuIpcOpenMemHandle(rank " + r + "'s arena)");
        mapped[r] = pointer;
        mine[r] = true;
      }
    } catch (IllegalAccessException e) {
      closeMapped(mapped, mine);
      throw new IllegalStateException("cannot set CUipcMemHandle's bytes", e);
    } catch (RuntimeException e) {
      closeMapped(mapped, mine);
      throw e;
    }
    this.ranks = mapped;
    this.opened = mine;
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
    if (exportedAs != null) {
      EXPORTED.remove(exportedAs);
    }
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
