package io.mobaspark.kernels.cuda;

/**
 * A failed CUDA driver call. The message names the call, its result code and, for kernel launches,
 * the kernel and its launch shape, so that a failure far from its cause still says what ran.
 */
public final class CudaException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final int result;

  public CudaException(String message, int result) {
    super(message);
    this.result = result;
  }

  /** The driver's {@code CUresult} code (0 = success is never thrown). */
  public int result() {
    return result;
  }
}
