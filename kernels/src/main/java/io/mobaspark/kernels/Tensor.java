package io.mobaspark.kernels;

/**
 * A dense row-major array of real numbers that lives in one {@link Backend}'s memory (Java heap for
 * the CPU backend, device memory for CUDA). Only the backend that made it may read or write it.
 */
public abstract class Tensor implements AutoCloseable {
  private final Shape shape;

  protected Tensor(Shape shape) {
    this.shape = shape;
  }

  public final Shape shape() {
    return shape;
  }

  public final String name() {
    return shape.name();
  }

  public final int dim(int axis) {
    return shape.dim(axis);
  }

  public final long numel() {
    return shape.numel();
  }

  /** Releases device memory; a no-op on the heap. */
  @Override
  public void close() {}

  @Override
  public String toString() {
    return shape.toString();
  }
}
