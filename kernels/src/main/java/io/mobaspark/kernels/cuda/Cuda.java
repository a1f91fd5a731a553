package io.mobaspark.kernels.cuda;

import jcuda.driver.CUresult;
import jcuda.driver.JCudaDriver;

/** Checks the result code of every driver call: JCuda's own exceptions stay off. */
final class Cuda {
  private Cuda() {}

  /** Throws a {@link CudaException} naming {@code call} unless {@code result} is success. */
  static void check(int result, String call) {
    if (result != CUresult.CUDA_SUCCESS) {
      throw new CudaException(call + " failed: " + describe(result), result);
    }
  }

  /** {@code CUDA_ERROR_X (code): driver text}. */
  static String describe(int result) {
    String[] text = new String[1];
    String detail = JCudaDriver.cuGetErrorString(result, text) == CUresult.CUDA_SUCCESS
        && text[0] != null ? ": " + text[0] : "";
    return CUresult.stringFor(result) + " (" + result + ")" + detail;
  }
}
