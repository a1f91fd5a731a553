package io.mobaspark.kernels.cuda;

import java.util.ArrayList;
import java.util.List;
import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;

/**
 * The parameters of one kernel launch, in the order of the kernel's C signature. Types must match
 * the signature exactly ({@code long} for a C {@code long}, {@code int} for {@code int}): the driver
 * copies raw bytes and cannot check.
 */
public final class KernelArgs {
  private final List<Pointer> values = new ArrayList<>();

  public KernelArgs ptr(DeviceBuffer buffer) {
    values.add(Pointer.to(buffer.pointer()));
    return this;
  }

  /**
   * The address {@code byteOffset} bytes into {@code buffer}: for two arrays that share one
   * allocation (JCuda adds a pointer's byte offset when it passes the address).
   */
  public KernelArgs ptr(DeviceBuffer buffer, long byteOffset) {
    if (byteOffset < 0 || byteOffset > buffer.bytes()) {
      throw new IllegalArgumentException("byte offset " + byteOffset
          + " is outside a device buffer of " + buffer.bytes() + " bytes");
    }
    values.add(Pointer.to(buffer.pointer().withByteOffset(byteOffset)));
    return this;
  }

  /** A device address that no {@link DeviceBuffer} of this process owns (DeviceArena's peers). */
  KernelArgs ptr(CUdeviceptr address) {
    values.add(Pointer.to(address));
    return this;
  }

  public KernelArgs i32(int value) {
    values.add(Pointer.to(new int[] {value}));
    return this;
  }

  public KernelArgs i64(long value) {
    values.add(Pointer.to(new long[] {value}));
    return this;
  }

  public KernelArgs f32(float value) {
    values.add(Pointer.to(new float[] {value}));
    return this;
  }

  public KernelArgs f64(double value) {
    values.add(Pointer.to(new double[] {value}));
    return this;
  }

  /**
   * A struct passed by value, as its bytes: the driver copies the parameter's size from them (a
   * 128-byte CUtensorMap of a {@code __grid_constant__} parameter).
   */
  KernelArgs struct(byte[] bytes) {
    values.add(Pointer.to(bytes));
    return this;
  }

  /** The {@code void**} array {@code cuLaunchKernel} takes. */
  Pointer toPointer() {
    return Pointer.to(values.toArray(new Pointer[0]));
  }
}
