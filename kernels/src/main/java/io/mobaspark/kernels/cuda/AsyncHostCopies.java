package io.mobaspark.kernels.cuda;

import io.mobaspark.kernels.HostCopy;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import jcuda.Pointer;
import jcuda.driver.CUevent;
import jcuda.driver.CUevent_flags;
import jcuda.driver.CUstream;
import jcuda.driver.CUstream_flags;
import jcuda.driver.JCudaDriver;

/**
 * {@code CudaBackend.readFloatsLater}: fp32 tensors copied to the host on a second stream, so that
 * the copy engine moves gradients while the compute stream runs on (docs/backend.md, "Copies that
 * overlap the compute"). A copy waits, by an event, for the work queued on the compute stream before
 * it, lands in pinned host memory (an asynchronous copy cannot target a Java array, which is pageable
 * and may move), and {@link HostCopy#await} moves it into the caller's arrays. Pinned buffers are
 * kept by size and reused: a training step asks for the same groups every step.
 */
final class AsyncHostCopies implements AutoCloseable {
  private final CudaContext context;
  /** Non-blocking: it must not wait for the legacy default stream's synchronous copies either. */
  private final CUstream copies = new CUstream();
  private final Map<Long, ArrayDeque<Pointer>> idle = new HashMap<>();
  /** Every pinned buffer, idle or not: a copy that is never awaited still frees its buffer. */
  private final List<Pointer> allocated = new ArrayList<>();
  private long pinnedBytes;

  AsyncHostCopies(CudaContext context) {
    this.context = context;
    context.bind();
    Cuda.check(JCudaDriver.cuStreamCreate(copies, CUstream_flags.CU_STREAM_NON_BLOCKING),
        "cuStreamCreate(copy stream)");
  }

  /** Starts the copies of {@code src} (fp32, each at most 2 GiB in all) into {@code dst}. */
  HostCopy start(List<CudaTensor> src, List<float[]> dst) {
    long bytes = 0;
    for (int i = 0; i < src.size(); i++) {
      src.get(i).shape().requireNumel(dst.get(i).length);
      bytes += 4L * dst.get(i).length;
    }
    if (bytes > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("one asynchronous host copy moves at most 2 GiB, these "
          + src.size() + " tensors hold " + bytes + " bytes");
    }
    context.bind();
    Pointer pinned = take(bytes);
    CUevent written = event();
    Cuda.check(JCudaDriver.cuEventRecord(written, context.stream()), "cuEventRecord(written)");
    Cuda.check(JCudaDriver.cuStreamWaitEvent(copies, written, 0), "cuStreamWaitEvent(written)");
    long offset = 0;
    for (CudaTensor t : src) {
      long n = 4L * t.numel();
      Cuda.check(JCudaDriver.cuMemcpyDtoHAsync(pinned.withByteOffset(offset), t.buffer().pointer(),
          n, copies), "cuMemcpyDtoHAsync(" + t.name() + ", " + n + " bytes)");
      offset += n;
    }
    CUevent landed = event();
    Cuda.check(JCudaDriver.cuEventRecord(landed, copies), "cuEventRecord(landed)");
    long size = bytes;
    boolean[] awaited = {false};
    return () -> {
      synchronized (awaited) {
        if (awaited[0]) {
          return;
        }
        awaited[0] = true;
      }
      context.bind();
      Cuda.check(JCudaDriver.cuEventSynchronize(landed), "cuEventSynchronize(host copy of "
          + src.size() + " tensors, " + size + " bytes)");
      FloatBuffer from = pinned.getByteBuffer(0, size).order(ByteOrder.nativeOrder()).asFloatBuffer();
      for (float[] d : dst) {
        from.get(d);
      }
      Cuda.check(JCudaDriver.cuEventDestroy(written), "cuEventDestroy");
      Cuda.check(JCudaDriver.cuEventDestroy(landed), "cuEventDestroy");
      give(size, pinned);
    };
  }

  /** Page-locked host memory held for these copies, in bytes (idle or in use). */
  synchronized long pinnedBytes() {
    return pinnedBytes;
  }

  private static CUevent event() {
    CUevent e = new CUevent();
    Cuda.check(JCudaDriver.cuEventCreate(e, CUevent_flags.CU_EVENT_DISABLE_TIMING), "cuEventCreate");
    return e;
  }

  private synchronized Pointer take(long bytes) {
    ArrayDeque<Pointer> free = idle.get(bytes);
    if (free != null && !free.isEmpty()) {
      return free.pop();
    }
    Pointer p = new Pointer();
    Cuda.check(JCudaDriver.cuMemHostAlloc(p, Math.max(1, bytes), 0),
        "cuMemHostAlloc(" + bytes + " bytes)");
    pinnedBytes += bytes;
    allocated.add(p);
    return p;
  }

  private synchronized void give(long bytes, Pointer p) {
    idle.computeIfAbsent(bytes, b -> new ArrayDeque<>()).push(p);
  }

  /** Frees the pinned buffers; copies still under way are waited for first. */
  @Override
  public synchronized void close() {
    context.bind();
    Cuda.check(JCudaDriver.cuStreamSynchronize(copies), "cuStreamSynchronize(copy stream)");
    for (Pointer p : allocated) {
      Cuda.check(JCudaDriver.cuMemFreeHost(p), "cuMemFreeHost");
    }
    allocated.clear();
    idle.clear();
    pinnedBytes = 0;
    Cuda.check(JCudaDriver.cuStreamDestroy(copies), "cuStreamDestroy(copy stream)");
  }
}
