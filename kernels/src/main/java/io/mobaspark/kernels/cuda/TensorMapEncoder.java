package io.mobaspark.kernels.cuda;

import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import jcuda.Pointer;
import jcuda.driver.CUpointer_attribute;
import jcuda.driver.JCudaDriver;

/**
 * Makes the 128-byte tensor maps (CUtensorMap) of the TMA GEMM kernel by calling the driver's
 * {@code cuTensorMapEncodeTiled} in libcuda.so.1 through JNA: JCuda 12.6 binds neither the call nor
 * the type. GemmCuda creates one at its first TMA launch, so JNA and its native part load only where
 * that kernel runs (never on a machine without a GPU).
 *
 * <p>Maps are encoded for every launch, not cached: an encode is a host-only call of a few
 * microseconds that the launch queue hides behind the GPU's work (the products take 0.1-8 ms), and a
 * map that is made from the operand's current address and shape cannot go stale when a buffer is
 * freed and its address reused. The map travels to the kernel by value as a parameter, so the bytes
 * returned may be reused as soon as the launch call returns.
 */
final class TensorMapEncoder {
  /** sizeof(CUtensorMap). */
  static final int MAP_BYTES = 128;
  /** The driver wants the map's address 64-byte aligned; cuda.h aligns the type to 128. */
  private static final int MAP_ALIGNMENT = 128;

  /**
   * The one entry point used, with C types as Java ones (enums and cuuint32_t: int; void*: long).
   * JNA's direct mapping (a native method bound at class initialization): about 1 us per call against
   * 5 us through an interface proxy (a stub libcuda on the development machine).
   */
  static final class Driver {
    static {
      Native.register(Driver.class, NativeLibrary.getInstance("libcuda.so.1"));
    }

    private Driver() {}

    /** Runs the class initialization, which binds the entry point (or fails). */
    static void link() {}

    static native int cuTensorMapEncodeTiled(com.sun.jna.Pointer tensorMap, int dataType, int rank,
        long globalAddress, long[] globalDim, long[] globalStrides, int[] boxDim,
        int[] elementStrides, int interleave, int swizzle, int l2Promotion, int oobFill);
  }

  private final CudaContext context;
  private final Memory scratch = new Memory(MAP_BYTES + MAP_ALIGNMENT);
  private final Memory map = scratch.align(MAP_ALIGNMENT);

  TensorMapEncoder(CudaContext context) {
    this.context = context;
    try {
      Driver.link();
    } catch (LinkageError e) {
      throw new IllegalStateException("the TMA GEMM kernel needs cuTensorMapEncodeTiled from "
          + "libcuda.so.1, which JNA could not load: " + e.getMessage(), e);
    }
  }

  /**
   * The map of {@code layout} over the bf16 matrix at {@code byteOffset} into {@code buffer}; throws
   * a {@link CudaException} naming the operand, its shape and box and the driver's result.
   */
  byte[] encode(GemmTensorMap layout, DeviceBuffer buffer, long byteOffset) {
    long address = address(buffer) + byteOffset;
    int result = Driver.cuTensorMapEncodeTiled(map, GemmTensorMap.DATA_TYPE_BFLOAT16, 2, address,
        layout.globalDims(), layout.globalStrideBytes(), layout.boxDims(), layout.elementStrides(),
        GemmTensorMap.INTERLEAVE_NONE, GemmTensorMap.SWIZZLE_128B, GemmTensorMap.L2_PROMOTION_256B,
        GemmTensorMap.OOB_FILL_NONE);
    if (result != 0) {
      throw new CudaException("cuTensorMapEncodeTiled of operand " + layout.describe() + " at 0x"
          + Long.toHexString(address) + " failed: " + Cuda.describe(result), result);
    }
    return map.getByteArray(0, MAP_BYTES);
  }

  /** The buffer's device address as a number (JCuda keeps it inside CUdeviceptr). */
  private long address(DeviceBuffer buffer) {
    long[] value = new long[1];
    context.bind();
    Cuda.check(JCudaDriver.cuPointerGetAttribute(Pointer.to(value),
        CUpointer_attribute.CU_POINTER_ATTRIBUTE_DEVICE_POINTER, buffer.pointer()),
        "cuPointerGetAttribute(DEVICE_POINTER) of a GEMM operand");
    return value[0];
  }
}
