package io.mobaspark.kernels.cuda;

import java.util.LinkedHashMap;
import java.util.Map;
import jcuda.driver.CUcontext;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;

/**
 * The device's primary context (the one the CUDA runtime and other libraries share), one stream
 * that every launch and copy of this backend is ordered on, and the loaded kernel modules.
 * Driver calls act on the calling thread's current context, so every entry point calls
 * {@link #bind()} first; that makes the context usable from any thread (one at a time).
 */
public final class CudaContext implements AutoCloseable {
  /** System property: synchronize after every launch, so an error names the kernel that caused it. */
  public static final String CHECK_LAUNCHES = "mobaspark.cuda.checkLaunches";

  private final CudaDevice device;
  private final CUcontext context = new CUcontext();
  private final CUstream stream = new CUstream();
  private final Map<String, CudaModule> modules = new LinkedHashMap<>();
  private final boolean checkEveryLaunch = Boolean.getBoolean(CHECK_LAUNCHES);
  private boolean closed;

  public CudaContext(CudaDevice device) {
    this.device = device;
    Cuda.check(JCudaDriver.cuDevicePrimaryCtxRetain(context, device.handle()),
        "cuDevicePrimaryCtxRetain(" + device.ordinal() + ")");
    bind();
    // A blocking stream (flags 0): it orders with the legacy default stream, which the synchronous
    // host copies use, so no copy overtakes a kernel that writes its source.
    Cuda.check(JCudaDriver.cuStreamCreate(stream, 0), "cuStreamCreate");
  }

  /** Opens device {@code ordinal}. */
  public static CudaContext open(int ordinal) {
    return new CudaContext(CudaDevice.get(ordinal));
  }

  public CudaDevice device() {
    return device;
  }

  CUstream stream() {
    return stream;
  }

  /** The primary context itself, for calls that name a peer's context (PeerAccess). */
  CUcontext handle() {
    return context;
  }

  boolean checkEveryLaunch() {
    return checkEveryLaunch;
  }

  /** Makes this context current on the calling thread. */
  public void bind() {
    if (closed) {
      throw new IllegalStateException("CUDA context of " + device + " is closed");
    }
    Cuda.check(JCudaDriver.cuCtxSetCurrent(context), "cuCtxSetCurrent");
  }

  /** Waits for all work on the stream; reports errors of kernels that already ran. */
  public void synchronize() {
    bind();
    Cuda.check(JCudaDriver.cuStreamSynchronize(stream), "cuStreamSynchronize");
  }

  /** The kernel file {@code name} ({@code NAME.cu}), loaded once. */
  public synchronized CudaModule module(String name) {
    CudaModule module = modules.get(name);
    if (module == null) {
      bind();
      module = new CudaModule(this, name);
      modules.put(name, module);
    }
    return module;
  }

  /** Shorthand for {@code module(moduleName).kernel(kernelName)}. */
  public CudaKernel kernel(String moduleName, String kernelName) {
    return module(moduleName).kernel(kernelName);
  }

  /** Uninitialized device memory of {@code bytes} bytes. */
  public DeviceBuffer allocate(long bytes) {
    bind();
    return new DeviceBuffer(this, bytes);
  }

  /** Free and total device memory in bytes, as the driver reports them. */
  public long[] memoryInfo() {
    bind();
    long[] free = new long[1];
    long[] total = new long[1];
    Cuda.check(JCudaDriver.cuMemGetInfo(free, total), "cuMemGetInfo");
    return new long[] {free[0], total[0]};
  }

  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    // Released even after a sticky error (CloseAll): the primary context goes once the last
    // holder of this process releases it, and the next open gets a fresh one.
    CloseAll.run(this::bind,
        () -> Cuda.check(JCudaDriver.cuStreamSynchronize(stream), "cuStreamSynchronize"),
        this::closeModules,
        () -> Cuda.check(JCudaDriver.cuStreamDestroy(stream), "cuStreamDestroy"),
        () -> {
          closed = true;
          Cuda.check(JCudaDriver.cuDevicePrimaryCtxRelease(device.handle()),
              "cuDevicePrimaryCtxRelease");
        });
  }

  private void closeModules() {
    try {
      CloseAll.run(modules.values().stream().<CloseAll.Step>map(m -> m::close)
          .toArray(CloseAll.Step[]::new));
    } finally {
      modules.clear();
    }
  }
}
