package io.mobaspark.kernels.cuda;

import jcuda.driver.CUevent;
import jcuda.driver.JCudaDriver;

/** Device time between two events on the context's stream: {@code start(); ...; stopMillis()}. */
public final class CudaTimer implements AutoCloseable {
  private final CudaContext context;
  private final CUevent start = new CUevent();
  private final CUevent stop = new CUevent();

  public CudaTimer(CudaContext context) {
    this.context = context;
    context.bind();
    Cuda.check(JCudaDriver.cuEventCreate(start, 0), "cuEventCreate");
    Cuda.check(JCudaDriver.cuEventCreate(stop, 0), "cuEventCreate");
  }

  public void start() {
    context.bind();
    Cuda.check(JCudaDriver.cuEventRecord(start, context.stream()), "cuEventRecord(start)");
  }

  /** Records the stop event, waits for it, and returns the milliseconds since {@link #start()}. */
  public double stopMillis() {
    context.bind();
    Cuda.check(JCudaDriver.cuEventRecord(stop, context.stream()), "cuEventRecord(stop)");
    Cuda.check(JCudaDriver.cuEventSynchronize(stop), "cuEventSynchronize");
    float[] ms = new float[1];
    Cuda.check(JCudaDriver.cuEventElapsedTime(ms, start, stop), "cuEventElapsedTime");
    return ms[0];
  }

  @Override
  public void close() {
    context.bind();
    Cuda.check(JCudaDriver.cuEventDestroy(start), "cuEventDestroy");
    Cuda.check(JCudaDriver.cuEventDestroy(stop), "cuEventDestroy");
  }
}
