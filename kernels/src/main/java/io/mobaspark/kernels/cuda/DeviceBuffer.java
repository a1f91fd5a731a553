package io.mobaspark.kernels.cuda;

import java.util.List;
import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.JCudaDriver;

/**
 * Device memory of a fixed byte size. Host copies are synchronous (Java arrays are pageable and may
 * move, so they cannot be the source of an asynchronous copy); device-side ops run on the stream.
 */
public final class DeviceBuffer implements AutoCloseable {
  private final CudaContext context;
  private final CUdeviceptr pointer = new CUdeviceptr();
  private final long bytes;
  private boolean freed;

  DeviceBuffer(CudaContext context, long bytes) {
    if (bytes < 0) {
      throw new IllegalArgumentException("cannot allocate " + bytes + " bytes");
    }
    this.context = context;
    this.bytes = bytes;
    // cuMemAlloc rejects 0 bytes; an empty tensor still gets a valid (1-byte) allocation.
    Cuda.check(JCudaDriver.cuMemAlloc(pointer, Math.max(1, bytes)), "cuMemAlloc(" + bytes + " bytes)");
  }

  public long bytes() {
    return bytes;
  }

  CUdeviceptr pointer() {
    if (freed) {
      throw new IllegalStateException("device buffer of " + bytes + " bytes was already freed");
    }
    return pointer;
  }

  /** Host float32 values into the buffer, from its start. */
  public void write(float[] src) {
    copyIn(Pointer.to(src), 4L * src.length);
  }

  /** Host bf16 bit patterns ({@link Bf16}) into the buffer. */
  public void write(short[] src) {
    copyIn(Pointer.to(src), 2L * src.length);
  }

  public void write(int[] src) {
    copyIn(Pointer.to(src), 4L * src.length);
  }

  public void write(long[] src) {
    copyIn(Pointer.to(src), 8L * src.length);
  }

  /** The device addresses of {@code buffers}, 8 bytes each, into the buffer (a table for kernels). */
  void writeAddresses(List<DeviceBuffer> buffers) {
    CUdeviceptr[] addresses = new CUdeviceptr[buffers.size()];
    for (int i = 0; i < addresses.length; i++) {
      addresses[i] = buffers.get(i).pointer();
    }
    copyIn(Pointer.to(addresses), 8L * addresses.length);
  }

  /** The first {@code dst.length} float32 values. */
  public void read(float[] dst) {
    copyOut(Pointer.to(dst), 4L * dst.length);
  }

  public void read(short[] dst) {
    copyOut(Pointer.to(dst), 2L * dst.length);
  }

  public void read(int[] dst) {
    copyOut(Pointer.to(dst), 4L * dst.length);
  }

  public void read(double[] dst) {
    copyOut(Pointer.to(dst), 8L * dst.length);
  }

  /** Sets every byte to zero, on the stream. */
  public void zero() {
    context.bind();
    Cuda.check(JCudaDriver.cuMemsetD8Async(pointer(), (byte) 0, bytes, context.stream()),
        "cuMemsetD8Async(" + bytes + " bytes)");
  }

  /** Copies the first {@code count} bytes of {@code src} here, on the stream. */
  public void copyFrom(DeviceBuffer src, long count) {
    requireRange(count);
    src.requireRange(count);
    context.bind();
    Cuda.check(JCudaDriver.cuMemcpyDtoDAsync(pointer(), src.pointer(), count, context.stream()),
        "cuMemcpyDtoDAsync(" + count + " bytes)");
  }

  private void copyIn(Pointer host, long count) {
    requireRange(count);
    context.synchronize();
    Cuda.check(JCudaDriver.cuMemcpyHtoD(pointer(), host, count), "cuMemcpyHtoD(" + count + " bytes)");
  }

  private void copyOut(Pointer host, long count) {
    requireRange(count);
    context.synchronize();
    Cuda.check(JCudaDriver.cuMemcpyDtoH(host, pointer(), count), "cuMemcpyDtoH(" + count + " bytes)");
  }

  private void requireRange(long count) {
    if (count > bytes) {
      throw new IllegalArgumentException(
          "copy of " + count + " bytes does not fit a device buffer of " + bytes + " bytes");
    }
  }

  @Override
  public void close() {
    if (!freed) {
      context.bind();
      Cuda.check(JCudaDriver.cuMemFree(pointer), "cuMemFree(" + bytes + " bytes)");
      freed = true;
    }
  }
}
