package io.mobaspark.kernels.cuda;

import static jcuda.driver.CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR;
import static jcuda.driver.CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR;
import static jcuda.driver.CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK;
import static jcuda.driver.CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN;
import static jcuda.driver.CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT;

import java.nio.charset.StandardCharsets;
import jcuda.driver.CUdevice;
import jcuda.driver.JCudaDriver;

/** One GPU by ordinal, with the properties the launchers need. */
public final class CudaDevice {
  private final int ordinal;
  private final CUdevice handle;
  private final String name;
  private final int major;
  private final int minor;
  private final int multiprocessors;
  private final int sharedPerBlock;
  private final int sharedPerBlockOptIn;
  private final long totalMemory;

  private CudaDevice(int ordinal, CUdevice handle) {
    this.ordinal = ordinal;
    this.handle = handle;
    byte[] raw = new byte[256];
    Cuda.check(JCudaDriver.cuDeviceGetName(raw, raw.length, handle), "cuDeviceGetName");
    int len = 0;
    while (len < raw.length && raw[len] != 0) {
      len++;
    }
    this.name = new String(raw, 0, len, StandardCharsets.US_ASCII);
    this.major = attribute(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR);
    this.minor = attribute(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
    this.multiprocessors = attribute(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
    this.sharedPerBlock = attribute(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK);
    this.sharedPerBlockOptIn = attribute(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN);
    long[] bytes = new long[1];
    Cuda.check(JCudaDriver.cuDeviceTotalMem(bytes, handle), "cuDeviceTotalMem");
    this.totalMemory = bytes[0];
  }

  /**
   * True when JCuda's native library loads, the driver initializes and at least one device exists.
   * Without a driver JCuda throws {@link UnsatisfiedLinkError}, an Error: this is the one place that
   * catches Throwable, so that {@code auto} falls back to the CPU backend.
   */
  public static boolean available() {
    try {
      return count() > 0;
    } catch (Throwable noDriver) {
      return false;
    }
  }

  /** Devices the driver sees; initializes the driver (idempotent). */
  public static int count() {
    JCudaDriver.setExceptionsEnabled(false);
    Cuda.check(JCudaDriver.cuInit(0), "cuInit");
    int[] n = new int[1];
    Cuda.check(JCudaDriver.cuDeviceGetCount(n), "cuDeviceGetCount");
    return n[0];
  }

  /** The device with this ordinal; throws naming the ordinal and the count when out of range. */
  public static CudaDevice get(int ordinal) {
    int n = count();
    if (ordinal < 0 || ordinal >= n) {
      throw new IllegalArgumentException(
          "CUDA device ordinal " + ordinal + " is out of range: the driver sees " + n + " device(s)");
    }
    CUdevice handle = new CUdevice();
    Cuda.check(JCudaDriver.cuDeviceGet(handle, ordinal), "cuDeviceGet(" + ordinal + ")");
    return new CudaDevice(ordinal, handle);
  }

  private int attribute(int attribute) {
    int[] value = new int[1];
    Cuda.check(JCudaDriver.cuDeviceGetAttribute(value, attribute, handle),
        "cuDeviceGetAttribute(" + attribute + ")");
    return value[0];
  }

  CUdevice handle() {
    return handle;
  }

  public int ordinal() {
    return ordinal;
  }

  public String name() {
    return name;
  }

  /** Compute capability, e.g. 9 and 0 for an H100. */
  public int major() {
    return major;
  }

  public int minor() {
    return minor;
  }

  public int multiprocessors() {
    return multiprocessors;
  }

  /** Shared memory a block gets without opting in (48 KiB). */
  public int sharedPerBlock() {
    return sharedPerBlock;
  }

  /** The most shared memory a block can opt in to. */
  public int sharedPerBlockOptIn() {
    return sharedPerBlockOptIn;
  }

  public long totalMemory() {
    return totalMemory;
  }

  @Override
  public String toString() {
    return "cuda:" + ordinal + " " + name + " (sm_" + major + minor + ", " + multiprocessors
        + " SMs, " + (totalMemory >> 20) + " MiB)";
  }
}
