package io.mobaspark.kernels;

/** A dense row-major array of 32-bit integers (token ids, targets, block indices) in a backend. */
public abstract class IntTensor implements AutoCloseable {
  private final Shape shape;

  protected IntTensor(Shape shape) {
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

  @Override
  public void close() {}

  @Override
  public String toString() {
    return shape.toString();
  }
}
