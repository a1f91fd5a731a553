package io.mobaspark.kernels.cuda;

import java.util.HashMap;
import java.util.Map;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import jcuda.driver.JCudaDriver;

/** One loaded kernel file and the kernels found in it so far. */
public final class CudaModule implements AutoCloseable {
  private final String name;
  private final String file;
  private final CUmodule handle;
  private final CudaContext context;
  private final Map<String, CudaKernel> kernels = new HashMap<>();

  CudaModule(CudaContext context, String name) {
    this.context = context;
    this.name = name;
    CudaDevice device = context.device();
    ModuleImages.Image image = ModuleImages.load(name, device.major(), device.minor());
    this.file = image.file();
    this.handle = new CUmodule();
    Cuda.check(JCudaDriver.cuModuleLoadData(handle, image.bytes()), "cuModuleLoadData(" + file + ")");
  }

  /** The image that was loaded, e.g. {@code kconv.sm_90a.cubin}. */
  public String file() {
    return file;
  }

  /** The {@code extern "C"} kernel of this name. */
  public synchronized CudaKernel kernel(String kernelName) {
    return kernels.computeIfAbsent(kernelName, k -> {
      CUfunction function = new CUfunction();
      Cuda.check(JCudaDriver.cuModuleGetFunction(function, handle, k),
          "cuModuleGetFunction(" + file + ", " + k + ")");
      return new CudaKernel(context, name + "." + k, function);
    });
  }

  @Override
  public void close() {
    Cuda.check(JCudaDriver.cuModuleUnload(handle), "cuModuleUnload(" + file + ")");
  }
}
