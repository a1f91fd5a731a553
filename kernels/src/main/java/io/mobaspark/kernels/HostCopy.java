package io.mobaspark.kernels;

/**
 * A device-to-host copy under way ({@link Backend#readFloatsLater}). {@link #await} may be called
 * from any thread, once; it returns when the destination arrays hold the values.
 */
@FunctionalInterface
public interface HostCopy {
  /** A copy that was made before it was returned. */
  HostCopy DONE = () -> {};

  /** Waits for the copy; a device error of the copy is thrown here. */
  void await();
}
